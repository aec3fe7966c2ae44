# machine for the virtual board: the ESP32 port's API (docs.micropython.org, "Quick reference for the ESP32"
# and the machine module pages), routed to the simulator's models over the hardware bus (_hwbus).
# Same names, signatures and errors: an I2C NACK raises OSError(ENODEV) as the ESP32 port does.
import _hwbus
import micropython
import struct
import sys

import time


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=-1, *, value=None, hold=None):
        self.id = id
        self._mode = mode
        self.init(mode, pull, value=value, hold=hold)

    def init(self, mode=-1, pull=-1, *, value=None, hold=None):
        # As the ESP32 port's machine_pin_obj_init_helper: a held pad is released first, the new settings applied,
        # then held again when hold=True; while held, the pad keeps its level and writes to it change nothing
        # (docs.micropython.org, ESP32 quick reference, "Pins and GPIO": hold).
        was = self.id in _held
        _held.discard(self.id)
        if mode != -1:
            self._mode = mode
        if value is not None:
            self.value(value)
        if hold or (hold is None and was):
            _held.add(self.id)

    def value(self, v=None):
        if v is None:
            return _hwbus.call(_hwbus.PIN_READ, bytes([self.id]))[0]
        if self.id in _held:
            return
        _hwbus.call(_hwbus.PIN_WRITE, bytes([self.id, 1 if v else 0]))

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, priority=1, wake=None, hard=False):
        # As the ESP32 port's machine_pin_irq: a level trigger (WAKE_LOW/WAKE_HIGH) with wake= makes the pin a wake
        # source and registers no handler; otherwise the handler runs, soft, on each edge of the trigger
        # (IRQ_RISING | IRQ_FALLING by default), whatever the program is doing (sim/mpy/_irq.py); None turns it off.
        import _irq

        if wake is not None and trigger in (Pin.WAKE_LOW, Pin.WAKE_HIGH):
            _wake_pins[str(self.id)] = [1 if trigger == Pin.WAKE_HIGH else 0, wake]
            _wake_conf()
            return _IRQ(self)
        if handler is None:
            trigger = 0
            _irq.pins.pop(self.id, None)
        else:
            _irq.pins[self.id] = (self, handler)
        _irqs[self.id] = (self, handler, trigger)
        _hwbus.call(_hwbus.PIN_IRQ, bytes([self.id, trigger & 3]))
        return _IRQ(self)

    def __repr__(self):
        return "Pin(%d)" % self.id


_held = set()  # pads held with Pin.init(hold=True)


