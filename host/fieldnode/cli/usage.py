"""``fieldnode usage``: invoice-ready usage lines per device for a calendar period, priced by a tariff file, and
with ``--with-proofs`` a statement a customer checks offline (fieldnode/ledger_verify.py)."""

import csv
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ..paths import home


def register(sub):
    p = sub.add_parser("usage", help="usage per device and period from the meters' totals (invoice lines)",
                       description="Usage per device in a calendar period (month, day or hour in a time zone) "
                                   "from the cumulative meter totals the reports carry: one line per device and "
                                   "meter, measured or estimated (a boundary between two reports, split linearly, "
                                   "with the error bound), priced by a tariff file.",
                       epilog="example: fieldnode usage --period 2026-11 --tz Europe/Berlin --tariff tariff.json "
                              "--format csv -o invoice.csv")
    p.add_argument("--period", required=True, help="2026-11 (month), 2026-11-05 (day) or 2026-11-05T13 (hour)")
    p.add_argument("--tz", default="UTC", help="IANA time zone of the period (default UTC)")
    p.add_argument("--device", help="only this device id")
    p.add_argument("--tariff", help="tariff JSON: unit prices, tiers, monthly minimum (see collector/usage.py)")
    p.add_argument("--meter", action="append", help="a cumulative field to bill without a tariff (repeat; "
                                                    "default the known meters the reports carry)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--with-proofs", action="store_true",
                   help="JSON statement with every report a line rests on and its inclusion proof")
    p.add_argument("--db", help="report database (default $FIELDNODE_HOME/collector.sqlite)")
    p.add_argument("--registry", help="device registry, for customer tags (default $FIELDNODE_HOME/registry.sqlite)")
    p.add_argument("-o", "--output", help="file to write (default stdout)")
    p.set_defaults(func=run)


def statement(store, ledger, lines, args, start, end) -> dict:
    """The lines, the latest checkpoint (made now when it does not cover them) and each report with its proof."""
    recs = []
    for line, rows in lines:
        for ctr, _f in rows:
            recs.append(ledger.record(line["device"], ctr))
    top = max((r["index"] for r in recs), default=0)
    cp = ledger.covering(top)
    tree = ledger.tree(cp["tree_size"])
    for r in recs:
        r["proof"] = [h.hex() for h in tree.inclusion(r["index"], cp["tree_size"])]
    return {"format": "fieldnode-usage-statement/1", "period": args.period, "tz": args.tz, "start": start,
            "end": end, "lines": [ln for ln, _ in lines], "checkpoint": cp, "reports": recs}


def run(args):
    from ..collector import usage
    from ..collector.db import Store
    from ..collector.ledger import Ledger
    from ..registry import Registry, parse_device_id

    db = Path(args.db or home() / "collector.sqlite")
    if not db.exists():
        raise UsageError(f"no collector database at {db}", "run fieldnode collect first, or give --db PATH")
    start, end = usage.parse_period(args.period, args.tz)
    tariff = usage.load_tariff(args.tariff) if args.tariff else None
    if args.with_proofs and args.format != "json":
        raise UsageError("--with-proofs writes a JSON statement", "add --format json")
    store = Store(db)
    reg = Registry(args.registry) if args.registry else Registry()
    try:
        devs = [parse_device_id(args.device)] if args.device is not None else None
        got = usage.lines(store, reg, start, end, devices=devs, tariff=tariff, meters=args.meter, label=args.period)
        out = open(args.output, "w", newline="") if args.output else sys.stdout
        try:
            if args.format == "csv":
                w = csv.DictWriter(out, fieldnames=usage.CSV_COLUMNS)
                w.writeheader()
                for line, _ in got:
                    w.writerows(usage.csv_rows(line))
            elif args.with_proofs:
                json.dump(statement(store, Ledger(store), got, args, start, end), out, indent=1)
                out.write("\n")
            else:
                json.dump({"period": args.period, "tz": args.tz, "start": start, "end": end,
                           "lines": [ln for ln, _ in got]}, out, indent=1)
                out.write("\n")
        finally:
            if args.output:
                out.close()
    finally:
        store.close()
        reg.close()
    print(f"{len(got)} device line(s) for {args.period} ({args.tz})", file=sys.stderr)
    return 0
