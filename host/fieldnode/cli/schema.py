"""``fieldnode schema``: the report schema as a table, as JSON, or as a SORACOM Binary Parser format string."""

import json


def register(sub):
    p = sub.add_parser("schema", help="show the report schema (or its SORACOM Binary Parser format)",
                       description="Print the fields a report carries (type, scale, unit). --soracom prints a Binary "
                                   "Parser custom format for an uplink of one report, to paste into a SORACOM Air "
                                   "group when the device sends to SORACOM Harvest via the Unified Endpoint.",
                       epilog="example: fieldnode schema --soracom")
    p.add_argument("--soracom", action="store_true", help="print the SORACOM Binary Parser format string")
    p.add_argument("--json", action="store_true", help="print the field table as JSON")
    p.set_defaults(func=run)


def run(args):
    from ..collector import views
    from ..collector.fw import codec

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
