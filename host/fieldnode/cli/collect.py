"""``fieldnode collect``: run the collector on UDP, TCP and HTTP (127.0.0.1) until interrupted."""

import json
import logging
import sys
import time

from ..errors import NetworkError
from ..paths import home


def register(sub):
    p = sub.add_parser(
        "collect", help="receive, verify and store reports (UDP/TCP/HTTP, like SORACOM's Unified Endpoint)",
        description="Listen for device uplinks on UDP and TCP (default 23080) and HTTP (default 8080), verify each "
                    "with the device's key from the registry, store new reports in SQLite and answer with an "
                    "authenticated ack. Prints each address it listens on, then one line per report or refusal. "
                    "Port 0 picks a free port; -1 turns that transport off.",
        epilog="example: fieldnode collect --udp 0 --tcp -1 --http 0 --mqtt mqtt://127.0.0.1:1883/fieldnode")
    p.add_argument("--udp", type=int, default=23080, metavar="PORT")
    p.add_argument("--tcp", type=int, default=23080, metavar="PORT")
    p.add_argument("--http", type=int, default=8080, metavar="PORT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--db", help="report database (default $FIELDNODE_HOME/collector.sqlite)")
    p.add_argument("--registry", help="device registry (default $FIELDNODE_HOME/registry.sqlite)")
    p.add_argument("--mqtt", metavar="URL", help="also publish each report, e.g. mqtt://127.0.0.1:1883/fieldnode")
    p.add_argument("--rate", type=float, default=20.0, help="datagrams per second allowed from one address")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--quiet", action="store_true", help="print only the addresses")
    p.set_defaults(func=run)


def _printer(as_json):
    def show(ev):
        if as_json:
            print(json.dumps(ev), flush=True)
        elif ev["event"] == "report":
            r = ev["report"]
            vals = " ".join(f"{k}={v}" for k, v in r.items() if k not in ("device", "counter", "flags", "health"))
            flags = ",".join(r["flags"]) or "-"
            print(f"report device={r['device']} counter={r['counter']} flags={flags} {vals}", flush=True)
        elif ev["event"] == "duplicate":
            print(f"duplicate device={ev['device']} reports={ev['count']} from {ev['source']}", flush=True)
        elif ev["event"] == "update":  # app updates (collector/updates.py): offered, switched, confirmed, ...
            why = f" ({ev['detail']})" if ev["detail"] else ""
            print(f"update device={ev['device']} version={ev['version']} {ev['status']}{why}", flush=True)
    return show


def run(args):
    from ..collector import Collector, Servers
    from ..registry import Registry

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    reg = Registry(args.registry) if args.registry else Registry()
    col = Collector(args.db or home() / "collector.sqlite", reg, rate=args.rate, burst=max(2 * args.rate, 1))
    pub = None
    if args.mqtt:
        from ..collector.mqtt import MqttPublisher

        pub = MqttPublisher(args.mqtt)
        col.listeners.append(pub)
    try:
        servers = Servers(col, host=args.host, udp=args.udp, tcp=args.tcp, http=args.http)
    except OSError as e:
        raise NetworkError(f"cannot listen: {e}", "another collector may hold the port; pick another with --udp/"
                                                  "--tcp/--http or 0 for a free one")
    for a in servers.addresses:
        print(a, flush=True)
    if not args.quiet:
        col.listeners.append(_printer(args.json))
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
