"""The device's side of boards/<name>.json, deployed as /board.json: buses, pins, sensors and the modem UART.

    import board
    b = board.load()                      # reads /board.json, powers the sensors, builds every declared driver
    b.sensors["sht3x"].read()             # drivers by type (or by the entry's "name")
    b.errors                              # {"qmp6988": "QMP6988: no answer at I2C address 0x70"} for absent parts
    uart = b.modem_uart()                 # machine.UART on the modem's pins, or None on a Wi-Fi-only board
    b.pin("pwrkey")                       # the modem's PWRKEY GPIO (None if the board has none)
    b.pin("dtr")                          # the modem's DTR GPIO (None: not wired, UART sleep stays off)

Kept lean for the wake path: json and machine only; each driver module is imported when its sensor is built.
A sensor that does not answer does not stop the others: its error is kept in ``errors`` and reported.
"""

import json

_CLASSES = {"sht3x": "SHT3x", "qmp6988": "QMP6988", "bmp280": "BMP280", "mpu6886": "MPU6886",
            "axp192": "AXP192", "ina219": "INA219", "adc": "AnalogSensor"}
# Board-file keys passed to a driver's constructor, per type (the rest describe wiring).
_OPTIONS = {"mpu6886": ("rate_hz", "accel_fs_g", "gyro_fs_dps"), "ina219": ("shunt_mohm", "current_lsb_ua"),
            "adc": ("kind", "samples", "interval_ms", "turns", "burden_ohm", "mv_per_lux_x1000")}
_POWER_FIRST = ("axp192",)  # power chips come first: they switch on the rails the other sensors sit on


class Board:
    def __init__(self, data):
        self.data = data
        self.name = data["name"]
        self.chip = data["chip"]
        self.sensors = {}
        self.errors = {}
        self._buses = {}

    def pin(self, name):
        """A named GPIO: "pwrkey" or "dtr" (modem), "sensor_power", or any key of the board's "pins" object."""
        if name in ("pwrkey", "dtr"):
            return (self.data.get("modem") or {}).get(name)
        if name == "sensor_power":
            return self.data.get("sensor_power_pin")
        return (self.data.get("pins") or {}).get(name)

    def i2c(self, bus_name):
        """The machine.I2C (or SoftI2C when the bus says "soft": true) for a bus of the board file, made once."""
        bus = self._buses.get(bus_name)
        if bus is None:
            import machine

            d = self.data["buses"][bus_name]
            if d.get("kind") != "i2c":
                raise ValueError("board: bus %r is not an i2c bus" % bus_name)
            freq = d.get("freq", 400000)
            if d.get("soft"):
                bus = machine.SoftI2C(scl=machine.Pin(d["scl"]), sda=machine.Pin(d["sda"]), freq=freq)
            else:
                bus = machine.I2C(d["id"], scl=machine.Pin(d["scl"]), sda=machine.Pin(d["sda"]), freq=freq)
            self._buses[bus_name] = bus
        return bus

    def modem_uart(self, rxbuf=1024):
        """machine.UART on the modem's pins and baud rate; None on a board without a modem. The receive buffer
        is raised from the port's 256 bytes so a burst of URCs does not overflow it (FACTS: TinyGSM #56)."""
        m = self.data.get("modem")
        if not m:
            return None
        import machine

        d = self.data["buses"][m["bus"]]
        return machine.UART(d["id"], m.get("baud", 115200), tx=d["tx"], rx=d["rx"], rxbuf=rxbuf, timeout=0)

    def sensor_power(self, on):
        p = self.data.get("sensor_power_pin")
        if p is None:
            return
        import machine

        machine.Pin(p, machine.Pin.OUT).value(1 if on else 0)

    def build(self, entry):
        """Make the driver for one sensor entry of the board file."""
        kind = entry["type"]
        mod = __import__("sensors." + kind, None, None, (_CLASSES[kind],))
        cls = getattr(mod, _CLASSES[kind])
        opts = {}
        for k in _OPTIONS.get(kind, ()):
            if k in entry:
                opts[k] = entry[k]
        if kind == "adc":
            return cls(entry["pin"], **opts)
        addr = entry["addr"]
        addr = int(addr, 16) if isinstance(addr, str) else addr
        drv = cls(self.i2c(entry["bus"]), addr, **opts)
        if kind == "axp192" and entry.get("rails"):
            drv.set_rails(entry["rails"])
        return drv

    def build_sensors(self, settle_ms=0):
        import time

        if self.data.get("sensor_power_pin") is not None:
            self.sensor_power(True)
            time.sleep_ms(settle_ms or self.data.get("sensor_settle_ms", 2))
        entries = self.data.get("sensors", [])
        order = [e for e in entries if e["type"] in _POWER_FIRST] + [e for e in entries
                                                                      if e["type"] not in _POWER_FIRST]
        for e in order:
            key = e.get("name") or e["type"]
            try:
                self.sensors[key] = self.build(e)
            except OSError as err:
                self.errors[key] = str(err.args[-1]) if err.args else repr(err)
        return self.sensors


def load(path="/board.json", sensors=True):
    """Read the board file and, unless sensors=False, build every declared sensor's driver."""
    with open(path) as f:
        data = json.load(f)
    b = Board(data)
    if sensors:
        b.build_sensors()
    return b
