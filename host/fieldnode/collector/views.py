"""Views of the one schema (firmware/proto/schema.py): a report as a dict in units, the field table, and the
SORACOM Binary Parser format string.

SORACOM Binary Parser custom format (users.soracom.io, "Binary Parser / Custom Format"): space-separated fields
``name:byte_index:type:settings``, with int/uint taking a bit length and an optional trailing operation such as
``/100``; multi-byte values are read big-endian unless told otherwise (the Sigfox grammar it follows), which is the
codec's byte order, so no endianness is written. bool takes a bit position (7 = most significant).
"""

from .fw import codec, schema


def flag_names(flags: int) -> list:
    return [name for bit, name in schema.FLAG_NAMES if flags & bit and bit != schema.FLAG_HEALTH]


def _scaled(value: int, scale: int):
    return value if scale == 1 else round(value / scale, 6)


def report_to_dict(device_id: int, counter: int, raw: bytes, received: float | None = None,
                   nodes: dict | None = None) -> dict:
    """One report in units: {"device", "counter", "ts", "flags": [...], <MAIN fields>, "health": {...}|None}.

    A ts before ``schema.TS_SYNCED`` (2020) is not wall time (the device's clock was not set yet). With
    ``received`` (the collector's receive time, Unix seconds) such a report takes that as its "ts" and says so:
    "ts_source": "collector" and "ts_device" (the device's value); a report without these keys carries device time.
    ``nodes`` ({schema id hex: node}, possibly empty) says the report came in a version 4 uplink, where one that
    starts with NODE_MARK is a node report (firmware/node.py), decoded with its node: nodeview.py.
    """
    if nodes is not None and raw[:1] == bytes((codec.NODE_MARK,)):
        from .nodeview import node_to_dict

        return node_to_dict(device_id, counter, raw, nodes, received)
    main, health, _ = codec.decode_report(raw)
    out = {"device": device_id, "counter": counter}
    for (name, _code, scale, _unit, _doc), v in zip(schema.MAIN, main, strict=True):
        out[name] = flag_names(v) if name == "flags" else _scaled(v, scale)
    if received is not None and out["ts"] < schema.TS_SYNCED:
        out["ts_device"] = out["ts"]
        out["ts"] = int(received)
        out["ts_source"] = "collector"
    out["health"] = None
    if health is not None:
        out["health"] = {f[0]: _scaled(v, f[2]) for f, v in zip(schema.HEALTH, health, strict=True)}
    return out


def fields() -> list:
    """The field table: [{"block", "name", "type", "bytes", "scale", "unit", "meaning"}]."""
    rows = []
    for block, table in (("main", schema.MAIN), ("health", schema.HEALTH)):
        for name, code, scale, unit, doc in table:
            rows.append({"block": block, "name": name, "type": ("u" if code.isupper() else "i") +
                         str(8 * schema.SIZES[code]), "bytes": schema.SIZES[code], "scale": scale, "unit": unit,
                         "meaning": doc})
    return rows


def soracom_header() -> list:
    """The uplink header's fields in the Binary Parser format (a node's format, node.soracom_format, starts so too)."""
    return ["version:0:uint:3", "cmdack:0:bool:4", "deviceId:1:uint:32", "counter:5:uint:32"]


def soracom_format() -> str:
    """A Binary Parser format for an uplink carrying one report: header, MAIN fields, event flags as bools.
    Batched uplinks and the optional HEALTH block need the collector (or a Funk/Funnel function) to decode."""
    parts = soracom_header()
    off = codec.HEADER
    for name, code, scale, _unit, _doc in schema.MAIN:
        bits = 8 * schema.SIZES[code]
        if name == "flags":
            for bit, fname in schema.FLAG_NAMES:
                if bit != schema.FLAG_HEALTH:
                    parts.append(f"{fname}:{off}:bool:{bit.bit_length() - 1}")
        else:
            kind = "uint" if code.isupper() else "int"
            op = f":/{scale}" if scale != 1 else ""
            parts.append(f"{name}:{off}:{kind}:{bits}{op}")
        off += schema.SIZES[code]
    return " ".join(parts)
