"""``fieldnode detect``: replay a CSV through the firmware's detector under MicroPython; add alarm and score."""

import sys

from .. import detect


def register(sub):
    p = sub.add_parser("detect", help="replay a CSV through the device's anomaly detector",
                       description="Run the firmware detector (firmware/core/detector.py) under the MicroPython "
                                   "runtime over a CSV (a timestamp column and value columns) and write the rows "
                                   "back with two more columns: alarm (1 where the device would raise an alarm) "
                                   "and score (0..1, 0.5 at the raise threshold).")
    p.add_argument("file", help="CSV file with a header row")
    p.add_argument("--column", help="value column (default: the first that is not the timestamp)")
    p.add_argument("--config", help="detector config JSON (default: the shipped detector.json)")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stderr when done")
    p.set_defaults(func=run)


def run(args):
    cfg = detect.load_config(args.config)
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    tty = sys.stderr.isatty()

    def progress(n):
        if tty:
            print(f"\r{n} rows", end="", file=sys.stderr, flush=True)

    try:
        s = detect.detect_csv(args.file, args.column, cfg, out, progress)
    finally:
        if args.output:
            out.close()
    if tty:
        print(file=sys.stderr)
    if args.json:
        import json

        print(json.dumps(s), file=sys.stderr)
    else:
        print(f"{s['rows']} rows, {s['alarms']} alarms (column {s['column']}, scale {s['scale']:g})",
              file=sys.stderr)
    return 0
