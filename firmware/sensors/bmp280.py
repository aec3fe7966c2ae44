"""Bosch BMP280 pressure and temperature sensor (M5Stack ENV II), forced mode, datasheet integer compensation.

    from sensors.bmp280 import BMP280
    b = BMP280(i2c, addr=0x76)          # OSError naming the address if absent or not a BMP280
    t_centi_c, p_pa = b.read()

Datasheet: Bosch BST-BMP280-DS001. Identity: register 0xD0 reads 0x58 (0x56/0x57 on engineering samples,
section 4.3.1). Calibration 0x88..0x9F, little-endian dig_T1..dig_P9 (Table 17). Forced measurement with
osrs_t x1, osrs_p x4 ("standard resolution", Table 15); the maximum measurement time for it is
1.25 + 2.3 + 2.3 * 4 + 0.575 = 13.3 ms (section 3.8.1), then status bit 3 is polled. Compensation: the
datasheet's 32-bit integer temperature and 64-bit integer pressure code (section 3.11.3), with C's truncating
division. The raw read allocates nothing; on 32-bit ports the 64-bit pressure arithmetic uses long integers.
"""

from micropython import const
import time

_ID = const(0xD0)
_RESET = const(0xE0)
_STATUS = const(0xF3)
_CTRL_MEAS = const(0xF4)
_CONFIG = const(0xF5)
_PRESS = const(0xF7)
_CALIB = const(0x88)
_FORCED = const(0x2D)  # osrs_t 001 (x1), osrs_p 011 (x4), mode 01 (forced)
_MEAS_MS = const(14)
_ENODEV = const(19)


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def _s16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def _tdiv(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def compensate_t(c, adc_t):
    """(T in 0.01 degC, t_fine): datasheet section 3.11.3, bmp280_compensate_T_int32. c = dig_T1..dig_P9."""
    t1, t2, t3 = c[0], c[1], c[2]
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = var1 + var2
    return (t_fine * 5 + 128) >> 8, t_fine


def compensate_p(c, adc_p, t_fine):
    """Pressure in Pa as Q24.8 (25767236 = 100653.27 Pa): section 3.11.3, bmp280_compensate_P_int64."""
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]
    var1 = t_fine - 128000
    var2 = var1 * var1 * p6
    var2 = var2 + ((var1 * p5) << 17)
    var2 = var2 + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        return 0  # avoid a division by zero (datasheet)
    p = 1048576 - adc_p
    p = _tdiv(((p << 31) - var2) * 3125, var1)
    var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (p7 << 4)


class BMP280:
    def __init__(self, i2c, addr=0x76):
        self.i2c = i2c
        self.addr = addr
        self._b1 = bytearray(1)
        self._buf = bytearray(24)
        self._mv6 = memoryview(self._buf)[:6]
        try:
            i2c.readfrom_mem_into(addr, _ID, self._b1)
        except OSError:
            raise OSError(_ENODEV, "BMP280: no answer at I2C address %#x" % addr)
        if self._b1[0] not in (0x56, 0x57, 0x58):
            raise OSError(_ENODEV, "BMP280: chip id %#x at %#x is not a BMP280 (0x58)" % (self._b1[0], addr))
        self._write(_RESET, 0xB6)
        time.sleep_ms(3)  # start-up time after reset, 2 ms (Table 2)
        i2c.readfrom_mem_into(addr, _CALIB, self._buf)
        b = self._buf
        self.calib = (_u16(b, 0), _s16(b, 2), _s16(b, 4), _u16(b, 6)) + tuple(_s16(b, i) for i in range(8, 24, 2))
        self.adc_t = 0
        self.adc_p = 0

    def _write(self, reg, v):
        self._b1[0] = v
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def measure(self):
        """One forced measurement into adc_t, adc_p (20-bit raw codes). No allocation."""
        self._write(_CTRL_MEAS, _FORCED)
        time.sleep_ms(_MEAS_MS)
        for _ in range(10):
            self.i2c.readfrom_mem_into(self.addr, _STATUS, self._b1)
            if not self._b1[0] & 0x08:
                break
            time.sleep_ms(1)
        b = self._mv6
        self.i2c.readfrom_mem_into(self.addr, _PRESS, b)
        self.adc_p = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4)
        self.adc_t = (b[3] << 12) | (b[4] << 4) | (b[5] >> 4)

    def read_into(self, out):
        """out[0] = temperature in 0.01 degC, out[1] = pressure in Pa."""
        self.measure()
        t, t_fine = compensate_t(self.calib, self.adc_t)
        out[0] = t
        out[1] = compensate_p(self.calib, self.adc_p, t_fine) >> 8

    def read(self):
        self.measure()
        t, t_fine = compensate_t(self.calib, self.adc_t)
        return t, compensate_p(self.calib, self.adc_p, t_fine) >> 8
