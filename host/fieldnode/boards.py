"""Board files: one JSON file per board in ``boards/``, read by the host and deployed to the device.

Adding a board means adding a file. ``load(name)`` validates it and raises ``ConfigError`` naming the file, the
field and what is allowed, so a typo never becomes a confusing failure later.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from . import parts
from .errors import ConfigError
from .paths import BOARDS

CHIPS = {"esp32": "xtensawin", "esp32s3": "xtensawin", "esp32c3": "rv32imc"}
SENSORS = set(parts.SENSORS)  # the part tables name what a board file may name (fieldnode/parts.py)
MODEMS = set(parts.MODEMS)
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

    def power_range(self, key: str) -> tuple[float, float, float]:
        """(min, value, max) in mA: measured spreads such as M5Stack deep sleep (0.4-4 mA) say so in the file."""
        e = self.data["power"][key]
        v = float(e["value"])
        return float(e.get("min", v)), v, float(e.get("max", v))

    def sensor(self, kind: str) -> dict | None:
        """The first sensor entry of a type (or by its "name"), or None."""
        for s in self.data["sensors"]:
            if (s.get("name") or s["type"]) == kind or s["type"] == kind:
                return s
        return None


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


TOP_REQUIRED = ("name", "title", "chip", "arch", "flash_size", "firmware_offset", "vfs", "heap_bytes",
                "buses", "sensors", "modem", "wifi", "power")
TOP_OPTIONAL = ("usb", "battery", "sensor_power_pin", "sensor_settle_ms", "pins", "heap_source", "flash_source",
                "notes")
I2C_SENSORS = SENSORS - {"adc"}
ADC_KINDS = {"ct", "light"}
# ESP-IDF GPIO reference (ESP32): "GPIO34-39 can only be set as input mode"
INPUT_ONLY_ESP32 = (34, 35, 36, 37, 38, 39)
AXP192_RAILS = {"dcdc1", "dcdc2", "dcdc3", "ldo2", "ldo3", "exten", "dcdc1_mv", "dcdc3_mv", "ldo2_mv", "ldo3_mv"}


def validate(d: dict, fname: str) -> None:
    """Check a board file; raise ConfigError "<file>: field '<field>': <what is wrong and what is allowed>"."""

    def fail(field, what):
        raise ConfigError(f"{fname}: field '{field}': {what}")

    if not isinstance(d, dict):
        fail("(top)", "must be a JSON object")
    for key in TOP_REQUIRED:
        if key not in d:
            fail(key, "missing (required: " + ", ".join(TOP_REQUIRED) + ")")
    unknown = sorted(set(d) - set(TOP_REQUIRED) - set(TOP_OPTIONAL))
    if unknown:
        fail(unknown[0], f"unknown field; allowed: {', '.join(TOP_REQUIRED + TOP_OPTIONAL)}")
    if fname.endswith(".json") and d["name"] + ".json" != fname:
        fail("name", f"{d['name']!r} does not match the file name (expected {fname[:-5]!r})")
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
    if not isinstance(d["wifi"], bool):
        fail("wifi", "true or false")
    pins_used: dict[int, str] = {}

    def use_pin(pin, where):
        if pin is None:
            return
        if isinstance(pin, bool) or not isinstance(pin, int) or not 0 <= pin <= 48:
            fail(where, f"pin {pin!r} is not a GPIO number 0..48")
        if pin in pins_used:
            fail(where, f"GPIO{pin} is already used by {pins_used[pin]}")
        pins_used[pin] = where

    if not isinstance(d["buses"], dict):
        fail("buses", "an object of bus name -> {kind, id, pins}")
    for bname, bus in d["buses"].items():
        if not isinstance(bus, dict):
            fail(f"buses.{bname}", "an object with kind, id and pins")
        kind = bus.get("kind")
        if kind not in BUS_KINDS:
            fail(f"buses.{bname}.kind", f"{kind!r} is not one of {sorted(BUS_KINDS)}")
        for k in BUS_KINDS[kind]:
            if k not in bus:
                fail(f"buses.{bname}.{k}", f"missing ({kind} buses need {', '.join(BUS_KINDS[kind])})")
        for k in BUS_KINDS[kind][1:]:
            use_pin(bus[k], f"buses.{bname}.{k}")
    ids = {}
    for bname, bus in d["buses"].items():
        key = (bus["kind"], "soft" if bus.get("soft") else bus["id"])
        if key[1] != "soft" and key in ids:
            fail(f"buses.{bname}.id", f"{bus['kind']} {bus['id']} is already bus {ids[key]!r}")
        ids[key] = bname
    for name, pin in (d.get("pins") or {}).items():
        use_pin(pin, f"pins.{name}")
    if not isinstance(d["sensors"], list):
        fail("sensors", "a list of {type, bus, addr} objects")
    names, places = set(), {}
    for i, s in enumerate(d["sensors"]):
        if not isinstance(s, dict):
            fail(f"sensors[{i}]", "an object with type, bus and addr (or pin for adc)")
        if s.get("type") not in SENSORS:
            fail(f"sensors[{i}].type", f"{s.get('type')!r} is not one of {sorted(SENSORS)}")
        key = s.get("name") or s["type"]
        if key in names:
            fail(f"sensors[{i}].name", f"{key!r} is declared twice; give one of them a distinct \"name\"")
        names.add(key)
        if s["type"] == "adc":
            use_pin(s.get("pin"), f"sensors[{i}].pin")
            if s.get("pin") is None:
                fail(f"sensors[{i}].pin", "missing (the ADC GPIO, e.g. 36)")
            if s.get("kind", "ct") not in ADC_KINDS:
                fail(f"sensors[{i}].kind", f"{s.get('kind')!r} is not one of {sorted(ADC_KINDS)}")
            continue
        bus = d["buses"].get(s.get("bus"))
        if not bus or bus["kind"] != "i2c":
            i2c_names = sorted(n for n, b in d["buses"].items() if b["kind"] == "i2c")
            fail(f"sensors[{i}].bus", f"{s.get('bus')!r} is not an i2c bus of this board (allowed: {i2c_names})")
        try:
            addr = int(s["addr"], 0)
        except (KeyError, ValueError, TypeError):
            fail(f"sensors[{i}].addr", "an I2C address string like '0x44'")
        if not 0x08 <= addr <= 0x77:
            fail(f"sensors[{i}].addr", f"{addr:#x} is outside the 7-bit range 0x08..0x77")
        if (s["bus"], addr) in places:
            fail(f"sensors[{i}].addr", f"{addr:#x} on bus {s['bus']!r} is already {places[(s['bus'], addr)]}")
        places[(s["bus"], addr)] = f"sensors[{i}] ({s['type']})"
        if s["type"] == "axp192":
            for r in s.get("rails") or {}:
                if r not in AXP192_RAILS:
                    fail(f"sensors[{i}].rails.{r}", f"unknown rail; allowed: {sorted(AXP192_RAILS)}")
    modem = d["modem"]
    if modem is not None:
        if not isinstance(modem, dict):
            fail("modem", "null (Wi-Fi only) or an object with type, bus, baud, pwrkey, dtr")
        if modem.get("type") not in MODEMS:
            fail("modem.type", f"{modem.get('type')!r} is not one of {sorted(MODEMS)}")
        bus = d["buses"].get(modem.get("bus"))
        if not bus or bus["kind"] != "uart":
            uarts = sorted(n for n, b in d["buses"].items() if b["kind"] == "uart")
            fail("modem.bus", f"{modem.get('bus')!r} is not a uart bus of this board (allowed: {uarts})")
        for key in ("pwrkey", "dtr"):
            use_pin(modem.get(key), f"modem.{key}")
            if d["chip"] == "esp32" and modem.get(key) in INPUT_ONLY_ESP32:
                fail(f"modem.{key}", f"GPIO{modem[key]} is input-only on the ESP32 (GPIO34-39): the modem's "
                                     f"{key.upper()} needs an output pin")
    elif not d["wifi"]:
        fail("modem", "null on a board without Wi-Fi: the node would have no link (add a modem or set wifi)")
    use_pin(d.get("sensor_power_pin"), "sensor_power_pin")
    power = d["power"]
    if not isinstance(power, dict):
        fail("power", "an object of figure -> {value, source}")
    needed = POWER_REQUIRED + (MODEM_POWER if modem else ())
    for k in needed:
        if k not in power:
            fail(f"power.{k}", "missing (needs {\"value\": <mA>, \"source\": \"<document it comes from>\"})")
    for k, entry in power.items():
        if not isinstance(entry, dict) or "value" not in entry or not entry.get("source"):
            fail(f"power.{k}", "needs {\"value\": <mA>, \"source\": \"<document it comes from>\"}")
        v = entry["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            fail(f"power.{k}.value", f"{v!r} is not a current in mA (a number >= 0)")
        lo, hi = entry.get("min", v), entry.get("max", v)
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo <= v <= hi):
            fail(f"power.{k}", f"min {lo!r} <= value {v!r} <= max {hi!r} does not hold")
