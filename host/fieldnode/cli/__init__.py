"""The ``fieldnode`` command: a thin layer over the library.

Each verb lives in its own module in this package (``cli/<verb>.py``) with a ``register(subparsers)`` function
that adds its parser and sets ``func``; this file only discovers them and maps errors to exit codes, the way
esptool's ``_main`` and mpremote's ``do_connect`` do. ``func(args)`` returns an exit code (or None for 0).
"""

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from ..errors import FieldnodeError

EPILOG = """\
a board's life, in order:
  fieldnode boards                                        which boards fieldnode knows (and are their files valid)
  fieldnode firmware add ESP32_GENERIC-v1.24.1.bin        cache a MicroPython image once
  fieldnode flash --board m5stack-core2 --port /dev/ttyUSB0
  fieldnode deploy --board m5stack-core2 --port /dev/ttyUSB0
  fieldnode collect                                       (another terminal) receive reports on 127.0.0.1;
                                                          the console at http://127.0.0.1:8080/
  fieldnode provision --board m5stack-core2 --port /dev/ttyUSB0
  fieldnode monitor --port /dev/ttyUSB0 --collector
  fieldnode devices                                       the fleet: SIMs, last seen, health

no hardware yet:
  fieldnode sim board --board m5stack-core2               a virtual board on a pty: use its port above
  fieldnode sim run --board lowpower-ref --duration 7d    a simulated week: reports, alarms, battery life

fieldnode <verb> --help explains each verb.

State lives under $FIELDNODE_HOME (default ~/.fieldnode).
"""


class ProgressBar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = None

    def __call__(self, done, total, stage):
        pct = int(100 * done / total) if total else 100
        if self.tty:
            n = pct * 30 // 100
            sys.stderr.write(f"\r{stage:<6} [{'#' * n}{'.' * (30 - n)}] {pct:3d}%")
            if pct == 100:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif (stage, pct == 100) != self.last:
            print(f"{stage}: {'done' if pct == 100 else 'started'}", file=sys.stderr)
        self.last = (stage, pct == 100)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fieldnode",
        description="Flash, deploy, provision, monitor and simulate ESP32/M5Stack field sensor nodes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"fieldnode {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="<verb>")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except FieldnodeError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (fieldnode ... | head): stop quietly, as a Unix tool does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
