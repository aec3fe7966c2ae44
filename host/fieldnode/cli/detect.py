"""``fieldnode detect``: replay a CSV through the firmware's detector under MicroPython; add alarm and score."""

import os
import sys
import tempfile
from pathlib import Path

from .. import detect
from ..errors import UsageError


def register(sub):
    p = sub.add_parser("detect", help="replay a CSV through the device's anomaly detector",
                       description="Run the firmware detector (firmware/core/detector.py) under the MicroPython "
                                   "runtime over a CSV (a timestamp column and value columns) and write the rows "
                                   "back with two more columns: alarm (1 where the device would raise an alarm) "
                                   "and score (0..1, the anomaly likelihood).")
    p.add_argument("file", help="CSV file with a header row")
    p.add_argument("--column", help="value column (default: the first that is not the timestamp)")
    p.add_argument("--config", help="detector config JSON (default: the shipped detector.json)")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stderr when done")
    p.set_defaults(func=run)


def run(args):
    cfg = detect.load_config(args.config)
    tty = sys.stderr.isatty()

    def progress(n):
        if tty:
            print(f"\r{n} rows", end="", file=sys.stderr, flush=True)

    if not args.output:
        s = detect.detect_csv(args.file, args.column, cfg, sys.stdout, progress)
    else:
        # the rows stream out as they are checked: write beside the target and rename only when the whole input
        # was good, so bad input leaves -o as it was (absent, or the previous run's result)
        dest = Path(args.output)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        except OSError as e:
            raise UsageError(f"cannot write {dest}: {e.strerror}", "give -o a path in an existing, writable folder")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes it private; the result is an ordinary file
        try:
            with os.fdopen(fd, "w", newline="") as out:
                s = detect.detect_csv(args.file, args.column, cfg, out, progress)
            os.replace(tmp, dest)
        except BaseException:
            os.unlink(tmp)
            raise
    if tty:
        print(file=sys.stderr)
    if args.json:
        import json

        print(json.dumps(s), file=sys.stderr)
    else:
        print(f"{s['rows']} rows, {s['alarms']} alarms (column {s['column']}, scale {s['scale']:g})",
              file=sys.stderr)
    return 0
