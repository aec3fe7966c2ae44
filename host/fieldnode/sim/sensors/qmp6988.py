"""QST QMP6988 (M5Stack ENV III) at register level.

Datasheet: QST "QMP6988 Digital Barometric Pressure Sensor", Rev.04 (Jun. 2017). Registers: CHIP_ID 0xD1 = 0x5C,
RESET 0xE0 (write 0xE6), IIR_CNT 0xF1, DEVICE_STAT 0xF3 (bit 3 measure, bit 0 otp_update), CTRL_MEAS 0xF4
(temp_average[7:5], press_average[4:2], power_mode[1:0]: 00 sleep, 01/10 forced, 11 normal), IO_SETUP 0xF5,
PRESS_TXD2..0 0xF7..0xF9, TEMP_TXD2..0 0xFA..0xFC (24 bit; the value is raw - 2^23). Calibration OTP 0xA0..0xB8:
b00, bt1, bt2, bp1, b11, bp2, b12, b21, bp3, a0, a1, a2 as big-endian pairs, a0 and b00 as 20-bit values whose
low nibbles share 0xB8. Conversion (section 4.3): Tr = a0 + a1 Dt + a2 Dt^2 [1/256 degC];
Pr = b00 + bt1 Tr + bp1 Dp + b11 Tr Dp + bt2 Tr^2 + bp2 Dp^2 + b12 Dp Tr^2 + b21 Dp^2 Tr + bp3 Dp^3 [Pa], with
each coefficient K = A + S * OTP / 32767 from the datasheet's table (a0 and b00: OTP / 16).

The datasheet's measurement-time table is not reproduced here: the model takes 1 ms plus 1 ms per averaged
sample (x1 temperature, x8 pressure: 10 ms). The driver polls DEVICE_STAT, so it does not depend on the figure.
"""

from .base import RegisterModel

# (A, S) per coefficient: the datasheet's conversion table (section 4.3).
AS = {
    "a1": (-6.30e-03, 4.30e-04), "a2": (-1.90e-11, 1.20e-10), "bt1": (1.00e-01, 9.10e-02),
    "bt2": (1.20e-08, 1.20e-06), "bp1": (3.30e-02, 1.90e-02), "b11": (2.10e-07, 1.40e-07),
    "bp2": (-6.30e-10, 3.50e-10), "b12": (2.90e-13, 7.60e-13), "b21": (2.10e-15, 1.20e-14),
    "bp3": (1.30e-16, 7.90e-17),
}
# A plausible OTP for the model (no two parts share one); a0 and b00 are 20-bit.
DEFAULT_OTP = dict(b00=480000, bt1=11537, bt2=-7050, bp1=6217, b11=-2405, bp2=1843, b12=-1027, b21=512,
                   bp3=-1303, a0=40960, a1=-1034, a2=2216)
_AVG = [0, 1, 2, 4, 8, 16, 32, 64]
# IO_SETUP t_standby[7:5]: the wait between measurements in normal mode, ms (datasheet, IO_SETUP register)
T_STANDBY_MS = (1, 5, 50, 250, 500, 1000, 2000, 4000)


def otp_bytes(otp) -> bytes:
    b = bytearray(25)
    for i, k in enumerate(("bt1", "bt2", "bp1", "b11", "bp2", "b12", "b21", "bp3")):
        b[2 + 2 * i:4 + 2 * i] = (otp[k] & 0xFFFF).to_bytes(2, "big")
    b00, a0 = otp["b00"] & 0xFFFFF, otp["a0"] & 0xFFFFF
    b[0], b[1] = b00 >> 12, (b00 >> 4) & 0xFF
    b[18], b[19] = a0 >> 12, (a0 >> 4) & 0xFF
    b[20:22] = (otp["a1"] & 0xFFFF).to_bytes(2, "big")
    b[22:24] = (otp["a2"] & 0xFFFF).to_bytes(2, "big")
    b[24] = ((b00 & 0xF) << 4) | (a0 & 0xF)
    return bytes(b)


def coefficients(otp) -> dict:
    k = {name: a + s * otp[name] / 32767.0 for name, (a, s) in AS.items()}
    k["a0"], k["b00"] = otp["a0"] / 16.0, otp["b00"] / 16.0
    return k


def tr_float(k, dt):
    return k["a0"] + k["a1"] * dt + k["a2"] * dt * dt


def pr_float(k, dp, tr):
    return (k["b00"] + k["bt1"] * tr + k["bp1"] * dp + k["b11"] * tr * dp + k["bt2"] * tr * tr
            + k["bp2"] * dp * dp + k["b12"] * dp * tr * tr + k["b21"] * dp * dp * tr + k["bp3"] * dp ** 3)


