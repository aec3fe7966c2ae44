"""``fieldnode provision``: identity, key, config, modem facts and a test report, with a pass/fail report."""

import argparse
import json
import sys

from ..errors import UsageError

EPILOG = """\
examples:
  fieldnode provision --port /dev/ttyUSB0 --board m5stack-core2 --apn soracom.io --user sora --password sora
  fieldnode provision --port /dev/ttyUSB0 --wifi-ssid lab --wifi-key secret --endpoint 192.168.1.10:23080
  fieldnode provision --batch devices.csv --board m5stack-core2 --results results.csv
  fieldnode provision --export-soracom sims.sh          (or sims.csv)

The device key stays in the registry ($FIELDNODE_HOME/registry.sqlite) and on the board; it is never printed.
Exit status: 0 passed, 1 a step failed, 2 bad options or already provisioned, 4 board problem, 5 collector
not reachable.
"""


def register(sub):
    p = sub.add_parser(
        "provision", help="create a device's identity and key, write its config, test its link end to end",
        description="Provision the board on --port: a new device id (the next free one, or --device-id) and a "
                    "random key kept in the registry, the key and config written on the board, the modem's ICCID, "
                    "IMSI, IMEI and firmware read, an attach and a test report that the collector must "
                    "acknowledge; then a pass/fail report with what to do, and the facts recorded in the "
                    "registry. On a pass the board restarts into its wake cycle.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", help="serial port of the board (a device path or a pyserial URL)")
    p.add_argument("--board", help="board name (default: the one the firmware was deployed for)")
    p.add_argument("--device-id", help="device id (default: the next free id in the registry)")
    p.add_argument("--apn", help="APN of the SIM's operator (default soracom.io)")
    p.add_argument("--user", help="APN user (default sora)")
    p.add_argument("--password", help="APN password (default sora)")
    p.add_argument("--wifi-ssid", help="Wi-Fi network instead of cellular")
    p.add_argument("--wifi-key", help="Wi-Fi password")
    p.add_argument("--endpoint", metavar="HOST:PORT", help="collector address the device sends to "
                   "(default uni.soracom.io:23080 for cellular; required for Wi-Fi)")
    p.add_argument("--interval", type=int, metavar="S", help="seconds between readings (10..86400)")
    p.add_argument("--config", metavar="FILE", help="JSON with more config sections (policy, detector, alarm)")
    p.add_argument("--node", metavar="FILE", help="a node file (or example node name): what the device measures "
                   "and reports (fieldnode node check FILE)")
    p.add_argument("--collector", metavar="URL", help="check that this collector stored the test report: "
                   "http://HOST:PORT of fieldnode collect, or its SQLite file")
    p.add_argument("--force", action="store_true", help="provision again a device that is already provisioned")
    p.add_argument("--no-start", action="store_true", help="leave the board at the REPL instead of restarting it")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S", help="attach deadline (default 120)")
    p.add_argument("--reply-timeout", type=float, default=10.0, metavar="S",
                   help="wait for the collector's acknowledgement (default 10)")
    p.add_argument("--registry", help="device registry (default $FIELDNODE_HOME/registry.sqlite)")
    p.add_argument("--who", help="who provisions, for the registry's history (default user@host)")
    p.add_argument("--batch", metavar="CSV", help="provision the devices listed in this CSV one after another")
    p.add_argument("--results", metavar="CSV", help="with --batch: where to write the results "
                   "(default: <batch>-results.csv)")
    p.add_argument("--port-timeout", type=float, default=300.0, metavar="S",
                   help="with --batch: how long to wait for the next board to be plugged in (default 300)")
    p.add_argument("--export-soracom", metavar="FILE", help="write `soracom sims` commands (.sh) or a CSV (.csv) "
                   "of the registry's SIMs (ICCID, IMSI, tags) and exit")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def options_from(args):
    from ..provision import ProvisionOptions, load_extra
    from ..registry import parse_device_id
    from .node import load_option as node_option

    if args.wifi_key and not args.wifi_ssid:
        raise UsageError("--wifi-key without --wifi-ssid", "give the network name with --wifi-ssid")
    return ProvisionOptions(
        device_id=parse_device_id(args.device_id) if args.device_id is not None else None,
        apn=args.apn, user=args.user, password=args.password, wifi_ssid=args.wifi_ssid, wifi_key=args.wifi_key,
        endpoint=args.endpoint, interval=args.interval, collector=args.collector, force=args.force,
        start=not args.no_start, attach_s=args.timeout, reply_s=args.reply_timeout, who=args.who,
        extra=load_extra(args.config) if args.config else {},
        node=node_option(args.node) if getattr(args, "node", None) else None)


def _progress(msg):
    print(f"... {msg}", file=sys.stderr, flush=True)


def run(args):
    from ..registry import Registry

    reg = Registry(args.registry) if args.registry else Registry()
    if args.export_soracom:
        from ..provision_batch import export_soracom

        n = export_soracom(reg, args.export_soracom)
        if args.json:
            print(json.dumps({"file": args.export_soracom, "sims": n}))
        else:
            print(f"wrote {n} SIM(s) to {args.export_soracom}")
        return 0 if n else 1
    opts = options_from(args)
    if args.batch:
        return _batch(args, opts, reg)
    if not args.port:
        raise UsageError("no port given", "pass --port (e.g. /dev/ttyUSB0), or --batch devices.csv")
    from ..provision import provision

    rep = provision(args.port, args.board, opts, reg, progress=None if args.json else _progress)
    print(json.dumps(rep.as_dict(), indent=2) if args.json else rep.summary())
    return 0 if rep.passed else 1


def _batch(args, opts, reg):
    from ..provision_batch import read_batch, run_batch

    rows = read_batch(args.batch)
    out = args.results or str(args.batch).rsplit(".", 1)[0] + "-results.csv"
    results = run_batch(rows, args.board, opts, reg, out, port_timeout=args.port_timeout,
                        progress=_progress, report=None if args.json else lambda rep: print(rep.summary() + "\n"))
    passed = sum(1 for r in results if r["result"] == "pass")
    if args.json:
        print(json.dumps({"results": out, "devices": results}, indent=2))
    else:
        print(f"{passed} of {len(results)} passed; results in {out}")
    return 0 if passed == len(results) else 1