def _pin_id(p):
    return p if isinstance(p, int) else (p.id if p is not None else 0)


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self._bus = id
        self.freq = freq

    def init(self, *, scl=None, sda=None, freq=400000):
        self.freq = freq

    def deinit(self):
        pass

    def scan(self):
        return list(_hwbus.call(_hwbus.I2C_SCAN, bytes([self._bus])))

    def writeto(self, addr, buf, stop=True):
        _hwbus.call(_hwbus.I2C_WRITE, bytes([self._bus, addr]) + bytes(buf))
        return len(buf) + 1  # ACKs received: the address and every byte

    def writevto(self, addr, vector, stop=True):
        return self.writeto(addr, b"".join(bytes(b) for b in vector), stop)

    def readfrom(self, addr, nbytes, stop=True):
        return _hwbus.call(_hwbus.I2C_READ, struct.pack(">BBH", self._bus, addr, nbytes))

    def readfrom_into(self, addr, buf, stop=True):
        data = self.readfrom(addr, len(buf), stop)
        buf[: len(data)] = data

    def _memaddr(self, memaddr, addrsize):
        return memaddr.to_bytes(addrsize // 8, "big")

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self.writeto(addr, self._memaddr(memaddr, addrsize) + bytes(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        # one transaction on the ESP32 (C), one request here: I2C_READ with the register address writes it first
        # (a NACK of either raises as before); no callback can run between the two
        return _hwbus.call(_hwbus.I2C_READ,
                           struct.pack(">BBH", self._bus, addr, nbytes) + self._memaddr(memaddr, addrsize))

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        data = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)
        buf[: len(data)] = data


class SoftI2C(I2C):
    # A bit-banged bus on any pins: the simulator finds it by its SDA pin (bus key 0x80 | sda).
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        super().__init__(0x80 | _pin_id(sda), freq=freq)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3

    def __init__(self, pin, *, atten=ATTN_11DB):
        self._pin = _pin_id(pin)
        self._atten = atten

    def atten(self, a):
        self._atten = a

    def read(self):
        return self.read_u16() >> 4

    def read_u16(self):
        d = _hwbus.call(_hwbus.ADC_READ, bytes([self._pin]))
        raw = (d[0] << 8) | d[1]
        return (raw << 4) | (raw >> 8)  # 12-bit scaled to 16 as the port does

    def read_uv(self):
        # 11 dB attenuation spans about 0..3.1 V (ESP32 technical reference, ADC attenuation table)
        d = _hwbus.call(_hwbus.ADC_READ, bytes([self._pin]))
        return ((d[0] << 8) | d[1]) * 3100000 // 4095



# -- the rest of the ESP32 port's machine module: resets, sleep, RTC, WDT (docs.micropython.org,
#    library/machine.html and esp32/quickref.html "Deep-sleep mode", ports/esp32/modmachine.c) ----------------
import json

# machine.reset_cause() values (library/machine.html "Constants")
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
# machine.wake_reason(): ESP-IDF's esp_sleep_get_wakeup_cause() as the port returns it
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6
# Pin.irq(wake=...) and power modes
IDLE = 1
SLEEP = 2
DEEPSLEEP = 4

_irqs = {}
_wake_pins = {}
_info = None


class _IRQ:
    def __init__(self, pin):
        self._pin = pin

    def trigger(self):
        return _irqs.get(self._pin.id, (0, 0, 0))[2]

    def __call__(self):
        # irq() runs the handler as if the pin had seen its edge (machine_pin_irq_call: the ISR, so scheduled)
        h = _irqs.get(self._pin.id)
        if h and h[1]:
            micropython.schedule(h[1], h[0])


def _wake_conf():
    _hwbus.call(_hwbus.WAKE_CONF, json.dumps({"pins": _wake_pins}).encode())


def _boot_info():
    global _info
    if _info is None:
        _info = json.loads(_hwbus.call(_hwbus.BOOT_INFO))
    return _info


def reset_cause():
    return _boot_info()["reset_cause"]


def wake_reason():
    return _boot_info()["wake_reason"]


def unique_id():
    # The base MAC address from eFuse on the ESP32 (6 bytes)
    return bytes.fromhex(_boot_info()["uid"])


_FREQS = (20000000, 40000000, 80000000, 160000000, 240000000)


def freq(hz=None):
    if hz is None:
        return _boot_info()["freq"]
    if hz not in _FREQS and hz // 1000000 * 1000000 not in _FREQS and hz not in (20, 40, 80, 160, 240):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    if hz < 1000:
        hz *= 1000000
    _hwbus.call(_hwbus.FREQ, struct.pack(">I", hz))
    _boot_info()["freq"] = hz


def deepsleep(time_ms=0):
    # Never returns: the board powers down and boots again from the start (DEEPSLEEP_RESET).
    _hwbus.call(_hwbus.DEEPSLEEP, struct.pack(">I", max(0, int(time_ms))))
    while True:
        _hwbus.call(_hwbus.SLEEP, struct.pack(">I", 1000))


def lightsleep(time_ms=0):
    # Edges an IRQ waits for during the sleep reach their handlers after it (the answer carries them: _irq).
    # machine.Timer stands still meanwhile: ESP-IDF "Sleep Modes": in light sleep "digital peripherals ... are
    # clock-gated" and "their internal state is preserved" (the timer groups are such peripherals).
    irq = sys.modules.get("_irq")  # loaded once the program used a timer or a pin IRQ
    _hwbus.hold()
    try:
        r = json.loads(_hwbus.call(_hwbus.LIGHTSLEEP, struct.pack(">I", max(0, int(time_ms)))))
        if irq is not None:
            irq.pause(r.get("slept_ms", 0) * 1000)
        _boot_info()["wake_reason"] = r["wake"]
    finally:
        _hwbus.release()
    if irq is not None:
        time.ticks_us()
        irq.drain()


def sleep(time_ms=0):
    lightsleep(time_ms)


def idle():
    # waits for the next interrupt or tick: a millisecond here, with the program's callbacks
    time.sleep_ms(1)


def reset():
    _hwbus.call(_hwbus.RESET, b"\x00")
    while True:
        _hwbus.call(_hwbus.SLEEP, struct.pack(">I", 1000))


def bootloader():
    _hwbus.call(_hwbus.RESET, b"\x01")
    while True:
        _hwbus.call(_hwbus.SLEEP, struct.pack(">I", 1000))


def soft_reset():
    # The port raises SystemExit, which ends the REPL's program and soft-reboots the board.
    raise SystemExit


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    return -1


class RTC:
    _MAX_MEM = 2048  # MICROPY_HW_RTC_USER_MEM_MAX on the ESP32 port

    def __init__(self, id=0):
        pass

    def init(self, datetime):
        self.datetime(datetime)

    def datetime(self, dt=None):
        if dt is None:
            t = time.localtime()
            # (year, month, day, weekday, hours, minutes, seconds, subseconds)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        secs = time.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0))
        ms = secs * 1000 + (dt[7] // 1000 if len(dt) > 7 else 0)
        _hwbus.call(_hwbus.RTC_SET, struct.pack(">Q", ms))

    def memory(self, data=None):
        if data is None:
            return _hwbus.call(_hwbus.RTC_MEM)
        data = bytes(data)
        if len(data) > RTC._MAX_MEM:
            raise ValueError("buffer too long")
        _hwbus.call(_hwbus.RTC_MEM, b"\x01" + data)


class WDT:
    # Once started it cannot be stopped; a new WDT(...) changes the timeout (esp_task_wdt_reconfigure).
    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        _hwbus.call(_hwbus.WDT_START, struct.pack(">I", timeout))

    def feed(self):
        _hwbus.call(_hwbus.WDT_FEED)


def __getattr__(name):
    # machine.Timer lives with the rest of the soft-interrupt code (sim/mpy/_irq.py) and machine.UART in
    # sim/mpy/_uart.py, each loaded on first use: their code costs heap, which a program without timers (a Wi-Fi
    # board without a modem UART) keeps (the shims' bytecode is loaded into the unix port's heap).
    if name == "Timer":
        import _irq

        return _irq.Timer
    if name == "UART":
        import _uart

        return _uart.UART
    raise AttributeError(name)
