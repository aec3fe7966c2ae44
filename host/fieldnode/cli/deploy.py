"""``fieldnode deploy``: build the firmware for a board and upload what changed."""

import json

from ..deploy import deploy
from ..device import connect
from ..jsonfile import read_object
from . import ProgressBar


def register(sub):
    p = sub.add_parser(
        "deploy", help="build the firmware bundle and upload only what changed",
        description="Compile every firmware module with mpy-cross for the board's architecture, compare sha256 "
                    "hashes on the device, upload changed files (each written to a temporary name and renamed), "
                    "verify, and remove stale .py files that would shadow a new .mpy. The device's config, key, "
                    "queue and state are never touched unless --config ... --overwrite-config is given.",
        epilog="example: fieldnode deploy --board m5stack-core2 --port /dev/ttyUSB0")
    p.add_argument("--board", required=True, help="board name (see: fieldnode boards)")
    p.add_argument("--port", required=True, help="serial port, pty path, rfc2217:// or socket:// URL")
    p.add_argument("--config", help="a config JSON to write to the device when it has none")
    p.add_argument("--node", metavar="FILE", help="a node file (or example node name) to put into --config's "
                   "config: what the device measures and reports")
    p.add_argument("--overwrite-config", action="store_true", help="replace the device's config with --config")
    p.add_argument("--change-board", action="store_true",
                   help="allow a board file other than the one the device was deployed with (it refuses otherwise)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args):
    config = read_object(args.config, "the device's config.json, a JSON object") if args.config else None
    if args.node:
        from ..errors import UsageError
        from .node import load_option

        if config is None:
            raise UsageError("--node needs --config (the device's id and link)",
                             "or give the node when provisioning: fieldnode provision --node FILE")
        n = load_option(args.node)
        if n["board"] != args.board:
            raise UsageError(f"node {n['name']} is declared for board {n['board']}, not {args.board}",
                             "give a node file whose \"board\" is this board")
        config = dict(config, node=n, policy=dict(n["policy"], **(config.get("policy") or {})))
        if isinstance(config.get("device_id"), int):  # the collector decodes its reports by this node
            from .. import node as nodefile
            from ..registry import Registry

            reg = Registry()
            if reg.find(config["device_id"]) is not None:
                nodefile.register(reg, config["device_id"], n)

    bar = ProgressBar()  # one line on a terminal, a line per stage in a log (not a \r per file)

    def progress(done, total, path):
        if not args.json:
            bar(done, total, "upload")

    with connect(args.port) as dev:
        res = deploy(dev, args.board, config=config, overwrite_config=args.overwrite_config, progress=progress,
                     change_board=args.change_board)
    if args.json:
        print(json.dumps(res.__dict__, indent=2))
    else:
        print(res.summary())
    return 0
