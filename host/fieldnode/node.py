"""Node files on the host: read, check against the board file, show the report layout, decode a node's reports.

The checking is the firmware's own ``node.validate`` (firmware/node.py, through fwbridge), the one the device runs
on its config at boot; this module adds what only the host knows: the file's name and the board file, whose sensors
a measurement must name.

    from fieldnode import node
    n, lay = node.check("tools/scenarios/nodes/cold-store.json")   # ConfigError "FILE: measurements[1].quantity: ..."
    node.fields(lay)                                       # the field table
    node.decode(raw, n)                                    # one report in units
"""

from pathlib import Path

from . import fwbridge
from .errors import ConfigError
from .paths import SCENARIOS

EXAMPLES = SCENARIOS / "nodes"  # the example node files; shipped with the scenarios that run them


def firmware():
    return fwbridge.load("node")


def resolve(ref) -> Path:
    """A node file's path: as given, or the name of an example node (tools/scenarios/nodes/NAME.json)."""
    p = Path(ref)
    if not p.exists() and (EXAMPLES / f"{ref}.json").exists():
        return EXAMPLES / f"{ref}.json"
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


def check(path):
    """Read and validate a node file (JSON); see validate()."""
    from .jsonfile import read_object

    p = resolve(path)
    data = read_object(p, "a node file (JSON object)", '{"name": "my-node", "board": "lowpower-ref", ...}')
    return validate(data, str(p))


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
    """The field table of a node report: [{"name", "type", "bytes", "resolution", "unit", "quantity"}]."""
    rows = [{"name": "ts", "type": "u32", "bytes": 4, "resolution": 1, "unit": "s", "quantity": "time"},
            {"name": "flags", "type": "u8", "bytes": 1, "resolution": 1, "unit": "", "quantity": "flags"}]
    for f, m in zip(lay.fields, lay.node["measurements"], strict=True):
        size = {"B": 1, "b": 1, "H": 2, "h": 2, "I": 4, "i": 4}[f[1]]
        rows.append({"name": f[0], "type": ("u" if f[1].isupper() else "i") + str(8 * size), "bytes": size,
                     "resolution": m["resolution"], "unit": f[7], "quantity": m["quantity"]})
    if lay.detectors:
        rows.append({"name": "events", "type": "u8", "bytes": 1, "resolution": 1, "unit": "",
                     "quantity": "bit i: " + ", ".join(d["name"] for d in lay.detectors)})
    return rows


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
