"""``fieldnode firmware``: the local cache of MicroPython images (a thin layer over ``fieldnode.firmware``)."""

import argparse
import json

from .. import boards, firmware
from ..boards import CHIPS
from . import ProgressBar


def register(sub):
    p = sub.add_parser(
        "firmware", help="get, add and list cached MicroPython firmware images",
        description="Keep MicroPython release images under $FIELDNODE_HOME/firmware so that fieldnode flash "
                    "finds the right one for a board's chip. The chip is read from the image header.",
        epilog="examples:\n  fieldnode firmware get m5stack-core2\n"
               "  fieldnode firmware add ESP32_GENERIC-20241129-v1.24.1.bin\n  fieldnode firmware list",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="action", metavar="<action>", required=True)
    a = verbs.add_parser("add", help="copy a firmware image into the cache")
    a.add_argument("file", metavar="FILE", help="a MicroPython .bin for an ESP32, ESP32-S3 or ESP32-C3")
    a.add_argument("--chip", choices=sorted(CHIPS), help="refuse the file unless its header names this chip")
    a.add_argument("--json", action="store_true", help="print the entry as JSON")
    a.set_defaults(func=run_add)
    g = verbs.add_parser(
        "get", help="download a MicroPython release from micropython.org into the cache",
        description="Read the board's download page on micropython.org, download the release image (the newest, "
                    "or --version), check its header as add does, and cache it. A board file picks the generic "
                    "build for its chip: ESP32_GENERIC, ESP32_GENERIC_S3 or ESP32_GENERIC_C3.",
        epilog="examples:\n  fieldnode firmware get m5stack-core2\n  fieldnode firmware get ESP32_GENERIC_S3 "
               "--version 1.24.1", formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("target", metavar="BOARD_OR_PORT",
                   help=f"a board file ({', '.join(boards.names())}) or a micropython.org board name")
    g.add_argument("--version", metavar="X.Y.Z", help="the release to get, e.g. 1.24.1 (default: the newest)")
    g.add_argument("--base-url", default=firmware.MICROPYTHON_ORG, metavar="URL",
                   help="where the download pages are (default: %(default)s)")
    g.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the server at each step (default: %(default)s)")
    g.add_argument("--json", action="store_true", help="print the entry and the release as JSON")
    g.set_defaults(func=run_get)
    ls = verbs.add_parser("list", help="list cached images, newest first")
    ls.add_argument("--chip", choices=sorted(CHIPS), help="only images for this chip")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=run_list)


def run_add(args):
    entry, added = firmware.add(args.file, args.chip)
    if args.json:
        print(json.dumps({**entry.as_dict(), "added_now": added}, indent=2))
    else:
        what = "added" if added else "already cached"
        print(f"{what}: {entry.chip} {entry.version or '(no version)'} -> {entry.path}")
    return 0


def run_get(args):
    entry, added, rel = firmware.get(args.target, args.version, base_url=args.base_url, timeout=args.timeout,
                                     progress=ProgressBar())
    if args.json:
        print(json.dumps({**entry.as_dict(), "added_now": added, "release": rel.version, "url": rel.url}, indent=2))
    else:
        what = "added" if added else "already cached"
        print(f"{what}: {entry.chip} {entry.version or '(no version)'} from {rel.url} -> {entry.path}")
    return 0


def run_list(args):
    es = firmware.entries(args.chip)
    if args.json:
        print(json.dumps([e.as_dict() for e in es], indent=2))
        return 0
    if not es:
        print(f"no cached firmware{' for ' + args.chip if args.chip else ''} in {firmware.cache_dir()}")
        print(f"to get one: {firmware.HOW_TO_GET}")
        return 0
    print(f"{'chip':<8} {'version':<16} {'size':>9}  {'added':<25} file")
    for e in es:
        print(f"{e.chip:<8} {e.version or '-':<16} {e.size:>9}  {e.added:<25} {e.path.name}")
    return 0
