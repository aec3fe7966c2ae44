"""Texas Instruments INA219: bus voltage, shunt current and power of a machine (pay-per-use metering).

    from sensors.ina219 import INA219
    m = INA219(i2c, addr=0x40, shunt_mohm=100)       # OSError naming the address if absent
    bus_mv, shunt_uv, current_ua, power_uw = m.read()

Datasheet: TI SBOS448. No identity register: after a reset (bit 15 of configuration register 0x00) the
configuration reads 0x399F (section 8.6.1), which is checked. Calibration (section 8.5.1, equation 1):
Cal = trunc(0.04096 / (Current_LSB x R_shunt)), here 40960000 // (current_lsb_ua x shunt_mohm). Registers:
0x01 shunt voltage (signed, 10 uV/LSB), 0x02 bus voltage (bits 15:3 x 4 mV; bit 0 OVF = math overflow),
0x03 power (20 x Current_LSB per count), 0x04 current (Current_LSB per count, signed). The default configuration
(32 V range, +-320 mV shunt range, 12-bit, continuous) is kept.
"""

from micropython import const

_CONFIG = const(0x00)
_SHUNT = const(0x01)
_BUS = const(0x02)
_POWER = const(0x03)
_CURRENT = const(0x04)
_CAL = const(0x05)
_CONFIG_RESET = const(0x399F)
_ENODEV = const(19)


class INA219:
    def __init__(self, i2c, addr=0x40, shunt_mohm=100, current_lsb_ua=100):
        self.i2c = i2c
        self.addr = addr
        self._b2 = bytearray(2)
        self._w = bytearray(2)
        if shunt_mohm <= 0 or current_lsb_ua <= 0:
            raise ValueError("INA219: shunt_mohm and current_lsb_ua must be positive")
        self.current_lsb_ua = current_lsb_ua
        try:
            self._set(_CONFIG, 0x8000)  # reset
            cfg = self._get(_CONFIG)
        except OSError:
            raise OSError(_ENODEV, "INA219: no answer at I2C address %#x" % addr)
        if cfg != _CONFIG_RESET:
            raise OSError(_ENODEV, "INA219: configuration %#x at %#x after reset is not 0x399f" % (cfg, addr))
        self.cal = 40960000 // (current_lsb_ua * shunt_mohm)
        if not 1 <= self.cal <= 0xFFFE:
            raise ValueError("INA219: calibration %d out of range: choose another current_lsb_ua" % self.cal)
        self._set(_CAL, self.cal)
        self.overflow = False

    def _set(self, reg, v):
        self._w[0] = v >> 8
        self._w[1] = v & 0xFF
        self.i2c.writeto_mem(self.addr, reg, self._w)

    def _get(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self._b2)
        return (self._b2[0] << 8) | self._b2[1]

    def _sget(self, reg):
        v = self._get(reg)
        return v - 0x10000 if v & 0x8000 else v

    def read_into(self, out):
        """out[0] = bus mV, out[1] = shunt uV, out[2] = current uA, out[3] = power uW. No allocation."""
        bus = self._get(_BUS)
        self.overflow = bool(bus & 0x01)
        out[0] = (bus >> 3) * 4
        out[1] = self._sget(_SHUNT) * 10
        out[2] = self._sget(_CURRENT) * self.current_lsb_ua
        out[3] = self._get(_POWER) * 20 * self.current_lsb_ua

    def read(self):
        out = [0, 0, 0, 0]
        self.read_into(out)
        return out[0], out[1], out[2], out[3]
