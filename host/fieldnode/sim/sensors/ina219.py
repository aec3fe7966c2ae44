"""Texas Instruments INA219 current/power monitor at register level.

Datasheet: TI SBOS448 (INA219). 16-bit big-endian registers selected by a pointer byte (section 8.5): 0x00
configuration (power-on 0x399F; bit 15 RST; BRNG bit 13; PG[12:11] gain /1 /2 /4 /8 = +-40/80/160/320 mV),
0x01 shunt voltage (signed, 10 uV/LSB), 0x02 bus voltage (bits 15:3, 4 mV/LSB; bit 1 CNVR, bit 0 OVF),
0x03 power, 0x04 current, 0x05 calibration. Equation 4: Current = ShuntVoltage x Calibration / 4096; equation
5: Power = Current x BusVoltage / 5000 (in register counts). Modes, conversion times and CNVR/OVF: see INA219.
The pointer does not auto-increment. No identity register: the reset value of the configuration is the best check.
"""

from .base import SensorModel

CONFIG_RESET = 0x399F


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


# Conversion time by ADC setting (Table 5, BADC[10:7] / SADC[6:3]): 0XXX by resolution (9..12 bit), 1000 12 bit,
# 1001..1111 12 bit averaged over 2..128 samples. In microseconds.
_CONV_US = {0: 84, 1: 148, 2: 276, 3: 532, 8: 532, 9: 1060, 10: 2130, 11: 4260, 12: 8510, 13: 17020, 14: 34050,
            15: 68100}


def conversion_us(adc: int) -> int:
    return _CONV_US[adc if adc >= 8 else adc & 3]


class INA219(SensorModel):
    """Operating modes (MODE[2:0], Table 6): 000 power-down and 100 ADC off keep the last results; 001/010/011 one
    triggered conversion of shunt / bus / both on every write of the mode; 101/110/111 continuous. CNVR (bus
    register bit 1) is set when a conversion completes and cleared by reading the power register or by writing a
    new mode (section 8.6.3.2); OVF (bit 0) is set when the current or power calculation is out of range."""

    chip = "ina219"
    addr = 0x40

    def __init__(self, clock=None, addr=None, env=None, shunt_ohm: float = 0.1):
        super().__init__(clock, addr, env)
        self.shunt_ohm = shunt_ohm
        self.ptr = 0
        self.config = CONFIG_RESET
        self.cal = 0
        self.cnvr = False
        self._shunt = self._bus = 0  # the last conversion's results (counts)
        self._conv_at = None  # virtual ms when the conversion under way completes (triggered), or None
        self._start()

    def _mode(self) -> int:
        return self.config & 0x07

    def conversion_ms(self) -> float:
        m, c = self._mode(), self.config
        t = (conversion_us((c >> 7) & 0x0F) if m & 2 else 0) + (conversion_us((c >> 3) & 0x0F) if m & 1 else 0)
        return t / 1000.0

    def _start(self):
        """A new mode was written: CNVR clears; a triggered or continuous mode starts converting now."""
        self.cnvr = False
        self._conv_at = None
        if self._mode() in (0, 4):
            return
        self._t0 = self.now_ms()
        self._conv_at = self._t0 + self.conversion_ms()

    def _next_after(self, t) -> float:
        """When the continuous conversion under way at ``t`` completes (they follow each other from the mode
        write on)."""
        per = self.conversion_ms()
        return self._t0 + (int((t - self._t0) // per) + 1) * per

    def _update(self):
        """Results of the conversions that completed by now. A continuous mode keeps converting: its registers
        show the input as it is (the bus model does not advance time inside a transaction, so a read right after a
        reset sees what the part converts ~1 ms later); a triggered mode converts once, its results (and CNVR)
        appear when the conversion time has passed."""
        m = self._mode()
        if m > 4:
            self._shunt = self._shunt_now() if m & 1 else self._shunt
            self._bus = self._bus_now() if m & 2 else self._bus
        if self._conv_at is None or self.now_ms() < self._conv_at:
            return
        if m & 1:
            self._shunt = self._shunt_now()
        if m & 2:
            self._bus = self._bus_now()
        self.cnvr = True
        self._conv_at = None if m < 4 else self._next_after(self.now_ms())

    def write(self, data):
        self.transactions += 1
        if not data:
            return True
        self.ptr = data[0]
        if len(data) >= 3:
            v = (data[1] << 8) | data[2]
            if self.ptr == 0x00:
                self._update()
                self.config, self.cal = (CONFIG_RESET, 0) if v & 0x8000 else (v & 0x3FFF, self.cal)
                self._start()
            elif self.ptr == 0x05:
                self.cal = v & 0xFFFE  # bit 0 is read-only 0 (section 8.6.5)
        return True

    def _shunt_now(self) -> int:
        full = (40, 80, 160, 320)[(self.config >> 11) & 3] * 100  # in 10 uV counts
        counts = int(round(self.value("current_a") * self.shunt_ohm * 100000))
        return max(-full, min(full, counts))

    def _bus_now(self) -> int:
        limit = 32.0 if self.config & 0x2000 else 16.0
        return int(round(min(self.value("bus_voltage_v"), limit) / 0.004))

    def _current(self) -> int:
        return _trunc_div(self._shunt * self.cal, 4096)

    def _power(self) -> int:
        return _trunc_div(abs(self._current()) * self._bus, 5000)

    def overflow(self) -> bool:
        return not -32768 <= self._current() <= 32767 or self._power() > 0xFFFF

    def _reg(self, p) -> int:
        self._update()
        if p == 0x00:
            return self.config
        if p == 0x01:
            return self._shunt & 0xFFFF
        if p == 0x02:
            return (self._bus << 3) | (0x02 if self.cnvr else 0) | (0x01 if self.overflow() else 0)
        if p == 0x04:
            return max(-32768, min(32767, self._current())) & 0xFFFF
        if p == 0x03:
            self.cnvr = False
            if self._mode() > 4:
                self._conv_at = self._next_after(self.now_ms())
            return min(0xFFFF, self._power())
        if p == 0x05:
            return self.cal
        return 0

    def read(self, n):
        self.transactions += 1
        v = self._reg(self.ptr)
        word = bytes(((v >> 8) & 0xFF, v & 0xFF))
        return (word * ((n + 1) // 2))[:n]
