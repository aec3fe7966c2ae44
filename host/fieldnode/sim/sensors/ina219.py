"""Texas Instruments INA219 current/power monitor at register level.

Datasheet: TI SBOS448 (INA219). 16-bit big-endian registers selected by a pointer byte (section 8.5): 0x00
configuration (power-on 0x399F; bit 15 RST; BRNG bit 13; PG[12:11] gain /1 /2 /4 /8 = +-40/80/160/320 mV),
0x01 shunt voltage (signed, 10 uV/LSB), 0x02 bus voltage (bits 15:3, 4 mV/LSB; bit 1 CNVR, bit 0 OVF),
0x03 power, 0x04 current, 0x05 calibration. Equation 4: Current = ShuntVoltage x Calibration / 4096; equation
5: Power = Current x BusVoltage / 5000 (in register counts). CNVR is cleared by reading the power register.
The pointer does not auto-increment. No identity register: the reset value of the configuration is the best check.
"""

from .base import SensorModel

CONFIG_RESET = 0x399F


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class INA219(SensorModel):
    chip = "ina219"
    addr = 0x40

    def __init__(self, clock=None, addr=None, env=None, shunt_ohm: float = 0.1):
        super().__init__(clock, addr, env)
        self.shunt_ohm = shunt_ohm
        self.ptr = 0
        self.config = CONFIG_RESET
        self.cal = 0
        self.cnvr = False

    def write(self, data):
        self.transactions += 1
        if not data:
            return True
        self.ptr = data[0]
        if len(data) >= 3:
            v = (data[1] << 8) | data[2]
            if self.ptr == 0x00:
                self.config, self.cal = (CONFIG_RESET, 0) if v & 0x8000 else (v, self.cal)
            elif self.ptr == 0x05:
                self.cal = v & 0xFFFE  # bit 0 is read-only 0 (section 8.6.5)
        return True

    def _shunt_reg(self) -> int:
        full = (40, 80, 160, 320)[(self.config >> 11) & 3] * 100  # in 10 uV counts
        counts = int(round(self.value("current_a") * self.shunt_ohm * 100000))
        return max(-full, min(full, counts))

    def _bus_counts(self) -> int:
        limit = 32.0 if self.config & 0x2000 else 16.0
        return int(round(min(self.value("bus_voltage_v"), limit) / 0.004))

    def _reg(self, p) -> int:
        if p == 0x00:
            return self.config
        if p == 0x01:
            return self._shunt_reg() & 0xFFFF
        if p == 0x02:
            self.cnvr = True
            return (self._bus_counts() << 3) | 0x02
        current = _trunc_div(self._shunt_reg() * self.cal, 4096)
        if p == 0x04:
            return current & 0xFFFF
        if p == 0x03:
            self.cnvr = False
            return (_trunc_div(current * self._bus_counts(), 5000)) & 0xFFFF
        if p == 0x05:
            return self.cal
        return 0

    def read(self, n):
        self.transactions += 1
        v = self._reg(self.ptr)
        word = bytes(((v >> 8) & 0xFF, v & 0xFF))
        return (word * ((n + 1) // 2))[:n]
