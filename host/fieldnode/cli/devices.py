"""``fieldnode devices``: the provisioned fleet from the registry, with what the collector last heard from each."""

import csv
import json
import sys
import time

from .. import units
from ..errors import UsageError
from ..paths import home

COLUMNS = ("device_id", "board", "node", "iccid", "imsi", "imei", "status", "last_seen", "last_seen_iso", "health",
           "reports", "alarms")


def register(sub):
    p = sub.add_parser("devices", help="list the provisioned fleet: ids, SIMs, last seen, health",
                       description="List every device in the registry with its board, node file, ICCID, IMSI and "
                                   "IMEI, and from the collector's database its last report and health (ok, "
                                   "silent, alarm, low_battery, queue, clock; never when it sent nothing). Warns "
                                   "on stderr when one ICCID, IMSI or IMEI is registered to two devices.",
                       epilog="examples:\n  fieldnode devices\n  fieldnode devices --health silent --csv\n"
                              "  fieldnode devices --board m5stack-core2 --json")
    p.add_argument("--registry", help="device registry (default $FIELDNODE_HOME/registry.sqlite)")
    p.add_argument("--db", help="collector database (default $FIELDNODE_HOME/collector.sqlite)")
    p.add_argument("--board", help="only devices on this board")
    p.add_argument("--health", help="only devices with this health word (e.g. silent, alarm, never)")
    p.add_argument("--json", action="store_true", help="JSON: one list of objects")
    p.add_argument("--csv", action="store_true", help="CSV with a header row")
    p.add_argument("--utc", action="store_true", help="times in UTC (default: local time, ISO 8601)")
    p.set_defaults(func=run)


def duplicates(rows) -> list:
    """One line per ICCID, IMSI or IMEI that two or more devices carry."""
    out = []
    for k in ("iccid", "imsi", "imei"):
        seen = {}
        for r in rows:
            if r.get(k):
                seen.setdefault(r[k], []).append(r["device_id"])
        out += [f"warning: {k.upper()} {v} is registered to devices {', '.join(map(str, ids))}: one SIM/modem "
                f"cannot be in two nodes; fix with fieldnode provision --force on the right one"
                for v, ids in seen.items() if len(ids) > 1]
    return out


def fleet(registry, db_path, now=None, utc=False) -> list:
    from pathlib import Path

    from ..collector.console import health
    from ..collector.db import Reader, Unreadable

    now = time.time() if now is None else now
    states = {}
    if db_path and Path(db_path).exists():
        try:
            states = {s["device_id"]: s for s in Reader(db_path).device_states()}
        except Unreadable as e:
            print(f"warning: collector database {db_path} unreadable ({e}): no last seen or health", file=sys.stderr)
    rows = []
    for d in registry.devices():
        f = d.facts
        st = states.get(d.device_id)
        rows.append({"device_id": d.device_id, "board": f.get("board") or "", "node": _node(f),
                     "iccid": f.get("iccid") or "", "imsi": f.get("imsi") or "",
                     "imei": f.get("imei") or "", "status": f.get("status") or "",
                     "last_seen": st["last_seen"] if st else None,
                     "last_seen_iso": units.iso_time(st["last_seen"], utc) if st else "-",
                     "health": ",".join(health(st, f, now)) if st else "never",
                     "reports": st["reports"] if st else 0, "alarms": st["alarms"] if st else 0})
    return rows


def _node(facts) -> str:
    """The device's latest node (registry fact "nodes": {schema id: node}) by its name, or its schema id."""
    nodes = facts.get("nodes") or {}
    if not nodes:
        return ""
    sid, n = list(nodes.items())[-1]
    return str(n.get("name") or sid) if isinstance(n, dict) else str(sid)


def run(args):
    from ..registry import Registry

    if args.json and args.csv:
        raise UsageError("--json and --csv both given", "pick one")
    reg = Registry(args.registry) if args.registry else Registry()
    rows = fleet(reg, args.db or home() / "collector.sqlite", utc=args.utc)
    for w in duplicates(rows):
        print(w, file=sys.stderr)
    if args.board:
        rows = [r for r in rows if r["board"] == args.board]
    if args.health:
        rows = [r for r in rows if args.health in r["health"].split(",")]
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    elif args.csv:
        w = csv.DictWriter(sys.stdout, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    else:
        cols = ("device_id", "board", "iccid", "imsi", "imei", "last_seen_iso", "health")
        table = [("id", "board", "ICCID", "IMSI", "IMEI", "last seen", "health")] + \
            [tuple(str(r[c] or "-") for c in cols) for r in rows]
        width = [max(len(t[i]) for t in table) for i in range(len(cols))]
        for t in table:
            print("  ".join(v.ljust(width[i]) for i, v in enumerate(t)).rstrip())
        if not rows:
            print("no devices (provision some: fieldnode provision --help)", file=sys.stderr)
    return 0
