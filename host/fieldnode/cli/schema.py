"""``fieldnode schema``: the report schema as a table, as JSON, or as a SORACOM Binary Parser format string."""

import json


def register(sub):
    p = sub.add_parser("schema", help="show the report schema (or its SORACOM Binary Parser format)",
                       description="Print the fields a report carries (type, scale, unit). --soracom prints a Binary "
                                   "Parser custom format for an uplink of one report, to paste into a SORACOM Air "
                                   "group when the device sends to SORACOM Harvest via the Unified Endpoint.",
                       epilog="examples:\n  fieldnode schema --soracom\n  fieldnode schema cold-store       "
                              "a node's field table (name, type, resolution, unit, byte offset, schema id)\n"
                              "  fieldnode schema my-node.yaml --soracom",
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("node", nargs="?", metavar="NODE", help="a node file (or example node name): its report's "
                   "field table instead of the fixed report's")
    p.add_argument("--soracom", action="store_true", help="print the SORACOM Binary Parser format string")
    p.add_argument("--json", action="store_true", help="print the field table as JSON")
    p.set_defaults(func=run)


def run(args):
    from ..collector import views
    from ..collector.fw import codec

    if args.node:
        return _node(args)
    if args.soracom:
        print(views.soracom_format())
        return 0
    rows = views.fields()
    if args.json:
        print(json.dumps({"version": codec.VERSION, "tag_bytes": codec.TAG_LEN, "fields": rows}, indent=2))
        return 0
    print(f"{'block':<7} {'name':<8} {'type':<5} {'scale':>6} {'unit':<5} meaning")
    for r in rows:
        print(f"{r['block']:<7} {r['name']:<8} {r['type']:<5} {r['scale']:>6} {r['unit']:<5} {r['meaning']}")
    print(f"uplink: {codec.HEADER}-byte header, reports, {codec.TAG_LEN}-byte HMAC-SHA256 tag; "
          f"one report {codec.HEADER + codec.MAIN_LEN + codec.TAG_LEN} bytes")
    return 0


def _node(args):
    from .. import node

    n, lay = node.check(args.node)
    if args.soracom:
        print(node.soracom_format(lay))
        return 0
    rows = node.fields(lay)
    if args.json:
        print(json.dumps({"node": n["name"], "schema": node.sid_hex(lay), "bytes": lay.size, "fields": rows},
                         indent=2))
        return 0
    print(f"node {n['name']} (board {n['board']}), schema id {node.sid_hex(lay)}")
    print(f"{'name':<14} {'type':<5} {'resolution':>10} {'unit':<6} {'offset':>6} quantity")
    for r in rows:
        print(f"{r['name']:<14} {r['type']:<5} {r['resolution']:>10g} {r['unit']:<6} {r['offset']:>6} "
              f"{r['quantity']}")
    print(f"report: 4-byte prefix (0xFF, schema id, length; offsets count from it), then the fields: {lay.size} "
          f"bytes; uplink {9 + lay.size + 6} bytes for one report")
    return 0
