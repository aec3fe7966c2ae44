"""X-Powers AXP192 power management IC (M5Stack Core2, StickC) at register level.

Datasheet: X-Powers AXP192 v1.13 (Chinese, with community translation). Registers: 0x00 power status (bit 7 ACIN
present, bit 5 VBUS present, bit 2 battery current direction: 1 charging), 0x01 charge status (bit 6 charging,
bit 5 battery connected), 0x03 IC type (0x03 for the AXP192), 0x10 EXTEN/DC-DC2 switch, 0x12 output control
(bit 0 DC-DC1, 1 DC-DC3, 2 LDO2, 3 LDO3, 4 DC-DC2, 6 EXTEN), 0x26 DC-DC1 and 0x27 DC-DC3 voltage (0.7-3.5 V,
25 mV/step), 0x28 LDO2[7:4]/LDO3[3:0] (1.8-3.3 V, 100 mV/step), 0x33 charge control, 0x82 ADC enable 1 (bit 7
battery voltage, 6 battery current, 3 VBUS voltage, 2 VBUS current), ADC data as 12-bit high byte + low nibble:
0x5A/0x5B VBUS voltage (1.7 mV/LSB), 0x78/0x79 battery voltage (1.1 mV/LSB); 13-bit 0x7A/0x7B charge and
0x7C/0x7D discharge current (0.5 mA/LSB, low 5 bits in the second register), 0x7E/0x7F APS voltage (1.4 mV/LSB),
0x5E/0x5F internal temperature (-144.7 degC + 0.1 degC/LSB, ADC enable 2 0x83 bit 7, on at power-up). An ADC that
is not enabled reads 0. Power status 0x00 also has bit 4 VBUS usable and bit 3 VBUS above V_HOLD (0x30[5:3],
4.0 V + 0.1 V/step, 4.4 V at power-up). IRQ enable 0x40..0x43 and status 0x44..0x47: a status bit is cleared by
writing 1 to it; 0x44 bit 3 VBUS inserted, bit 2 VBUS removed.
"""

from .base import RegisterModel

IC_TYPE = 0x03


def _adc12(value: float, lsb: float):
    raw = max(0, min(0xFFF, int(round(value / lsb))))
    return raw >> 4, raw & 0x0F


def _adc13(value: float, lsb: float):
    raw = max(0, min(0x1FFF, int(round(value / lsb))))
    return raw >> 5, raw & 0x1F


class AXP192(RegisterModel):
    chip = "axp192"
    addr = 0x34

    def __init__(self, clock=None, addr=None, env=None):
        super().__init__(clock, addr, env)
        self.regs = bytearray(256)
        self.regs[0x03] = IC_TYPE
        self.regs[0x12] = 0x01  # DC-DC1 (the ESP32's supply) on at power-up
        self.regs[0x26] = 0x68  # 3.3 V
        self.regs[0x33] = 0xC0
        self.regs[0x82] = 0x83
        self.regs[0x83] = 0x80  # internal temperature ADC on
        self.regs[0x30] = 0x60  # V_HOLD 4.4 V (bits 5:3 = 100)
        self._vbus_was = None

    def rail_on(self, bit: int) -> bool:
        return bool(self.regs[0x12] & (1 << bit))

    def dcdc1_mv(self) -> int:
        return 700 + 25 * (self.regs[0x26] & 0x7F)

    def ldo2_mv(self) -> int:
        return 1800 + 100 * (self.regs[0x28] >> 4)

    def _events(self):
        """Latch the IRQ events seen since the last transaction: VBUS inserted / removed (0x44 bits 3 / 2)."""
        present = self.value("vbus_v") > 4.0
        if self._vbus_was is not None and present != self._vbus_was:
            self.regs[0x44] |= 0x08 if present else 0x04
        self._vbus_was = present

    def write_reg(self, reg, v):
        self._events()
        if 0x44 <= reg <= 0x47:
            self.regs[reg] &= ~v & 0xFF  # IRQ status: write 1 to clear
            return
        if reg in (0x00, 0x01, 0x03) or 0x56 <= reg <= 0x7F:
            return  # status and ADC data are read-only
        self.regs[reg] = v

    def read_reg(self, reg):
        bat_v = self.value("battery_v")
        bat_ma = self.value("battery_ma")
        vbus = self.value("vbus_v")
        adc = self.regs[0x82]
        self._events()
        if reg == 0x00:
            vhold = 4.0 + 0.1 * ((self.regs[0x30] >> 3) & 7)
            present = vbus > 4.0
            return ((0x30 if present else 0) | (0x08 if vbus > vhold else 0) | (0x04 if bat_ma > 0 else 0))
        if reg == 0x01:
            return (0x40 if bat_ma > 0 else 0) | (0x20 if bat_v > 2.5 else 0)
        if reg in (0x78, 0x79):
            hi, lo = _adc12(bat_v * 1000, 1.1) if adc & 0x80 else (0, 0)
            return hi if reg == 0x78 else lo
        if reg in (0x5A, 0x5B):
            hi, lo = _adc12(vbus * 1000, 1.7) if adc & 0x08 else (0, 0)
            return hi if reg == 0x5A else lo
        if reg in (0x7E, 0x7F):
            aps = max(vbus, bat_v) if vbus > 4.0 else bat_v  # IPSOUT: VBUS through the switch when present
            hi, lo = _adc12(aps * 1000, 1.4) if adc & 0x02 else (0, 0)
            return hi if reg == 0x7E else lo
        if reg in (0x5E, 0x5F):
            raw = (self.value("temperature_c") + 144.7) / 0.1 if self.regs[0x83] & 0x80 else 0.0
            hi, lo = _adc12(raw, 1.0)
            return hi if reg == 0x5E else lo
        if reg in (0x7A, 0x7B, 0x7C, 0x7D):
            charge = reg < 0x7C
            ma = bat_ma if charge else -bat_ma
            hi, lo = _adc13(max(0.0, ma), 0.5) if adc & 0x40 else (0, 0)
            return hi if reg in (0x7A, 0x7C) else lo
        return self.regs[reg]
