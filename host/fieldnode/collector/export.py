"""Export stored reports as CSV (one flat row per report: device, counter, received, source, the schema's fields,
flags joined by '|', health fields prefixed ``h_``, then ``time`` and ``received_time``: ts and received as ISO 8601
in local time, or UTC with ``utc``; the epoch columns stay for machines) or JSON (a list of report objects).

Reports of declared nodes (firmware/node.py) bring their own fields: the CSV gets the columns "schema", "node",
"events" (joined by '|') and one column per node field, headed "NAME (UNIT)", in the order the nodes declare them;
reports stored under an older layout of the node (another schema id) fill the columns they have, so a node whose
file changed exports in one table. JSON reports carry their "units" as stored."""

import csv
import json

from ..units import iso_time
from .db import Store
from .fw import schema

NODE_COLUMNS = ["schema", "node", "events"]


def node_fields(reports) -> dict:
    """{field: unit} of the node reports among ``reports``, in first-seen order (a name declared with two units by
    two layouts gets a column for each)."""
    out: dict = {}
    for r in reports:
        for name, unit in (r.get("units") or {}).items():
            out.setdefault(_col(name, unit), (name, unit))
    return out


def _col(name, unit):
    return f"{name} ({unit})" if unit else name


def columns(nodes: dict | None = None) -> list:
    """The CSV columns: today's fixed report's, then (``nodes``: node_fields()) the node columns."""
    base = (["device", "counter", "received", "source"] + [f[0] for f in schema.MAIN]
            + ["h_" + f[0] for f in schema.HEALTH] + ["time", "received_time"])
    if not nodes:
        return base
    return base + NODE_COLUMNS + list(nodes)


def flat(r: dict, nodes: dict | None = None, utc=False) -> dict:
    row = {k: r.get(k) for k in ("device", "counter", "received", "source")}
    for f in schema.MAIN:
        row[f[0]] = "|".join(r["flags"]) if f[0] == "flags" else r.get(f[0])
    for f in schema.HEALTH:
        row["h_" + f[0]] = (r.get("health") or {}).get(f[0], "")
    row["time"] = iso_time(r.get("ts"), utc)
    row["received_time"] = iso_time(r.get("received"), utc)
    if nodes:
        row.update(schema=r.get("schema", ""), node=r.get("node", ""), events="|".join(r.get("events") or []))
        units = r.get("units") or {}
        for col, (name, unit) in nodes.items():
            row[col] = r.get(name, "") if name in units and units[name] == unit else ""
    return row


def export(db_path, out, fmt="csv", device_id=None, since=0, utc=False) -> int:
    """Write the reports to the open text file ``out``; returns how many."""
    st = Store(db_path)
    try:
        rows = st.reports(device_id, since)
        n = 0
        if fmt == "csv":
            rows = list(rows)  # the node columns come from the reports themselves
            nodes = node_fields(rows)
            w = csv.DictWriter(out, fieldnames=columns(nodes))
            w.writeheader()
            for r in rows:
                w.writerow(flat(r, nodes, utc))
                n += 1
        elif fmt == "json":
            out.write("[")
            for r in rows:
                out.write(("," if n else "") + "\n" + json.dumps(r))
                n += 1
            out.write("\n]\n")
        else:
            raise ValueError(f"format {fmt!r}: csv or json")
        return n
    finally:
        st.close()
