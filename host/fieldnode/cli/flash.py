"""``fieldnode flash``: write MicroPython to a board (a thin layer over ``fieldnode.flash.flash``)."""

import json
import sys

from .. import boards
from ..flash import flash, wait_for_repl
from . import ProgressBar


def register(sub):
    p = sub.add_parser(
        "flash", help="write MicroPython to a board over USB serial",
        description="Detect the chip with esptool, refuse a chip that is not the board file's, optionally erase, "
                    "write the MicroPython firmware at the board's offset, verify it, reset the board and wait "
                    "for the REPL. The firmware comes from --firmware or the cache (fieldnode firmware add).",
        epilog="example: fieldnode flash --board m5stack-core2 --port /dev/ttyUSB0 --erase")
    p.add_argument("--board", required=True, help=f"board file name ({', '.join(boards.names())})")
    p.add_argument("--port", help="serial port or URL (socket://, rfc2217://); default: found by USB id")
    p.add_argument("--firmware", metavar="FILE", help="MicroPython .bin (default: newest cached for the chip)")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first (removes all files)")
    p.add_argument("--connect-attempts", type=int, default=7, metavar="N", help="esptool connection attempts")
    p.add_argument("--before", default="default-reset", choices=["default-reset", "usb-reset", "no-reset"],
                   help="how to put the chip into download mode")
    p.add_argument("--after", default="hard-reset", choices=["hard-reset", "no-reset"],
                   help="what to do afterwards (no-reset stays in the bootloader and skips the REPL wait)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the MicroPython REPL after reset")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args):
    r = flash(args.port, args.board, args.firmware, erase=args.erase, progress=ProgressBar(),
              connect_attempts=args.connect_attempts, before=args.before, after=args.after)
    repl = None
    if args.after == "hard-reset" and not args.no_wait:
        print("waiting for the MicroPython REPL...", file=sys.stderr)
        repl = wait_for_repl(r.port)
        if not repl:
            print(f"warning: flashed and verified, but no MicroPython prompt appeared on {r.port} within 10 s "
                  "(press RESET, or check that the firmware is MicroPython)", file=sys.stderr)
    if args.json:
        print(json.dumps({**r.as_dict(), "repl": repl}, indent=2))
    else:
        print(f"{r.board}: {r.chip_description}, MAC {r.mac}, flash {r.flash_size or '?'}")
        print(f"wrote {r.size} bytes of {r.firmware} ({r.firmware_version or 'unknown version'}) at {r.offset:#x}"
              f"{' after erasing' if r.erased else ''}; verified; {r.seconds:.1f} s")
        if repl:
            print("MicroPython REPL is up")
    return 0
