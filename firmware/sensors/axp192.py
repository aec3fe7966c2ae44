"""X-Powers AXP192 power management IC (M5Stack Core2, StickC): the rails a board needs, battery voltage and
current, charge state.

    from sensors.axp192 import AXP192
    pmu = AXP192(i2c)                                      # OSError naming 0x34 if absent
    pmu.set_rails({"dcdc1_mv": 3350, "ldo2_mv": 3300, "exten": True})
    mv, ma, flags = pmu.read()                            # battery mV, battery mA (+ charging), FLAG_* bits

Datasheet: X-Powers AXP192 v1.13. IC type register 0x03 reads 0x03 (the identity check). Output control 0x12:
bit 0 DC-DC1, 1 DC-DC3, 2 LDO2, 3 LDO3, 4 DC-DC2, 6 EXTEN. DC-DC1 0x26 and DC-DC3 0x27: 700 + 25 mV * n
(n 0..112); LDO2 (0x28[7:4]) and LDO3 (0x28[3:0]): 1800 + 100 mV * n. ADC enable 0x82 (bit 7 battery voltage,
6 battery current, 3 VBUS voltage). Battery voltage 0x78/0x79, 12 bits, 1.1 mV/LSB; charge 0x7A/0x7B and
discharge 0x7C/0x7D currents, 13 bits, 0.5 mA/LSB. Status 0x00 bit 5 VBUS present; 0x01 bit 6 charging, bit 5
battery present. On the Core2, DC-DC1 powers the ESP32, LDO2 the LCD logic and SD card, DC-DC3 the backlight,
LDO3 the vibration motor, and EXTEN the 5 V boost that feeds the Grove ports (M5Stack Core2 schematic).
"""

from micropython import const

_STATUS = const(0x00)
_CHARGE = const(0x01)
_IC_TYPE = const(0x03)
_OUTPUT = const(0x12)
_DCDC1_V = const(0x26)
_DCDC3_V = const(0x27)
_LDO23_V = const(0x28)
_ADC_EN1 = const(0x82)
_BAT_V = const(0x78)
_BAT_CHG = const(0x7A)
_ENODEV = const(19)

FLAG_CHARGING = const(1)
FLAG_VBUS = const(2)
FLAG_BATTERY = const(4)

# rail name -> bit in register 0x12
_RAILS = {"dcdc1": 0, "dcdc3": 1, "ldo2": 2, "ldo3": 3, "dcdc2": 4, "exten": 6}


class AXP192:
    def __init__(self, i2c, addr=0x34):
        self.i2c = i2c
        self.addr = addr
        self._b1 = bytearray(1)
        self._b4 = bytearray(6)
        try:
            i2c.readfrom_mem_into(addr, _IC_TYPE, self._b1)
        except OSError:
            raise OSError(_ENODEV, "AXP192: no answer at I2C address %#x" % addr)
        if self._b1[0] != 0x03:
            raise OSError(_ENODEV, "AXP192: IC type %#x at %#x is not an AXP192 (0x03)" % (self._b1[0], addr))
        self._set(_ADC_EN1, self._get(_ADC_EN1) | 0xC8)  # battery V and I, VBUS V

    def _get(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self._b1)
        return self._b1[0]

    def _set(self, reg, v):
        self._b1[0] = v
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def rail(self, name, on):
        bit = _RAILS.get(name)
        if bit is None:
            raise ValueError("AXP192: no rail %r (rails: dcdc1, dcdc2, dcdc3, ldo2, ldo3, exten)" % name)
        v = self._get(_OUTPUT)
        self._set(_OUTPUT, v | (1 << bit) if on else v & ~(1 << bit))

    def set_mv(self, name, mv):
        if name in ("dcdc1", "dcdc3"):
            if not 700 <= mv <= 3500:
                raise ValueError("AXP192: %s takes 700..3500 mV" % name)
            self._set(_DCDC1_V if name == "dcdc1" else _DCDC3_V, (mv - 700) // 25)
        elif name in ("ldo2", "ldo3"):
            if not 1800 <= mv <= 3300:
                raise ValueError("AXP192: %s takes 1800..3300 mV" % name)
            n = (mv - 1800) // 100
            v = self._get(_LDO23_V)
            self._set(_LDO23_V, (v & 0x0F) | (n << 4) if name == "ldo2" else (v & 0xF0) | n)
        else:
            raise ValueError("AXP192: no settable voltage on %r" % name)

    def set_rails(self, rails):
        """Apply a board file's rails: {"dcdc1_mv": 3350, "ldo2_mv": 3300, "exten": True, "ldo3": False}."""
        for key in rails:
            v = rails[key]
            if key.endswith("_mv"):
                name = key[:-3]
                self.set_mv(name, v)
                self.rail(name, True)
            else:
                self.rail(key, bool(v))

    def battery_mv(self):
        self.i2c.readfrom_mem_into(self.addr, _BAT_V, self._b4)
        return (((self._b4[0] << 4) | (self._b4[1] & 0x0F)) * 11) // 10

    def read_into(self, out):
        """out[0] = battery mV, out[1] = battery mA (positive while charging), out[2] = FLAG_* bits."""
        b = self._b4
        out[0] = self.battery_mv()
        self.i2c.readfrom_mem_into(self.addr, _BAT_CHG, b)
        chg = (b[0] << 5) | (b[1] & 0x1F)
        dis = (b[2] << 5) | (b[3] & 0x1F)
        out[1] = (chg - dis) // 2
        st, ch = self._get(_STATUS), self._get(_CHARGE)
        out[2] = (FLAG_CHARGING if ch & 0x40 else 0) | (FLAG_VBUS if st & 0x20 else 0) | (
            FLAG_BATTERY if ch & 0x20 else 0)

    def read(self):
        out = [0, 0, 0]
        self.read_into(out)
        return out[0], out[1], out[2]
