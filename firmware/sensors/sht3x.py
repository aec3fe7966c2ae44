"""Sensirion SHT3x-DIS humidity and temperature sensor (M5Stack ENV II / ENV III), single-shot mode.

    from machine import I2C, Pin
    from sensors.sht3x import SHT3x
    s = SHT3x(I2C(1, sda=Pin(32), scl=Pin(33)))     # OSError naming 0x44 if the part does not answer
    t_centi_c, rh_centi_pct = s.read()             # 2345 -> 23.45 degC, 4512 -> 45.12 %RH

Datasheet: Sensirion SHT3x-DIS. Every 16-bit word the sensor sends is followed by a CRC-8 (section 4.12:
polynomial 0x31, init 0xFF; CRC(0xBEEF) = 0x92) which is checked here; a mismatch raises OSError(EIO).
The single-shot command without clock stretching is used (Table 9, 0x2400 high repeatability), because the ESP32
I2C timeout is shorter than a stretched 15 ms measurement; a read before the data is ready is NACKed (section 4.4),
so the driver waits the maximum duration (Table 4: 15 ms) on time.sleep_ms and retries a NACK a few times.
No allocation per reading: one 6-byte buffer, memoryviews made once, integers in documented units.
"""

from micropython import const
import time

_MEAS_HIGH = b"\x24\x00"  # single shot, high repeatability, no clock stretching (Table 9)
_READ_STATUS = b"\xf3\x2d"  # section 4.11
_SOFT_RESET = b"\x30\xa2"  # section 4.9
_MEAS_MS = const(15)  # Table 4, high repeatability, maximum
_RETRIES = const(5)
_ENODEV = const(19)
_EIO = const(5)


def crc8(buf, start, n):
    """Sensirion CRC-8 over buf[start:start+n] (poly 0x31, init 0xFF), without slicing."""
    crc = 0xFF
    for i in range(start, start + n):
        crc ^= buf[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def to_centi_c(raw):
    """-45 + 175 * raw / 65535 degC in hundredths (section 4.13), exact floor, without leaving 30-bit integers."""
    x = raw * 4375  # 17500 = 4 * 4375; x < 2**29
    return -4500 + (x // 65535) * 4 + ((x % 65535) * 4) // 65535


def to_centi_pct(raw):
    """100 * raw / 65535 %RH in hundredths (section 4.13)."""
    return (raw * 10000) // 65535


class SHT3x:
    def __init__(self, i2c, addr=0x44):
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(6)
        self._mv3 = memoryview(self._buf)[:3]
        self.raw_t = 0
        self.raw_rh = 0
        # Identity: the status register answers with a valid CRC (the SHT3x has no ID register).
        try:
            i2c.writeto(addr, _READ_STATUS)
            time.sleep_ms(1)
            i2c.readfrom_into(addr, self._mv3)
        except OSError:
            raise OSError(_ENODEV, "SHT3x: no answer at I2C address %#x" % addr)
        self._check(0)
        self.status = (self._buf[0] << 8) | self._buf[1]

    def _check(self, start):
        if crc8(self._buf, start, 2) != self._buf[start + 2]:
            raise OSError(_EIO, "SHT3x at %#x: CRC mismatch" % self.addr)

    def reset(self):
        self.i2c.writeto(self.addr, _SOFT_RESET)
        time.sleep_ms(2)  # soft reset time, Table 4: 1.5 ms max

    def measure(self):
        """One single-shot measurement into raw_t, raw_rh (16-bit sensor codes)."""
        i2c, addr, buf = self.i2c, self.addr, self._buf
        i2c.writeto(addr, _MEAS_HIGH)
        time.sleep_ms(_MEAS_MS)
        for n in range(_RETRIES):
            try:
                i2c.readfrom_into(addr, buf)
                break
            except OSError:
                if n == _RETRIES - 1:
                    raise OSError(_ENODEV, "SHT3x at %#x: no data after the measurement time" % addr)
                time.sleep_ms(1)
        self._check(0)
        self._check(3)
        self.raw_t = (buf[0] << 8) | buf[1]
        self.raw_rh = (buf[3] << 8) | buf[4]

    def read_into(self, out):
        """out[0] = temperature in 0.01 degC, out[1] = relative humidity in 0.01 %. No allocation."""
        self.measure()
        out[0] = to_centi_c(self.raw_t)
        out[1] = to_centi_pct(self.raw_rh)

    def read(self):
        self.measure()
        return to_centi_c(self.raw_t), to_centi_pct(self.raw_rh)
