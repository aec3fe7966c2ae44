"""Export stored reports as CSV (one flat row per report: device, counter, received, source, the schema's fields,
flags joined by '|', health fields prefixed ``h_``, then ``time`` and ``received_time``: ts and received as ISO 8601
in local time, or UTC with ``utc``; the epoch columns stay for machines) or JSON (a list of report objects)."""

import csv
import json

from ..units import iso_time
from .db import Store
from .fw import schema


def columns() -> list:
    return (["device", "counter", "received", "source"] + [f[0] for f in schema.MAIN]
            + ["h_" + f[0] for f in schema.HEALTH] + ["time", "received_time"])


def flat(r: dict, utc=False) -> dict:
    row = {k: r.get(k) for k in ("device", "counter", "received", "source")}
    for f in schema.MAIN:
        row[f[0]] = "|".join(r["flags"]) if f[0] == "flags" else r.get(f[0])
    for f in schema.HEALTH:
        row["h_" + f[0]] = (r.get("health") or {}).get(f[0], "")
    row["time"] = iso_time(r.get("ts"), utc)
    row["received_time"] = iso_time(r.get("received"), utc)
    return row


def export(db_path, out, fmt="csv", device_id=None, since=0, utc=False) -> int:
    """Write the reports to the open text file ``out``; returns how many."""
    st = Store(db_path)
    try:
        rows = st.reports(device_id, since)
        n = 0
        if fmt == "csv":
            w = csv.DictWriter(out, fieldnames=columns())
            w.writeheader()
            for r in rows:
                w.writerow(flat(r, utc))
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
