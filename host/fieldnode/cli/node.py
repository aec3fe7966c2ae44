"""``fieldnode node``: check a node file (what a node measures, detects and reports) before it reaches a device."""

import json

from ..errors import UsageError

EPILOG = """\
examples:
  fieldnode node check tools/scenarios/nodes/cold-store.json
  fieldnode node check cold-store                 an example node by name
  fieldnode schema cold-store                     the report layout it gives
  fieldnode provision --port PORT --node cold-store
"""


def register(sub):
    import argparse

    p = sub.add_parser("node", help="check a node file (measurements, detectors, report layout)",
                       description="A node file declares what a node measures (quantity, sensor, unit, resolution "
                                   "on the wire), its detectors and its report policy. 'check' validates it with the "
                                   "firmware's own validator against its board file and prints the report layout "
                                   "and its schema id; a bad file gets one line naming the file, the field and what "
                                   "is allowed.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("check",), help="check: validate the file and show its report")
    p.add_argument("file", metavar="FILE", help="a node file (JSON or YAML), or the name of an example node")
    p.add_argument("--json", action="store_true", help="print the validated node and its layout as JSON")
    p.set_defaults(func=run)


def run(args):
    from .. import node

    if args.action != "check":
        raise UsageError(f"unknown action {args.action}", "use: fieldnode node check FILE")
    n, lay = node.check(args.file)
    if args.json:
        print(json.dumps({"node": n, "schema": node.sid_hex(lay), "bytes": lay.size, "fields": node.fields(lay)},
                         indent=2))
        return 0
    print(f"{node.resolve(args.file)}: ok: node {n['name']} on {n['board']}, {len(n['measurements'])} measurement(s), "
          f"{len(n['detectors'])} detector(s); schema {node.sid_hex(lay)}, report {lay.size} bytes")
    return 0


def load_option(path):
    """The validated node for a ``--node FILE`` option (ConfigError naming the file and field otherwise)."""
    from .. import node

    return node.check(path)[0]
