"""Node files on the host: read, check against the board file, show the report layout, decode a node's reports.

The checking is the firmware's own ``node.validate`` (firmware/node.py, through fwbridge), the one the device runs
on its config at boot; this module adds what only the host knows: the file's name and the board file, whose sensors
a measurement must name.

    from fieldnode import node
    n, lay = node.check("tools/scenarios/nodes/cold-store.json")   # ConfigError "FILE: measurements[1].quantity: ..."
    node.check("my-node.yaml")                             # YAML too (pinned pyyaml); the device always gets JSON
    node.fields(lay)                                       # the field table, with each field's byte offset
    node.soracom_format(lay)                               # the SORACOM Binary Parser format of an uplink of one
    node.decode(raw, n)                                    # one report in units
"""

from pathlib import Path

from . import fwbridge
from .errors import ConfigError
from .paths import SCENARIOS

EXAMPLES = SCENARIOS / "nodes"  # the example node files; shipped with the scenarios that run them


def firmware():
    return fwbridge.load("node")


YAML_SUFFIXES = (".yaml", ".yml")


def resolve(ref) -> Path:
    """A node file's path: as given, or the name of an example node (tools/scenarios/nodes/NAME.json or .yaml)."""
    p = Path(ref)
    if not p.exists():
        for suf in (".json", *YAML_SUFFIXES):
            if (EXAMPLES / f"{ref}{suf}").exists():
                return EXAMPLES / f"{ref}{suf}"
    return p


def validate(data: dict, where: str = "node"):
    """(validated node, Layout): the firmware's validator, the board's sensors from its board file; ConfigError
    "WHERE: field path: what is wrong; what is allowed"."""
    from . import boards

    fw = firmware()
    sensors = None
    if isinstance(data, dict) and isinstance(data.get("board"), str):
        try:
            sensors = [s["type"] for s in boards.load(data["board"]).get("sensors") or []]
        except ConfigError as e:
            raise ConfigError(f"{where}: board: {e.message}", "fieldnode boards lists the boards") from None
    try:
        n = fw.validate(data, sensors)
    except ValueError as e:
        raise ConfigError(f"{where}: {e.args[0]}", "fix the node file, then run fieldnode node check again") from None
    return n, fw.Layout(n)


def read(path) -> dict:
    """The object in a node file: JSON, or YAML when the name ends in .yaml/.yml; ConfigError with one line naming
    the file (and for a syntax error its line) otherwise."""
    from .jsonfile import read_object

    p = Path(path)
    example = '{"name": "my_node", "board": "lowpower-ref", "measurements": [...]}'
    if p.suffix.lower() not in YAML_SUFFIXES:
        return read_object(p, "a node file (JSON object)", example)
    import yaml  # pinned in pyproject.toml

    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {p}: {e.strerror}", "give an existing node file") from None
    try:
        d = yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{p} is not valid YAML{where}: {what}", "fix the file (a node file, YAML mapping)") \
            from None
    if not isinstance(d, dict):
        raise ConfigError(f"{p} must hold a node file (YAML mapping)", "e.g. name: my_node / board: lowpower-ref")
    return d


