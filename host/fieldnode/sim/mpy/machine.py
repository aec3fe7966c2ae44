# machine for the virtual board: the ESP32 port's API (docs.micropython.org, "Quick reference for the ESP32"
# and the machine module pages), routed to the simulator's models over the hardware bus (_hwbus).
# Same names, signatures and errors: an I2C NACK raises OSError(ENODEV) as the ESP32 port does.
import _hwbus
import struct

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

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.id = id
        self._mode = mode
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, *, value=None):
        if mode != -1:
            self._mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return _hwbus.call(_hwbus.PIN_READ, bytes([self.id]))[0]
        _hwbus.call(_hwbus.PIN_WRITE, bytes([self.id, 1 if v else 0]))

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, wake=None):
        self._irq = handler
        return None

    def __repr__(self):
        return "Pin(%d)" % self.id


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
        self.writeto(addr, self._memaddr(memaddr, addrsize), False)
        return self.readfrom(addr, nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        data = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)
        buf[: len(data)] = data


class SoftI2C(I2C):
    # A bit-banged bus on any pins: the simulator finds it by its SDA pin (bus key 0x80 | sda).
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        super().__init__(0x80 | _pin_id(sda), freq=freq)


class UART:
    INV_TX = 1
    INV_RX = 2

    def __init__(self, id, baudrate=115200, *, tx=None, rx=None, timeout=0, timeout_char=0, rxbuf=256, **kw):
        self._id = id
        self.baudrate = baudrate
        self._timeout = timeout

    def init(self, baudrate=115200, *, timeout=None, **kw):
        self.baudrate = baudrate
        if timeout is not None:
            self._timeout = timeout

    def deinit(self):
        pass

    def any(self):
        d = _hwbus.call(_hwbus.UART_ANY, bytes([self._id]))
        return (d[0] << 8) | d[1]

    def _wait(self):
        # Blocking reads wait up to `timeout` ms for the first byte, on the virtual clock.
        left = self._timeout
        while left > 0 and not self.any():
            step = 10 if left > 10 else left
            time.sleep_ms(step)
            left -= step

    def read(self, nbytes=-1):
        self._wait()
        n = self.any()
        if not n:
            return None
        if nbytes is not None and nbytes >= 0:
            n = min(n, nbytes)
        return _hwbus.call(_hwbus.UART_READ, struct.pack(">BH", self._id, n))

    def readinto(self, buf, nbytes=-1):
        want = len(buf) if nbytes is None or nbytes < 0 else nbytes
        data = self.read(want)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        line = b""
        while True:
            c = self.read(1)
            if not c:
                return line or None
            line += c
            if c == b"\n":
                return line

    def write(self, buf):
        _hwbus.call(_hwbus.UART_WRITE, bytes([self._id]) + bytes(buf))
        return len(buf)

    def flush(self):
        pass

    def txdone(self):
        return True


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
