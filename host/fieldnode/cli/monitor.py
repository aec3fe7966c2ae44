"""``fieldnode monitor --port PORT``: the device's log, errors, resets and stored reports as they happen."""

import argparse
import json
import sys

from .. import units
from ..paths import home
from ..units import duration_arg

EPILOG = """\
examples:
  fieldnode monitor --port /dev/ttyUSB0
  fieldnode monitor --port /dev/ttyUSB0 --collector ~/.fieldnode/collector.sqlite --device-id 7 --json

Ctrl-C leaves. The board is not reset and nothing is sent to it.
"""


def register(sub):
    p = sub.add_parser(
        "monitor", help="follow a device: its log lines, errors and tracebacks, and the reports the collector stores",
        description="Listen on the board's serial port without resetting it and show each line it prints, "
                    "classified (log, error, traceback, reset, output); with --collector also each report the "
                    "collector stores (for --device-id, or every device), decoded. Ctrl-C leaves.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", required=True, help="serial port of the board (a device path or a pyserial URL)")
    p.add_argument("--collector", nargs="?", const="", metavar="DB",
                   help="also show reports stored in this collector database (default $FIELDNODE_HOME/"
                        "collector.sqlite)")
    p.add_argument("--device-id", type=int, help="with --collector: only this device's reports")
    p.add_argument("--duration", type=duration_arg, metavar="TIME",
                   help=f"stop after this long: {units.HELP} (default: Ctrl-C)")
    p.add_argument("--utc", action="store_true", help="times in UTC (default: local time, ISO 8601)")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(func=run)


def _show(as_json, utc=False):
    def show(ev):
        if as_json:
            print(json.dumps(ev), flush=True)
            return
        stamp = units.iso_time(ev["t"], utc)
        text = ev["text"].replace("\n", "\n" + " " * (len(stamp) + 12))
        print(f"{stamp} {ev['kind']:10} {text}", flush=True)
    return show


def run(args):
    from ..monitor import monitor

    if not args.json:
        print(f"monitoring {args.port} (Ctrl-C leaves)", file=sys.stderr, flush=True)
    db = args.collector
    if db == "":
        db = str(home() / "collector.sqlite")
    counts = {}
    try:
        counts = monitor(args.port, _show(args.json, args.utc), collector_db=db,
                         device_id=args.device_id, duration=args.duration, utc=args.utc)
    except KeyboardInterrupt:
        pass
    if not args.json:
        print("stopped" + (": " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if counts else ""),
              file=sys.stderr)
    return 0
