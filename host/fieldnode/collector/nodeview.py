"""A node report (firmware/node.py) as a dict in units, decoded with the layout of the node that made it.

The collector finds the layout by the report's schema id among the nodes the device was provisioned with (the
registry's device fact "nodes": {schema id hex: node}, written by ``provision --node``). A node whose file changed
has a new schema id; the old one stays in the fact, so reports stored under it still decode. A report whose schema
id the collector does not know is still stored (nothing is lost): with its ts, flags, "schema" and "undecoded" (its
bytes in hex), to decode once the node is registered.
"""

import struct

from .fw import schema


def _flag_names(flags):
    return [name for bit, name in schema.FLAG_NAMES if flags & bit and bit != schema.FLAG_HEALTH]


def node_to_dict(device_id: int, counter: int, raw: bytes, nodes: dict | None, received=None) -> dict:
    from .. import node as nodefile

    sid = f"{struct.unpack_from('>H', raw, 1)[0]:04x}"
    n = (nodes or {}).get(sid)
    out = {"device": device_id, "counter": counter}
    if n is None:
        ts, flags = struct.unpack_from(">IB", raw, 4)
        out.update(ts=ts, flags=_flag_names(flags), schema=sid, undecoded=raw.hex(), health=None)
    else:
        d = nodefile.decode(raw, n)
        health = d.pop("health")
        d["flags"] = _flag_names(d["flags"])
        out.update(d)
        out["health"] = None if health is None else {
            f[0]: (v if f[2] == 1 else round(v / f[2], 6)) for f, v in zip(schema.HEALTH, health, strict=True)}
    if received is not None and out["ts"] < schema.TS_SYNCED:
        out["ts_device"] = out["ts"]
        out["ts"] = int(received)
        out["ts_source"] = "collector"
    return out
