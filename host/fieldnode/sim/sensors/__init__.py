"""Register-level models of the sensor chips, and the helpers that plug a board file's sensors into a HwBus.

Which model stands in for which chip is ``fieldnode.parts.SENSORS`` (``MODELS`` here is a view of it: a board
file's sensor ``type`` -> model class); every model is built as ``cls(clock, addr, env, **options)`` and answers I2C
transactions with the bytes the part would send (see each module's docstring for its datasheet).

    from fieldnode import boards
    from fieldnode.sim.clock import VirtualClock
    from fieldnode.sim.hwbus import HwBus
    from fieldnode.sim.physics import Environment, core2_demo
    from fieldnode.sim.sensors import build_bus_devices, build_adc

    board, clock = boards.load("m5stack-core2"), VirtualClock()
    env = Environment.from_dict(core2_demo(bearing_start_s=3600))
    bus = HwBus(clock, i2c=build_bus_devices(board, clock, env), adc=build_adc(board, env))
"""

from ... import parts
from .adc import ct_source, light_source
from .axp192 import AXP192
from .bmp280 import BMP280
from .ina219 import INA219
from .mpu6886 import MPU6886
from .qmp6988 import QMP6988
from .sht3x import SHT3x

_I2C = {name: p for name, p in parts.SENSORS.items() if p.bus == "i2c"}
MODELS = {name: parts.model_class(p) for name, p in _I2C.items()}
# Extra keys a board file's sensor entry may carry for the model (everything else is for the firmware).
MODEL_OPTIONS = {name: p.model_options for name, p in _I2C.items() if p.model_options}


def _entries(board):
    data = board.data if hasattr(board, "data") else board
    return data, data.get("sensors", [])


def bus_key(bus: dict) -> int:
    """The HwBus key of a board bus: its I2C id, or 0x80 | SDA for a SoftI2C bus (as the machine shim sends)."""
    return 0x80 | bus["sda"] if bus.get("soft") else bus["id"]


def build_bus_devices(board, clock, env) -> dict:
    """The HwBus ``i2c`` mapping {bus_key: {addr: model}} for every I2C sensor a board file declares.

    Each bus is reachable under its hardware id and under ``0x80 | sda`` (the key SoftI2C on those pins uses), so
    firmware that bit-bangs the same pins finds the same parts.
    """
    data, sensors = _entries(board)
    out: dict = {}
    for s in sensors:
        if s["type"] not in MODELS:
            continue
        bus = data["buses"][s["bus"]]
        addr = int(s["addr"], 0) if isinstance(s["addr"], str) else int(s["addr"])
        opts = {k: s[k] for k in MODEL_OPTIONS.get(s["type"], ()) if k in s}
        model = MODELS[s["type"]](clock, addr, env, **opts)
        for key in {bus_key(bus), 0x80 | bus["sda"]}:
            out.setdefault(key, {})[addr] = model
    return out


def build_adc(board, env) -> dict:
    """The HwBus ``adc`` mapping {pin: fn(now_ms) -> raw} for the board's ``adc`` sensors."""
    _, sensors = _entries(board)
    out = {}
    for s in sensors:
        if s["type"] != "adc":
            continue
        if s.get("kind", "ct") == "ct":
            out[s["pin"]] = ct_source(env, s.get("turns", 2000), s.get("burden_ohm", 33.0))
        else:
            # the board file's scale, as the firmware's driver reads it (mv_per_lux_x1000, default 100: 0.1 mV/lx)
            out[s["pin"]] = light_source(env, s.get("mv_per_lux_x1000", 100) / 1000)
    return out


__all__ = ["MODELS", "build_bus_devices", "build_adc", "bus_key", "SHT3x", "QMP6988", "BMP280", "MPU6886",
           "AXP192", "INA219"]
