"""``fieldnode boards``: list the boards fieldnode knows and validate every board file."""

import json

from .. import boards
from ..errors import ConfigError


def register(sub):
    p = sub.add_parser("boards", help="list and validate board files",
                       description="List every board in boards/ (chip, sensors, modem) and validate each file. "
                                   "Exits non-zero naming the file and field when one is malformed.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args):
    rows, errors = [], []
    for name in boards.names():
        try:
            b = boards.load(name)
        except ConfigError as e:
            errors.append(str(e))
            continue
        rows.append({
            "name": b.name, "chip": b.chip, "arch": b.arch, "title": b["title"],
            "sensors": [s["type"] for s in b["sensors"]],
            "modem": (b["modem"] or {}).get("type"), "wifi": b["wifi"],
            "deep_sleep_ma": b.power("deep_sleep_ma"),
            "deep_sleep_range_ma": list(b.power_range("deep_sleep_ma")[::2]),
        })
    if args.json:
        print(json.dumps({"boards": rows, "errors": errors}, indent=2))
    else:
        w = max((len(r["name"]) for r in rows), default=4)
        print(f"{'board':<{w}}  {'chip':<8} {'modem':<9} {'deep sleep':>16}  sensors")
        for r in rows:
            lo, hi = r["deep_sleep_range_ma"]
            spread = f" ({lo:g}-{hi:g})" if lo != hi else ""
            sleep = f"{r['deep_sleep_ma']:g}{spread} mA"
            print(f"{r['name']:<{w}}  {r['chip']:<8} {r['modem'] or 'wifi':<9} {sleep:>16}  "
                  f"{', '.join(r['sensors'])}")
        for e in errors:
            print(f"error: {e}")
        print(f"{len(rows)} valid, {len(errors)} invalid")
    return 1 if errors else 0
