"""Bosch BMP280 (M5Stack ENV II) at register level.

Datasheet: Bosch Sensortec BST-BMP280-DS001. Memory map (section 4.2): calibration 0x88..0x9F (dig_T1..dig_P9,
little-endian, Table 17), id 0xD0 = 0x58 (4.3.1), reset 0xE0 <- 0xB6 (4.3.2), status 0xF3 bit 3 "measuring"
(4.3.3; bit 0 im_update during the NVM copy after a reset), ctrl_meas 0xF4 osrs_t[7:5] osrs_p[4:2] mode[1:0]
(4.3.4: 00 sleep, 01/10 forced, 11 normal), config 0xF5 t_sb[7:5] filter[4:2] (4.3.5), press 0xF7..0xF9 and temp
0xFA..0xFC as 20-bit msb/lsb/xlsb[7:4] (4.3.6-4.3.7), 0x80000 when skipped, 16 + (osrs - 1) bits without the
filter (3.3.1/3.3.2). Forced mode returns to sleep when done (3.6.2); normal mode cycles with t_sb (3.6.3).
Measurement time, maximum (3.8.1): 1.25 + 2.3 * T_os + 2.3 * P_os + 0.575 ms.

The calibration words are the datasheet's own example (section 3.12), so the worked example holds on the model.
Raw codes are found by inverting the datasheet's floating-point compensation (section 8.1) with bisection.
"""

import math

from .base import RegisterModel

# Datasheet section 3.12, Table "compensation example" trimming values.
EXAMPLE_CALIB = dict(T1=27504, T2=26435, T3=-1000, P1=36477, P2=-10685, P3=3024, P4=2855, P5=140, P6=-7,
                     P7=15500, P8=-14600, P9=6000)
_OS = [0, 1, 2, 4, 8, 16, 16, 16]  # osrs_x field -> oversampling (Table 21/22)
# config t_sb[7:5]: standby between measurements in normal mode, ms (Table 11)
T_SB_MS = (0.5, 62.5, 125, 250, 500, 1000, 2000, 4000)
NVM_COPY_MS = 2  # im_update while the trimming NVM is copied after a reset: the start-up time (Table 2, 2 ms)


def resolution_bits(osrs: int, filtered: bool) -> int:
    """Bits of a 20-bit result that carry data (3.3.1 / 3.3.2): 16 + (osrs - 1) without the IIR filter, 20 with
    it; the bits below read 0."""
    return 20 if filtered else min(20, 16 + max(0, osrs - 1))


def t_fine_float(c, adc_t):
    v1 = (adc_t / 16384.0 - c["T1"] / 1024.0) * c["T2"]
    v2 = ((adc_t / 131072.0 - c["T1"] / 8192.0) ** 2) * c["T3"]
    return v1 + v2


