"""Board files: one JSON file per board in ``boards/``, read by the host and deployed to the device.

Adding a board means adding a file. ``load(name)`` validates it and raises ``ConfigError`` naming the file, the
field and what is allowed, so a typo never becomes a confusing failure later.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .paths import BOARDS

CHIPS = {"esp32": "xtensawin", "esp32s3": "xtensawin", "esp32c3": "rv32imc"}
SENSORS = {"sht3x", "qmp6988", "bmp280", "mpu6886", "axp192", "ina219", "adc"}
MODEMS = {"sim7080g", "bg95", "bg96", "bg77"}
BUS_KINDS = {"i2c": ("id", "sda", "scl"), "uart": ("id", "tx", "rx")}
POWER_REQUIRED = ("active_ma", "light_sleep_ma", "deep_sleep_ma")
MODEM_POWER = ("modem_tx_ma", "modem_idle_ma", "modem_psm_ma", "modem_off_ma")


@dataclass(frozen=True)
class Board:
    name: str
    path: Path
    data: dict

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        return self.data.get(key, default)

    @property
    def chip(self) -> str:
        return self.data["chip"]

    @property
    def arch(self) -> str:
        return self.data["arch"]

    @property
    def heap_bytes(self) -> int:
        return self.data["heap_bytes"]

    @property
    def flash_bytes(self) -> int:
        return parse_size(self.data["flash_size"])

    @property
    def firmware_offset(self) -> int:
        return int(self.data["firmware_offset"], 0)

    @property
    def vfs(self) -> tuple[int, int]:
        v = self.data["vfs"]
        return int(v["offset"], 0), int(v["size"], 0)

    def power(self, key: str) -> float:
        return float(self.data["power"][key]["value"])


def parse_size(text: str) -> int:
    t = str(text).strip().upper()
    for suffix, mult in (("MB", 1 << 20), ("KB", 1 << 10)):
        if t.endswith(suffix):
            return int(t[: -len(suffix)]) * mult
    return int(t, 0)


def names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.json"))


def load(name_or_path) -> Board:
    p = Path(name_or_path)
    if not p.suffix:
        p = BOARDS / f"{name_or_path}.json"
    if not p.exists():
        raise ConfigError(f"no board named {name_or_path!r}", f"choose one of: {', '.join(names())}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p.name}: not valid JSON at line {e.lineno} column {e.colno}: {e.msg}")
    validate(data, p.name)
    return Board(data["name"], p, data)


def all_boards() -> list[Board]:
    return [load(n) for n in names()]


def validate(d: dict, fname: str) -> None:
    def fail(field, what):
        raise ConfigError(f"{fname}: field '{field}': {what}")

    if not isinstance(d, dict):
        fail("(top)", "must be a JSON object")
    for key in ("name", "title", "chip", "arch", "flash_size", "firmware_offset", "vfs", "heap_bytes",
                "buses", "sensors", "modem", "wifi", "power"):
        if key not in d:
            fail(key, "missing")
    if d["name"] + ".json" != fname and not fname.endswith(".json"):
        pass
    if d["chip"] not in CHIPS:
        fail("chip", f"{d['chip']!r} is not one of {sorted(CHIPS)}")
    if d["arch"] != CHIPS[d["chip"]]:
        fail("arch", f"{d['arch']!r} does not match chip {d['chip']} (allowed: {CHIPS[d['chip']]})")
    try:
        parse_size(d["flash_size"])
        int(d["firmware_offset"], 0)
        off, size = int(d["vfs"]["offset"], 0), int(d["vfs"]["size"], 0)
    except (ValueError, KeyError, TypeError) as e:
        fail("flash_size/firmware_offset/vfs", f"sizes and offsets are strings like '4MB' or '0x200000' ({e})")
    if off + size > parse_size(d["flash_size"]):
        fail("vfs", f"partition ends at {off + size:#x}, past the flash size {d['flash_size']}")
    if not isinstance(d["heap_bytes"], int) or d["heap_bytes"] < 32768:
        fail("heap_bytes", "an integer of at least 32768")
    pins_used: dict[int, str] = {}

    def use_pin(pin, where):
        if pin is None:
            return
        if not isinstance(pin, int) or not 0 <= pin <= 48:
            fail(where, f"pin {pin!r} is not a GPIO number 0..48")
        if pin in pins_used:
            fail(where, f"GPIO{pin} is already used by {pins_used[pin]}")
        pins_used[pin] = where

    for bname, bus in d["buses"].items():
        kind = bus.get("kind")
        if kind not in BUS_KINDS:
            fail(f"buses.{bname}.kind", f"{kind!r} is not one of {sorted(BUS_KINDS)}")
        for k in BUS_KINDS[kind]:
            if k not in bus:
                fail(f"buses.{bname}.{k}", "missing")
        for k in BUS_KINDS[kind][1:]:
            use_pin(bus[k], f"buses.{bname}.{k}")
    for i, s in enumerate(d["sensors"]):
        if s.get("type") not in SENSORS:
            fail(f"sensors[{i}].type", f"{s.get('type')!r} is not one of {sorted(SENSORS)}")
        if s.get("type") != "adc":
            bus = d["buses"].get(s.get("bus"))
            if not bus or bus["kind"] != "i2c":
                fail(f"sensors[{i}].bus", f"{s.get('bus')!r} is not an i2c bus of this board ({sorted(d['buses'])})")
            try:
                addr = int(s["addr"], 0)
            except (KeyError, ValueError, TypeError):
                fail(f"sensors[{i}].addr", "an I2C address string like '0x44'")
            if not 0x08 <= addr <= 0x77:
                fail(f"sensors[{i}].addr", f"{addr:#x} is outside the 7-bit range 0x08..0x77")
    modem = d["modem"]
    if modem is not None:
        if modem.get("type") not in MODEMS:
            fail("modem.type", f"{modem.get('type')!r} is not one of {sorted(MODEMS)}")
        bus = d["buses"].get(modem.get("bus"))
        if not bus or bus["kind"] != "uart":
            fail("modem.bus", f"{modem.get('bus')!r} is not a uart bus of this board")
        use_pin(modem.get("pwrkey"), "modem.pwrkey")
    use_pin(d.get("sensor_power_pin"), "sensor_power_pin")
    power = d["power"]
    needed = POWER_REQUIRED + (MODEM_POWER if modem else ())
    for k in needed:
        entry = power.get(k)
        if not isinstance(entry, dict) or "value" not in entry or not entry.get("source"):
            fail(f"power.{k}", "needs {\"value\": <mA>, \"source\": \"<document it comes from>\"}")
