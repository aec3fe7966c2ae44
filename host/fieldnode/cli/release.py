"""``fieldnode release``: build and sign an app update (a thin layer over ``fieldnode.release``)."""

import argparse
import json


def register(sub):
    p = sub.add_parser(
        "release", help="build and sign an app update for the collector to serve",
        description="Compile the app for a board with mpy-cross and write a release: a manifest of every file "
                    "with its SHA-256 and the version, tagged with the release key ($FIELDNODE_HOME/release.key, "
                    "made on the first release). The collector serves it from $FIELDNODE_HOME/releases and signs "
                    "the manifest for each device with that device's key. boot.py, main.py, the loader and "
                    "board.json are not part of an update (fieldnode deploy changes those). --offer queues the "
                    "update for devices in the collector's database; each fetches it in 1 KB chunks over its "
                    "link, switches, and keeps it only after it delivered a report.",
        epilog="examples:\n"
               "  fieldnode release --board m5stack-core2 --version 1.2.0\n"
               "  fieldnode release --board m5stack-core2 --version 1.2.0 --offer 42 --offer 43\n"
               "  fieldnode release --board m5stack-core2 --arch x64 -o core2-sim.fnu   # for a virtual board",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--board", required=True, help="board name (see: fieldnode boards)")
    p.add_argument("--version", help="major.minor.patch (default: one patch after the newest release of the board)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="release file (default: $FIELDNODE_HOME/releases/<board>-<arch>-<version>.fnu)")
    p.add_argument("--arch", help="compile for this architecture instead of the board's (x64: a virtual board)")
    p.add_argument("--offer", action="append", default=[], metavar="DEVICE",
                   help="offer the release to this device id (repeatable)")
    p.add_argument("--db", help="collector database for --offer (default $FIELDNODE_HOME/collector.sqlite)")
    p.add_argument("--registry", help="device registry (default $FIELDNODE_HOME/registry.sqlite)")
    p.add_argument("--json", action="store_true", help="print the release as JSON")
    p.set_defaults(func=run)


def run(args):
    from .. import release
    from ..registry import parse_device_id

    devices = [parse_device_id(d) for d in args.offer]  # a bad or unknown id fails before anything is built
    if devices:
        from ..registry import Registry

        reg = Registry(args.registry) if args.registry else Registry()
        try:
            for d in devices:
                reg.get(d)
        finally:
            reg.close()
    version = release.parse_version(args.version) if args.version else None
    rel, path = release.build_release(args.board, version, args.output, args.arch)
    offered = {}
    if devices:
        offered = offer(args, rel, path, devices)
    if args.json:
        print(json.dumps({**rel.info(), "offered": offered}, indent=2))
    else:
        print(release.describe(rel))
        print(f"written: {path}")
        for d, cid in offered.items():
            print(f"offered to device {d} (command {cid})")
    return 0


def offer(args, rel, path, devices) -> dict:
    from ..collector import Collector
    from ..errors import UsageError
    from ..paths import home
    from ..registry import Registry

    if path.parent.resolve() != release_dir().resolve():
        raise UsageError(f"--offer needs the release where the collector serves from; {path} is elsewhere",
                         f"leave out -o, copy the file into {release_dir()}, or serve its directory: fieldnode "
                         f"collect --releases {path.parent} --offer DEVICE={rel.name}")
    reg = Registry(args.registry) if args.registry else Registry()
    col = Collector(args.db or home() / "collector.sqlite", reg)
    try:
        return {d: col.updates.offer(d, rel.version) for d in devices}
    except ValueError as e:
        raise UsageError(str(e), "check the device id against: fieldnode fleet / the registry")
    finally:
        col.close()


def release_dir():
    from ..release import releases_dir

    return releases_dir()
