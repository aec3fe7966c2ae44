"""Every part a board file can name, one table per kind: what the board file calls it, the firmware driver that runs
it on the device, the register- or AT-level model that stands in for it on a virtual board, and its options.

Adding a sensor or a modem means a row here (plus the driver and the model); ``boards.py`` validates board files
against these names, ``sim/wiring.py`` builds the models from them, and a test holds the firmware's own table
(``firmware/board.py`` ``_CLASSES``, which cannot import host code) to this one.

    from fieldnode import parts
    parts.SENSORS["sht3x"].driver          # "sensors.sht3x:SHT3x" (a firmware module, imported on the device)
    parts.model_class(parts.MODEMS["bg96"])   # the simulated BG96, built as cls(clock, scenario)
"""

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class SensorPart:
    name: str  # the board file's sensors[].type
    bus: str  # "i2c" or "adc"
    driver: str  # firmware "module:Class"
    model: str | None  # host "module:Class" of the simulated chip (None: built from the environment, as the ADC)
    model_options: tuple = ()  # board-file keys the model takes (everything else is for the firmware)
    driver_options: tuple = ()  # board-file keys the firmware driver takes


@dataclass(frozen=True)
class ModemPart:
    name: str  # the board file's modem.type
    family: str  # the AT dialect: "sim7080g" or "bg9x"
    driver: str  # firmware "module:Class"
    model: str  # host "module:Class" of the simulated module
    power: str  # the power profile's name in sim/modems/power.py


_SIM = "fieldnode.sim"
SENSORS = {p.name: p for p in (
    SensorPart("sht3x", "i2c", "sensors.sht3x:SHT3x", f"{_SIM}.sensors.sht3x:SHT3x"),
    SensorPart("qmp6988", "i2c", "sensors.qmp6988:QMP6988", f"{_SIM}.sensors.qmp6988:QMP6988"),
    SensorPart("bmp280", "i2c", "sensors.bmp280:BMP280", f"{_SIM}.sensors.bmp280:BMP280"),
    SensorPart("mpu6886", "i2c", "sensors.mpu6886:MPU6886", f"{_SIM}.sensors.mpu6886:MPU6886",
               model_options=("clock_ppm",), driver_options=("rate_hz", "accel_fs_g", "gyro_fs_dps")),
    SensorPart("axp192", "i2c", "sensors.axp192:AXP192", f"{_SIM}.sensors.axp192:AXP192"),
    SensorPart("ina219", "i2c", "sensors.ina219:INA219", f"{_SIM}.sensors.ina219:INA219",
               model_options=("shunt_ohm",), driver_options=("shunt_mohm", "current_lsb_ua")),
    SensorPart("adc", "adc", "sensors.adc:AnalogSensor", None,
               driver_options=("kind", "samples", "interval_ms", "turns", "burden_ohm", "mv_per_lux_x1000")),
)}

MODEMS = {p.name: p for p in (
    ModemPart("sim7080g", "sim7080g", "net.sim7080g:SIM7080G", f"{_SIM}.modems.sim7080g:SIM7080G", "sim7080g"),
    ModemPart("bg95", "bg9x", "net.bg9x:BG9x", f"{_SIM}.modems.bg9x:BG95", "bg95"),
    ModemPart("bg96", "bg9x", "net.bg9x:BG9x", f"{_SIM}.modems.bg9x:BG96", "bg96"),
    ModemPart("bg77", "bg9x", "net.bg9x:BG9x", f"{_SIM}.modems.bg9x:BG77", "bg77"),
)}


def resolve(ref: str):
    """The object a "module:Name" reference names (host modules only; firmware ones go through ``fwbridge``)."""
    module, _, name = ref.partition(":")
    return getattr(import_module(module), name)


def model_class(part):
    """The simulated part's class (imported on first use, so that board validation does not load the simulator)."""
    if part.model is None:
        raise LookupError(f"{part.name} has no model class: it is built from the environment")
    return resolve(part.model)
