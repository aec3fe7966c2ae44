"""``fieldnode ledger``: check the collector's tamper-evident ledger (collector/ledger.py), prove one report's
inclusion or two checkpoints' consistency (RFC 9162), sign a checkpoint now, print the public key."""

import argparse
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ..paths import home


def register(sub):
    p = sub.add_parser("ledger", help="verify the report ledger, prove reports, sign checkpoints",
                       description="The collector keeps a Merkle tree (RFC 9162) over every stored report and signs "
                                   "its head every N reports. verify rebuilds it from the database and names the "
                                   "first row that was edited, deleted, inserted or moved.",
                       epilog="example: fieldnode ledger verify; fieldnode ledger prove 1002 57 > proof.json")
    p.add_argument("--db", help="report database (default $FIELDNODE_HOME/collector.sqlite)")
    s = p.add_subparsers(dest="action", metavar="<action>", required=True)
    s.add_parser("verify", help="rebuild the tree, check every checkpoint and every row")
    pr = s.add_parser("prove", help="inclusion proof of one report (JSON)")
    pr.add_argument("device")
    pr.add_argument("counter", type=int)
    c = s.add_parser("consistency", help="consistency proof between two checkpoints (JSON)")
    c.add_argument("old", type=int, help="the earlier checkpoint's tree size")
    c.add_argument("new", type=int, help="the later checkpoint's tree size")
    s.add_parser("checkpoint", help="sign the tree as it is now")
    s.add_parser("key", help="print the collector's public key (PEM), for the standalone verifier")
    for sp in s.choices.values():
        sp.add_argument("--db", default=argparse.SUPPRESS, help="report database")  # before or after the action
    p.set_defaults(func=run)


def run(args):
    from ..collector.db import Store
    from ..collector.ledger import Ledger, load_key, public_pem
    from ..registry import parse_device_id

    db = Path(args.db or home() / "collector.sqlite")
    if not db.exists():
        raise UsageError(f"no collector database at {db}", "run fieldnode collect first, or give --db PATH")
    store = Store(db)
    try:
        if args.action == "verify":
            from ..collector.ledger import verify

            r = verify(store, home() / "ledger_key.pem")
            for line in r["problems"]:
                print(line)
            print(f"{'ok' if r['ok'] else 'FAILED'}: {r['reports']} reports, {r['leaves']} leaves, "
                  f"{r['checkpoints']} checkpoint(s)", file=sys.stderr)
            return 0 if r["ok"] else 1
        if args.action == "key":
            sys.stdout.write(public_pem(load_key(home() / "ledger_key.pem")).decode())
            return 0
        led = Ledger(store)
        if args.action == "prove":
            doc = led.prove(parse_device_id(args.device), args.counter)
        elif args.action == "consistency":
            doc = led.consistency(args.old, args.new)
        else:
            doc = led.checkpoint()
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    finally:
        store.close()