def _yaml_loader():
    """yaml.SafeLoader with YAML 1.2's booleans (true/false only): under PyYAML's YAML 1.1 a detector's key ``on``
    (and yes/no/off) would be read as a boolean, and ``on: temperature`` would lose its key."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
    return Loader


def check(path):
    """Read and validate a node file (JSON or YAML); see validate()."""
    p = resolve(path)
    return validate(read(p), str(p))


# What drives each quantity in a simulation: the physics quantities (sim/physics.py) the sensor models read.
# An adc measurement reads what the board's adc entry is wired to (sim/sensors/adc.py): a light sensor light_lux, a
# current transformer current_a (at mains_hz). power is the INA219 model's bus voltage x current.
DRIVEN_BY = {"temperature": ("temperature_c",), "humidity": ("humidity_pct",), "pressure": ("pressure_pa",),
             "battery": ("battery_v",), "bus_voltage": ("bus_voltage_v",), "current": ("current_a",),
             "power": ("bus_voltage_v", "current_a")}
ADC_DRIVEN_BY = {"light": ("light_lux",), "ct": ("current_a",)}


def check_driven(n: dict, env: dict, where: str = "scenario") -> None:
    """ConfigError (one line) for the first measurement of node ``n`` whose quantity the scenario's physics
    (``env``: an "environment" section, sim/physics.py) does not drive: every declared quantity must be named in
    its "quantities" (a constant, a function of time, a CSV series; faults apply on top)."""
    from . import boards

    given = set((env or {}).get("quantities") or {})
    adc_kinds = {s.get("pin"): s.get("kind", "ct") for s in boards.load(n["board"]).get("sensors") or []
                 if s["type"] == "adc"}
    for i, m in enumerate(n["measurements"]):
        need = DRIVEN_BY.get(m["quantity"])
        if m["quantity"] == "adc":
            need = ADC_DRIVEN_BY[next(iter(adc_kinds.values()), "ct")]
        missing = [q for q in need if q not in given]
        if missing:
            raise ConfigError(
                f"{where}: node {n['name']} measures {m['quantity']} ({m['name']}, measurements[{i}]) but the "
                f"scenario does not drive {' and '.join(missing)}",
                f"add environment.quantities.{missing[0]} (a number, sine, ramp, steps, csv...) to the scenario")


def register(registry, device_id: int, n: dict, who=None) -> str:
    """Record node ``n`` among the device's nodes (registry fact "nodes", by schema id), so that the collector
    decodes its reports (collector/nodeview.py); earlier nodes stay, so reports stored under them still decode.
    Returns the schema id."""
    sid = sid_hex(firmware().Layout(n))
    known = dict(registry.get(device_id).facts.get("nodes") or {})
    if known.get(sid) != n:
        known[sid] = n
        registry.set_facts(device_id, who=who, nodes=known)
    return sid


def sid_hex(lay) -> str:
    return f"{lay.sid:04x}"


def fields(lay) -> list[dict]:
    """The field table of a node report: [{"name", "type", "bytes", "offset" (from the report's first byte, the
    0xFF mark), "resolution", "unit", "quantity"}]."""
    rows = [{"name": "ts", "type": "u32", "bytes": 4, "resolution": 1, "unit": "s", "quantity": "time"},
            {"name": "flags", "type": "u8", "bytes": 1, "resolution": 1, "unit": "", "quantity": "flags"}]
    for f, m in zip(lay.fields, lay.node["measurements"], strict=True):
        size = {"B": 1, "b": 1, "H": 2, "h": 2, "I": 4, "i": 4}[f[1]]
        rows.append({"name": f[0], "type": ("u" if f[1].isupper() else "i") + str(8 * size), "bytes": size,
                     "resolution": m["resolution"], "unit": f[7], "quantity": m["quantity"]})
    if lay.detectors:
        rows.append({"name": "events", "type": "u8", "bytes": 1, "resolution": 1, "unit": "",
                     "quantity": "bit i: " + ", ".join(d["name"] for d in lay.detectors)})
    off = lay.size - lay.body  # the prefix: mark, schema id, length
    for r in rows:
        r["offset"] = off
        off += r["bytes"]
    return rows


def units(n: dict) -> dict:
    """{field name: unit} of node ``n``'s measurements, in declared order (export's and the reports' columns)."""
    return {m["name"]: m["unit"] for m in n["measurements"]}


def soracom_format(lay) -> str:
    """The SORACOM Binary Parser custom format for an uplink carrying one report of this node.

    Syntax (SORACOM users documentation, "Binary Parser / Custom Format", users.soracom.io/ja-jp/docs/binary-parser/
    custom-format/): space-separated ``name:byte_index:type:settings``; int/uint take a bit length, bool a bit
    position (7 = most significant), and a trailing ``:/N`` or ``:*N`` operation scales the value; multi-byte values
    are big-endian by default, the codec's byte order. The header fields are the fixed report's
    (collector/views.soracom_header); the node's fields start after the 4-byte prefix, whose schema id is given too
    so a cloud rule can tell layouts apart. Batched uplinks and the HEALTH block need the collector."""
    from .collector.fw import codec, schema
    from .collector.views import soracom_header

    parts = soracom_header()
    base = codec.HEADER
    parts.append(f"schema:{base + 1}:uint:16")
    for r in fields(lay):
        off = base + r["offset"]
        if r["name"] == "flags":
            parts += [f"{fname}:{off}:bool:{bit.bit_length() - 1}" for bit, fname in schema.FLAG_NAMES
                      if bit != schema.FLAG_HEALTH]
        elif r["name"] == "events":
            parts += [f"{d['name']}:{off}:bool:{i}" for i, d in enumerate(lay.detectors)]
        else:
            parts.append(f"{r['name']}:{off}:{'uint' if r['type'][0] == 'u' else 'int'}:{8 * r['bytes']}"
                         f"{_soracom_op(r['resolution'])}")
    return " ".join(parts)


def _soracom_op(res) -> str:
    if res == 1:
        return ""
    inv = 1 / res
    if abs(inv - round(inv)) < 1e-9:
        return f":/{round(inv)}"
    return f":*{res:g}"


def decode(raw: bytes, n: dict) -> dict:
    """A node report of node ``n`` in units: {"schema", "node", "ts", "flags" (int), <field>: value, "units",
    "events": [names], "health": tuple or None}."""
    lay = firmware().Layout(n)
    ts, flags, vals, events, health = lay.decode(raw)
    out = {"schema": sid_hex(lay), "node": n["name"], "ts": ts, "flags": flags}
    units = {}
    for f, m, v in zip(lay.fields, n["measurements"], vals, strict=True):
        out[f[0]] = round(v * m["resolution"], 9)
        units[f[0]] = f[7]
    out["units"] = units
    out["events"] = [d["name"] for i, d in enumerate(lay.detectors) if events & (1 << i)]
    out["health"] = health
    return out
