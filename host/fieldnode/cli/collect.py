"""``fieldnode collect``: run the collector on UDP, TCP and HTTP (127.0.0.1) until interrupted."""

import argparse
import json
import logging
import os
import sys
import time

from .. import units
from ..errors import NetworkError, UsageError
from ..paths import home
from ..units import duration_arg


def register(sub):
    p = sub.add_parser(
        "collect", help="receive, verify and store reports (UDP/TCP/HTTP, like SORACOM's Unified Endpoint)",
        description="Listen for device uplinks on UDP and TCP (default 23080) and HTTP (default 8080), verify each "
                    "with the device's key from the registry, store new reports in SQLite and answer with an "
                    "authenticated ack. Prints each address it listens on, then one line per report or refusal. "
                    "Port 0 picks a free port; -1 turns that transport off. App updates are served from "
                    "$FIELDNODE_HOME/releases, or from --releases DIR: every release there is checked (tag, hashes) "
                    "before the collector starts.",
        epilog="examples:\n"
               "  fieldnode collect --udp 0 --tcp -1 --http 0 --mqtt mqtt://127.0.0.1:1883/fieldnode\n"
               "  fieldnode release --board m5stack-core2 --version 1.2.0 -o site-a/core2-1.2.0.fnu\n"
               "  fieldnode collect --releases site-a --offer 42=1.2.0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--udp", type=int, default=23080, metavar="PORT")
    p.add_argument("--tcp", type=int, default=23080, metavar="PORT")
    p.add_argument("--http", type=int, default=8080, metavar="PORT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--db", help="report database (default $FIELDNODE_HOME/collector.sqlite)")
    p.add_argument("--registry", help="device registry (default $FIELDNODE_HOME/registry.sqlite)")
    p.add_argument("--mqtt", metavar="URL", help="also publish each report, e.g. mqtt://127.0.0.1:1883/fieldnode")
    p.add_argument("--releases", metavar="DIR",
                   help="serve the app updates in this directory (.fnu files from fieldnode release; default "
                        "$FIELDNODE_HOME/releases)")
    p.add_argument("--offer", action="append", default=[], metavar="DEVICE=VERSION",
                   help="offer a served release to a device as the collector starts, e.g. 42=1.2.0 (repeatable)")
    p.add_argument("--rate", type=float, default=20.0, help="datagrams per second allowed from one address")
    p.add_argument("--duration", type=duration_arg, default=0,
                   help=f"stop after this long: {units.HELP} (default 0: run until Ctrl-C)")
    p.add_argument("--password", default=os.environ.get("FIELDNODE_CONSOLE_PASSWORD"),
                   help="ask for this password (HTTP Basic, any user name) on the web console; required with a "
                        "--host other than 127.0.0.1 (default $FIELDNODE_CONSOLE_PASSWORD)")
    p.add_argument("--no-console", action="store_true", help="serve no web console (uplinks and /status only)")
    p.add_argument("--utc", action="store_true", help="print times in UTC (default: local time, ISO 8601)")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--quiet", action="store_true", help="print only the addresses")
    p.set_defaults(func=run)


def _printer(as_json, utc=False):
    def show(ev):
        if as_json:
            print(json.dumps(ev), flush=True)
        elif ev["event"] == "report":
            r = ev["report"]
            vals = " ".join(f"{k}={units.iso_time(v, utc) if k == 'ts' else v}" for k, v in r.items()
                            if k not in ("device", "counter", "flags", "health"))
            flags = ",".join(r["flags"]) or "-"
            print(f"report device={r['device']} counter={r['counter']} flags={flags} {vals}", flush=True)
        elif ev["event"] == "duplicate":
            print(f"duplicate device={ev['device']} reports={ev['count']} from {ev['source']}", flush=True)
        elif ev["event"] == "update":  # app updates (collector/updates.py): offered, switched, confirmed, ...
            why = f" ({ev['detail']})" if ev["detail"] else ""
            print(f"update device={ev['device']} version={ev['version']} {ev['status']}{why}", flush=True)
    return show


def parse_offer(text: str) -> tuple:
    """(device id, packed version) from "42=1.2.0"; a UsageError saying the form otherwise."""
    from ..registry import parse_device_id
    from ..release import parse_version

    dev, sep, version = str(text).partition("=")
    if not sep or not dev.strip() or not version.strip():
        raise UsageError(f"--offer {text!r} is not DEVICE=VERSION", "e.g. --offer 42=1.2.0")
    return parse_device_id(dev), parse_version(version)


def serve_releases(col, releases, offers) -> list:
    """Check the releases the collector will serve and queue ``offers`` [(device, version)]; one line per
    release and per offer, to print. Raises ReleaseError/UsageError (one line) before anything is queued."""
    from ..collector.fw import fetch
    from ..release import load_dir, releases_dir

    where = releases if releases is not None else releases_dir()
    rels = load_dir(where) if releases is not None or offers else []
    lines = [f"serving release {r.name} for {r.board} ({r.arch}): {r.path}" for r in rels]
    if releases is not None and not rels:
        lines.append(f"no releases in {where} yet: those written there later are served")
    for dev, v in offers:  # every offer checked before the first is queued
        if col.registry.find(dev) is None:
            raise UsageError(f"--offer: device {dev} is not in the registry", "provision it first (fieldnode "
                                                                              "provision), or check the id")
        if col.updates.find(v, dev) is None:
            raise UsageError(f"--offer: no release {fetch.vstr(v)} for device {dev}'s board in {where}",
                             "make it with: fieldnode release --board <the device's board> --version "
                             f"{fetch.vstr(v)} -o {where}/NAME.fnu")
    for dev, v in offers:
        lines.append(f"offered {fetch.vstr(v)} to device {dev} (command {col.updates.offer(dev, v)})")
    return lines


def run(args):
    from ..collector import Collector, Servers
    from ..registry import Registry

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    offers = [parse_offer(o) for o in args.offer]
    reg = Registry(args.registry) if args.registry else Registry()
    col = Collector(args.db or home() / "collector.sqlite", reg, rate=args.rate, burst=max(2 * args.rate, 1),
                    releases=args.releases)
    try:
        served = serve_releases(col, args.releases, offers)
    except Exception:
        col.close()
        raise
    pub = None
    if args.mqtt:
        from ..collector.mqtt import MqttPublisher

        pub = MqttPublisher(args.mqtt)
        col.listeners.append(pub)
    try:
        servers = Servers(col, host=args.host, udp=args.udp, tcp=args.tcp, http=args.http,
                          console=not args.no_console, password=args.password or None)
    except OSError as e:
        col.close()
        raise NetworkError(f"cannot listen: {e}", "another collector may hold the port; pick another with --udp/"
                                                  "--tcp/--http or 0 for a free one")
    for a in servers.addresses:
        print(a, flush=True)
    if servers.console_url:
        print(f"console: {servers.console_url}" + (" (password required)" if args.password else ""),
              file=sys.stderr, flush=True)
    for line in served:
        print(line, file=sys.stderr, flush=True)
    if not args.quiet:
        col.listeners.append(_printer(args.json, args.utc))
    try:
        end = time.monotonic() + args.duration if args.duration else None
        while end is None or time.monotonic() < end:
            time.sleep(0.2 if end is None else max(0.0, min(0.2, end - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        servers.close()
        if pub:
            pub.close()
        st = col.status()
        print(f"stopped: {st['totals']['stored']} stored, {st['totals']['duplicates']} duplicates, "
              f"{st['totals']['rejected']} refused {st['rejects']}", file=sys.stderr)
        col.close()
    return 0
