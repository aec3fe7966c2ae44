"""The hardware bus: MicroPython's machine.I2C/UART/Pin and time reach host-side models on virtual time."""

from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.devices import I2CDevice, UARTDevice
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.runtime import run


class Regs(I2CDevice):
    """A register file: write [reg, data...] stores, write [reg] then read returns from reg on."""

    addr = 0x44

    def __init__(self, clock):
        super().__init__(clock)
        self.mem = bytearray(range(256))
        self.ptr = 0

    def write(self, data):
        self.ptr = data[0]
        for i, b in enumerate(data[1:]):
            self.mem[(self.ptr + i) & 0xFF] = b
        return True

    def read(self, n):
        return bytes(self.mem[(self.ptr + i) & 0xFF] for i in range(n))


class Echo(UARTDevice):
    """Answers each line after 50 ms of virtual time, upper-cased."""

    def __init__(self, clock):
        super().__init__(clock)
        self.pending = []
        self.buf = b""

    def write(self, data):
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.pending.append((self.now_ms() + 50, line.upper() + b"\n"))

    def poll(self, now_ms):
        due = [p for p in self.pending if p[0] <= now_ms]
        for p in due:
            self.pending.remove(p)
            self.emit(p[1])


def test_machine_shims_reach_models_on_virtual_time():
    clock = VirtualClock(start_ms=1_000_000_000_000)
    pins = []
    bus = HwBus(clock, i2c={0: {0x44: Regs(clock)}}, uart={1: Echo(clock)},
                on_pin=lambda p, v, t: pins.append((p, v)))
    try:
        code = """
import machine, time
i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21))
print(i2c.scan())
i2c.writeto_mem(0x44, 0x10, b'\\x01\\x02')
print(list(i2c.readfrom_mem(0x44, 0x0f, 4)))
try:
    i2c.readfrom(0x45, 1)
except OSError as e:
    print('nack', e.errno)
try:
    i2c.readfrom_mem(0x45, 0x0f, 1)  # one request (I2C_READ with the register): the address write NACKs
except OSError as e:
    print('nack', e.errno)
buf = bytearray(2)
i2c.readfrom_mem_into(0x44, 0x11, buf)
print(list(buf), list(i2c.readfrom(0x44, 1)))  # the register pointer stays where readfrom_mem set it
u = machine.UART(1, 115200, timeout=200)
t0 = time.ticks_ms()
u.write(b'at\\n')
print(u.read(), time.ticks_diff(time.ticks_ms(), t0))
machine.Pin(4, machine.Pin.OUT).value(1)
print(time.time())
"""
        r = run(code, bus=bus)
        assert r.rc == 0, r.err
        lines = r.out.splitlines()
        assert lines[0] == "[68]"
        assert lines[1] == "[15, 1, 2, 18]"
        assert lines[2] == "nack 19"
        assert lines[3] == "nack 19"
        assert lines[4] == "[2, 18] [2]"
        assert lines[5].startswith("b'AT\\n'")
        assert 50 <= int(lines[5].split()[-1]) <= 60  # the reply came after 50 ms of virtual time
        assert pins == [(4, 1)]
        assert int(lines[6]) == clock.now_ms() // 1000
    finally:
        bus.close()


def test_without_simulator_time_is_the_ports_own():
    r = run("import time; t = time.ticks_ms(); time.sleep_ms(5); print(time.ticks_diff(time.ticks_ms(), t) >= 5)")
    assert r.rc == 0, r.err
    assert r.out.strip() == "True"