def pressure_float(c, adc_p, t_fine):
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * c["P6"] / 32768.0
    v2 = v2 + v1 * c["P5"] * 2.0
    v2 = v2 / 4.0 + c["P4"] * 65536.0
    v1 = (c["P3"] * v1 * v1 / 524288.0 + c["P2"] * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * c["P1"]
    if v1 == 0:
        return 0.0
    p = 1048576.0 - adc_p
    p = (p - v2 / 4096.0) * 6250.0 / v1
    v1 = c["P9"] * p * p / 2147483648.0
    v2 = p * c["P8"] / 32768.0
    return p + (v1 + v2 + c["P7"]) / 16.0


def _bisect(f, target, lo, hi, increasing):
    for _ in range(40):
        mid = (lo + hi) // 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1:
            break
    return lo if abs(f(lo) - target) <= abs(f(hi) - target) else hi


def raw_codes(c, t_c, p_pa):
    adc_t = _bisect(lambda a: t_fine_float(c, a) / 5120.0, t_c, 0, (1 << 20) - 1, True)
    tf = t_fine_float(c, adc_t)
    adc_p = _bisect(lambda a: pressure_float(c, a, tf), p_pa, 0, (1 << 20) - 1, False)
    return adc_t, adc_p


class BMP280(RegisterModel):
    chip = "bmp280"
    addr = 0x76

    def __init__(self, clock=None, addr=None, env=None, calib=None):
        super().__init__(clock, addr, env)
        self.calib = dict(calib or EXAMPLE_CALIB)
        self._raw_key = self._raw = None  # the last raw_codes inputs and result (_raw_codes)
        self.prom = bytearray()
        for k in ("T1", "T2", "T3", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"):
            self.prom += (self.calib[k] & 0xFFFF).to_bytes(2, "little")
        self._reset()

    def _reset(self):
        self.ctrl_meas = 0
        self.config = 0
        self.adc_t = self.adc_p = 0x80000
        self._busy_until = 0
        self._pending = None
        self._nvm_until = 0
        self._normal_at = None  # normal mode: virtual ms its cycles started

    def _meas_ms(self) -> float:
        # 3.8.1: maximum measurement time 1.25 + 2.3 * T_os + 2.3 * P_os + 0.575 ms
        os_t, os_p = _OS[self.ctrl_meas >> 5], _OS[(self.ctrl_meas >> 2) & 7]
        return 1.25 + 2.3 * os_t + (2.3 * os_p + 0.575 if os_p else 0)

    def _convert(self):
        """One conversion of what the environment is now, at the resolution ctrl_meas and config give."""
        osr_t, osr_p = self.ctrl_meas >> 5, (self.ctrl_meas >> 2) & 7
        filt = bool(self.config & 0x1C)
        adc_t, adc_p = self._raw_codes(self.value("temperature_c"), self.value("pressure_pa"))
        drop_t, drop_p = 20 - resolution_bits(osr_t, filt), 20 - resolution_bits(osr_p, filt)
        return (((adc_t >> drop_t) << drop_t) if osr_t else 0x80000,
                ((adc_p >> drop_p) << drop_p) if osr_p else 0x80000)

    def _raw_codes(self, t_c, p_pa):
        # raw_codes bisects the compensation (~40 evaluations): in normal mode every byte of a data or status read
        # converts, so a 6-byte burst would redo it six times for the same inputs; the result is a pure function
        # of them (the calibration is fixed), so the last one is kept
        if self._raw_key != (t_c, p_pa):
            self._raw_key, self._raw = (t_c, p_pa), raw_codes(self.calib, t_c, p_pa)
        return self._raw

    def _normal(self):
        """Normal mode (3.6.3): measurement, standby t_sb, measurement... The result registers hold the last
        completed measurement; status.measuring is set during each."""
        if self._normal_at is None:
            return False
        per = self._meas_ms() + T_SB_MS[self.config >> 5]
        phase = (self.now_ms() - self._normal_at) % per
        if self.now_ms() - self._normal_at >= self._meas_ms():
            self.adc_t, self.adc_p = self._convert()
        return phase < self._meas_ms()

    def _latch(self):
        if self._pending and self.now_ms() >= self._busy_until:
            self.adc_t, self.adc_p = self._pending
            self._pending = None
            self.ctrl_meas &= ~0x03  # forced mode ends in sleep (3.6.2)

    def write_reg(self, reg, v):
        self._latch()
        if reg == 0xE0 and v == 0xB6:
            self._reset()
            self._nvm_until = self.now_ms() + NVM_COPY_MS
        elif reg == 0xF5:
            self.config = v & 0xFD  # bit 1 is reserved (4.3.5)
        elif reg == 0xF4:
            self.ctrl_meas = v
            self._normal_at = self.now_ms() if v & 0x03 == 3 else None
            if v & 0x03 in (1, 2):
                self._busy_until = self.now_ms() + math.ceil(self._meas_ms())
                self._pending = self._convert()

    def read_reg(self, reg):
        self._latch()
        if 0x88 <= reg <= 0x9F:
            return self.prom[reg - 0x88]
        if reg == 0xD0:
            return 0x58
        if reg == 0xF3:
            # 4.3.3 status: bit 3 measuring (a conversion running), bit 0 im_update (the NVM being copied)
            measuring = bool(self._pending) or self._normal()
            return (0x08 if measuring else 0) | (0x01 if self.now_ms() < self._nvm_until else 0)
        if reg == 0xF4:
            return self.ctrl_meas
        if reg == 0xF5:
            return self.config
        if 0xF7 <= reg <= 0xFC:
            self._normal()
            v = self.adc_p if reg < 0xFA else self.adc_t
            return (v >> 12, (v >> 4) & 0xFF, (v & 0xF) << 4)[(reg - 0xF7) % 3]
        return 0
