"""``fieldnode features``: the device's window features of a recording (CSV, .npy or .npz), per window."""

import json
import sys

from .. import detect


def register(sub):
    p = sub.add_parser("features", help="print each window's features as the device computes them",
                       description="Cut a recording into windows and compute each window's features with the "
                                   "firmware's feature core (viper kernels) under the MicroPython runtime. Values "
                                   "are the device's fixed-point integers (suffix _q4: x16, _q8: x256) in units "
                                   "of the scaled int16 samples.")
    p.add_argument("file", help="CSV with a header row, or .npy / .npz")
    p.add_argument("--window", type=int, default=1024, help="samples per window, 1..4096 (default 1024)")
    p.add_argument("--column", help="CSV column or .npz array (default: the first value column)")
    p.add_argument("--scale", type=float, help="multiply samples by this before rounding to int16 "
                                               "(default: auto, printed)")
    p.add_argument("--fs", type=float, default=0, help="sample rate in Hz (needed for --band)")
    p.add_argument("--band", type=float, action="append", default=[], metavar="HZ",
                   help="band amplitude at this frequency (Goertzel); repeat for more")
    p.add_argument("--json", action="store_true", help="JSON lines instead of CSV")
    p.set_defaults(func=run)


def run(args):
    rows = detect.feature_windows(args.file, args.window, args.column, args.scale or "auto", args.fs,
                                  tuple(args.band))
    n = 0
    try:
        n = _emit(rows, args.json)
    except BrokenPipeError:  # the reader (head, less) stopped early: not an error
        sys.stderr.close()
        return 0
    print(f"{n} windows of {args.window} samples", file=sys.stderr)
    return 0


def _emit(rows, as_json):
    n = 0
    for row in rows:
        if as_json:
            print(json.dumps(row))
        else:
            if n == 0:
                print(",".join(row))
            print(",".join("" if v is None else str(v) for v in row.values()))
        n += 1
    return n
