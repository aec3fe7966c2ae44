"""``fieldnode export``: write the stored reports, one row per report with device and counter."""

import sys

from ..errors import UsageError
from ..paths import home


def register(sub):
    p = sub.add_parser("export", help="write stored reports as CSV or JSON",
                       description="Write what the collector stored: one row per report (device, counter, time, "
                                   "values in units, flags, health).",
                       epilog="example: fieldnode export --format csv --device 42 -o reports.csv")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--db", help="report database (default $FIELDNODE_HOME/collector.sqlite)")
    p.add_argument("--device", help="only this device id")
    p.add_argument("--since", type=int, default=0, help="only counters above this")
    p.add_argument("--utc", action="store_true", help="time columns in UTC (default: local time, ISO 8601)")
    p.add_argument("-o", "--output", help="file to write (default stdout)")
    p.set_defaults(func=run)


def run(args):
    from ..collector.export import export
    from ..registry import parse_device_id

    db = args.db or str(home() / "collector.sqlite")
    from pathlib import Path

    if not Path(db).exists():
        raise UsageError(f"no collector database at {db}", "run fieldnode collect first, or give --db PATH")
    dev = parse_device_id(args.device) if args.device is not None else None
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        n = export(db, out, args.format, device_id=dev, since=args.since, utc=args.utc)
    finally:
        if args.output:
            out.close()
    print(f"{n} reports", file=sys.stderr)
    return 0