def _solve(f, target, lo, hi):
    flo = f(lo) - target
    for _ in range(60):
        mid = (lo + hi) // 2
        fm = f(mid) - target
        if (fm < 0) == (flo < 0):
            lo, flo = mid, fm
        else:
            hi = mid
        if hi - lo <= 1:
            break
    return lo if abs(f(lo) - target) <= abs(f(hi) - target) else hi


def raw_codes(k, t_c, p_pa):
    """(Dt, Dp) that make the datasheet conversion give t_c and p_pa (the root nearest zero, found by bisection)."""
    tr_target = t_c * 256.0
    # Tr(Dt) is a gentle parabola; its branch through Dt = 0 is monotonic over the code range in use.
    dt = _solve(lambda d: tr_float(k, d), tr_target, -(1 << 23), (1 << 23) - 1)
    tr = tr_float(k, dt)
    dp = _solve(lambda d: pr_float(k, d, tr), p_pa, -(1 << 23), (1 << 23) - 1)
    return dt, dp


class QMP6988(RegisterModel):
    chip = "qmp6988"
    addr = 0x70

    def __init__(self, clock=None, addr=None, env=None, otp=None):
        super().__init__(clock, addr, env)
        self.otp = dict(otp or DEFAULT_OTP)
        self.k = coefficients(self.otp)
        self._raw_key = self._raw = None  # the last raw_codes inputs and result (_raw_codes)
        self.prom = otp_bytes(self.otp)
        self._reset()

    def _reset(self):
        self.ctrl_meas = 0
        self.iir = 0
        self.io_setup = 0
        self.raw_p = self.raw_t = 0
        self._pending = None
        self._busy_until = 0
        self._normal_at = None

    def _meas_ms(self) -> int:
        v = self.ctrl_meas
        return 1 + _AVG[v >> 5] + _AVG[(v >> 2) & 7]

    def _convert(self):
        n_t, n_p = _AVG[self.ctrl_meas >> 5], _AVG[(self.ctrl_meas >> 2) & 7]
        dt, dp = self._raw_codes(self.value("temperature_c"), self.value("pressure_pa"))
        return (dt + (1 << 23)) if n_t else 0, (dp + (1 << 23)) if n_p else 0

    def _raw_codes(self, t_c, p_pa):
        # as BMP280._raw_codes: normal mode converts on every byte of a read; keep the last (pure) result
        if self._raw_key != (t_c, p_pa):
            self._raw_key, self._raw = (t_c, p_pa), raw_codes(self.k, t_c, p_pa)
        return self._raw

    def _normal(self) -> bool:
        """Normal mode (power_mode 11): measurement, t_standby, measurement...; the data registers hold the last
        completed one; True while one runs (DEVICE_STAT measure)."""
        if self._normal_at is None:
            return False
        el = self.now_ms() - self._normal_at
        if el >= self._meas_ms():
            self.raw_t, self.raw_p = self._convert()
        return el % (self._meas_ms() + T_STANDBY_MS[self.io_setup >> 5]) < self._meas_ms()

    def _latch(self):
        if self._pending and self.now_ms() >= self._busy_until:
            self.raw_t, self.raw_p = self._pending
            self._pending = None
            if self.ctrl_meas & 0x03 in (1, 2):
                self.ctrl_meas &= ~0x03  # forced: back to sleep

    def write_reg(self, reg, v):
        self._latch()
        if reg == 0xE0 and v == 0xE6:
            self._reset()
        elif reg == 0xF1:
            self.iir = v & 0x07
        elif reg == 0xF5:
            self.io_setup = v
        elif reg == 0xF4:
            self.ctrl_meas = v
            self._normal_at = self.now_ms() if v & 0x03 == 3 else None
            if v & 0x03 in (1, 2):
                self._busy_until = self.now_ms() + self._meas_ms()
                self._pending = self._convert()

    def read_reg(self, reg):
        self._latch()
        if 0xA0 <= reg <= 0xB8:
            return self.prom[reg - 0xA0]
        if reg == 0xD1:
            return 0x5C
        if reg == 0xF1:
            return self.iir
        if reg == 0xF3:
            return 0x08 if self._pending or self._normal() else 0x00
        if reg == 0xF4:
            return self.ctrl_meas
        if reg == 0xF5:
            return self.io_setup
        if 0xF7 <= reg <= 0xFC:
            self._normal()
            v = self.raw_p if reg < 0xFA else self.raw_t
            return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)[(reg - 0xF7) % 3]
        return 0
