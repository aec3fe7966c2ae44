"""QST QMP6988 barometric pressure sensor (M5Stack ENV III), forced mode, exact integer compensation.

    from sensors.qmp6988 import QMP6988
    q = QMP6988(i2c, addr=0x70)          # OSError naming the address if absent or not a QMP6988
    t_centi_c, p_pa = q.read()

Datasheet: QST QMP6988 Rev.04. CHIP_ID 0xD1 = 0x5C; reset: 0xE6 to 0xE0; CTRL_MEAS 0xF4 (temp_average[7:5],
press_average[4:2], power_mode[1:0], 01 = forced); DEVICE_STAT 0xF3 bit 3 = measuring; data 0xF7..0xFC, pressure
then temperature, 24 bits each, minus 2**23. Calibration OTP 0xA0..0xB8 (25 bytes; a0 and b00 are 20-bit with
their low nibbles in 0xB8). Conversion (section 4.3): Tr = a0 + a1 Dt + a2 Dt^2 (Tr in 1/256 degC) and
Pr = b00 + bt1 Tr + bp1 Dp + b11 Tr Dp + bt2 Tr^2 + bp2 Dp^2 + b12 Dp Tr^2 + b21 Dp^2 Tr + bp3 Dp^3 (Pa), each
coefficient K = A + S * OTP / 32767 with A and S from the datasheet's table, a0 = OTP/16, b00 = OTP/16.

The datasheet gives that conversion in real numbers. Here A and S are written as exact integers over 10**19
(e.g. a1: A = -6.30E-03 = -63000000000000000 / 10**19), so each K is an exact fraction over 32767 * 10**19 and the
whole polynomial is evaluated exactly in integers, with one floor division at the end: the same result on every
port, no floats. That evaluation uses long integers (it allocates, once per reading); the raw read does not.
"""

from micropython import const
import time

_CHIP_ID = const(0xD1)
_RESET = const(0xE0)
_IIR = const(0xF1)
_STAT = const(0xF3)
_CTRL_MEAS = const(0xF4)
_DATA = const(0xF7)
_OTP = const(0xA0)
_ENODEV = const(0x13)
_OFFSET = const(0x800000)  # 2**23
_FORCED_T1_P8 = const(0x31)  # temp_average 001 (x1), press_average 100 (x8), forced 01
_DEN = 32767 * 10**19  # a long integer: not a const()

# (A, S) * 10**19, in the order of the OTP words bt1, bt2, bp1, b11, bp2, b12, b21, bp3, a1, a2.
_AS = (
    (1000000000000000000, 910000000000000000),  # bt1  1.00E-01  9.10E-02
    (120000000000, 12000000000000),  # bt2  1.20E-08  1.20E-06
    (330000000000000000, 190000000000000000),  # bp1  3.30E-02  1.90E-02
    (2100000000000, 1400000000000),  # b11  2.10E-07  1.40E-07
    (-6300000000, 3500000000),  # bp2 -6.30E-10  3.50E-10
    (2900000, 7600000),  # b12  2.90E-13  7.60E-13
    (21000, 120000),  # b21  2.10E-15  1.20E-14
    (1300, 790),  # bp3  1.30E-16  7.90E-17
    (-63000000000000000, 4300000000000000),  # a1 -6.30E-03  4.30E-04
    (-190000000, 1200000000),  # a2 -1.90E-11  1.20E-10
)


def _s16(b, i):
    v = (b[i] << 8) | b[i + 1]
    return v - 0x10000 if v & 0x8000 else v


def _s20(v):
    return v - 0x100000 if v & 0x80000 else v


def parse_otp(b):
    """The 25 OTP bytes -> (b00, a0, bt1, bt2, bp1, b11, bp2, b12, b21, bp3, a1, a2) as signed integers."""
    b00 = _s20((b[0] << 12) | (b[1] << 4) | (b[24] >> 4))
    a0 = _s20((b[18] << 12) | (b[19] << 4) | (b[24] & 0x0F))
    words = [_s16(b, i) for i in range(2, 18, 2)] + [_s16(b, 20), _s16(b, 22)]
    return (b00, a0) + tuple(words)


def coefficients(otp):
    """Numerators over _DEN of bt1, bt2, bp1, b11, bp2, b12, b21, bp3, a1, a2 (K = A + S * OTP / 32767)."""
    return tuple(_AS[i][0] * 32767 + _AS[i][1] * otp[2 + i] for i in range(10))


def compensate(otp, k, dt, dp):
    """(T in 0.01 degC, P in Pa) from Dt, Dp (raw - 2**23), exactly, by the datasheet's conversion (section 4.3)."""
    b00, a0 = otp[0], otp[1]
    bt1, bt2, bp1, b11, bp2, b12, b21, bp3, a1, a2 = k
    td = 16 * _DEN  # Tr = trn / td, in 1/256 degC
    trn = a0 * _DEN + 16 * (a1 * dt + a2 * dt * dt)
    t_centi = (trn * 100) // (td * 256)
    td2 = td * td
    num = (bt1 * trn * td + bp1 * dp * td2 + b11 * trn * dp * td + bt2 * trn * trn + bp2 * dp * dp * td2
           + b12 * dp * trn * trn + b21 * dp * dp * trn * td + bp3 * dp * dp * dp * td2)
    p_pa = (b00 * _DEN * td2 + 16 * num) // (16 * _DEN * td2)
    return t_centi, p_pa


class QMP6988:
    def __init__(self, i2c, addr=0x70):
        self.i2c = i2c
        self.addr = addr
        self._b1 = bytearray(1)
        self._buf = bytearray(25)
        self._mv6 = memoryview(self._buf)[:6]
        try:
            i2c.readfrom_mem_into(addr, _CHIP_ID, self._b1)
        except OSError:
            raise OSError(_ENODEV, "QMP6988: no answer at I2C address %#x" % addr)
        if self._b1[0] != 0x5C:
            raise OSError(_ENODEV, "QMP6988: chip id %#x at %#x is not a QMP6988 (0x5c)" % (self._b1[0], addr))
        self._write(_RESET, 0xE6)
        time.sleep_ms(10)
        self._write(_RESET, 0x00)
        i2c.readfrom_mem_into(addr, _OTP, self._buf)
        self.otp = parse_otp(self._buf)
        self.k = coefficients(self.otp)
        self._write(_IIR, 0x00)  # IIR off: each forced reading stands alone
        self.dt = 0
        self.dp = 0

    def _write(self, reg, v):
        self._b1[0] = v
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def measure(self):
        """One forced measurement into dt, dp (signed raw codes). No allocation."""
        self._write(_CTRL_MEAS, _FORCED_T1_P8)
        time.sleep_ms(10)
        for _ in range(20):
            self.i2c.readfrom_mem_into(self.addr, _STAT, self._b1)
            if not self._b1[0] & 0x08:
                break
            time.sleep_ms(1)
        b = self._mv6
        self.i2c.readfrom_mem_into(self.addr, _DATA, b)
        self.dp = ((b[0] << 16) | (b[1] << 8) | b[2]) - _OFFSET
        self.dt = ((b[3] << 16) | (b[4] << 8) | b[5]) - _OFFSET

    def read_into(self, out):
        """out[0] = temperature in 0.01 degC, out[1] = pressure in Pa."""
        self.measure()
        t, p = compensate(self.otp, self.k, self.dt, self.dp)
        out[0] = t
        out[1] = p

    def read(self):
        self.measure()
        return compensate(self.otp, self.k, self.dt, self.dp)
