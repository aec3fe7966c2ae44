"""What sits on a virtual board's buses: the parts its board file names, built from the part tables
(``fieldnode.parts``) and the scenario, and the GPIO lines that reach them.

    w = wire(boards.load("m5stack-core2"), clock, {"env": {...}, "modem": {...}})
    HwBus(clock, i2c=w.i2c, uart=w.uart, adc=w.adc, on_pin=w.on_pin)

Sensors are the register-level models of ``sim/sensors`` on the board file's I2C buses, and the ADC inputs, all
reading one physical environment (``sim/physics.py``, the scenario's ``"env"``); the scenario's ``"adc"``
({pin: raw}) pins an ADC input to a fixed reading. The modem is the model of the board file's ``modem.type``
(``sim/modems``, the variant included: a bg96 board gets a BG96) on its UART, with the scenario's ``"modem"``.

A malformed scenario raises the ``ConfigError`` that names its key; nothing is left out quietly.
"""

from dataclasses import dataclass, field

from . import modems
from .sensors import build_adc, build_bus_devices


@dataclass
class Wiring:
    i2c: dict  # HwBus i2c mapping {bus key: {addr: I2CDevice}}
    adc: dict  # {pin: fn(now_ms) -> raw}
    uart: dict  # {uart id: UARTDevice}
    modem: object = None
    modem_lines: dict = field(default_factory=dict)  # {"pwrkey": gpio, "dtr": gpio} as the board file wires them

    def on_pin(self, pin: int, value: int, now: int) -> None:
        """GPIO writes from the firmware: the modem's PWRKEY line (1 = key pressed) and DTR line (1 = high, the
        module may sleep) reach the modem model."""
        for line in ("pwrkey", "dtr"):
            if self.modem_lines.get(line) == pin and self.modem is not None and hasattr(self.modem, line):
                getattr(self.modem, line)(value, now)


def environment(scenario: dict):
    """The physics the sensors read: the scenario's ``"env"`` (``sim/physics.py`` keys), or a quiet default."""
    from .physics import Environment

    return Environment.from_dict(scenario["env"]) if "env" in scenario else Environment()


def wire(board, clock, scenario: dict, sensors=None, modem=None, env=None, on_modem_power=None) -> Wiring:
    """The parts of ``board`` (a parsed ``boards.Board``). ``sensors`` (an HwBus i2c mapping) and ``modem`` (a
    UARTDevice) replace the board file's; ``env`` an ``Environment`` already built; ``on_modem_power(state)`` is
    told of every power state of the modem."""
    if env is None and (sensors is None or "env" in scenario):
        env = environment(scenario)
    if sensors is None:
        i2c, adc = build_bus_devices(board, clock, env), build_adc(board, env)
    else:
        i2c, adc = sensors, {}
    for pin, raw in (scenario.get("adc") or {}).items():
        adc[int(pin)] = (lambda r: (lambda now: r))(raw)
    spec = board["modem"]
    if not spec:
        return Wiring(i2c, adc, {})
    if modem is None:
        mscen = dict(scenario.get("modem") or {})
        if spec.get("pwrkey") is not None:
            mscen.setdefault("power", "off")  # a modem on a PWRKEY line stays off until the firmware presses the key
        modem = modems.create(spec["type"], clock, mscen)
    if on_modem_power is not None:
        modem.on_power = on_modem_power
    lines = {k: spec[k] for k in ("pwrkey", "dtr") if spec.get(k) is not None}
    return Wiring(i2c, adc, {board["buses"][spec["bus"]]["id"]: modem}, modem, lines)
