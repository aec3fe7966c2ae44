"""``fieldnode modem PORT [AT...] [--diagnose]``: talk AT to a board's modem, or say what is wrong with its link."""

import json
import sys

from .. import modem
from ..device import release


def register(sub):
    p = sub.add_parser(
        "modem", help="talk AT to the board's modem; --diagnose says what is wrong with the link",
        description="Send AT commands to the modem through the board (interactive when none are given), or with "
                    "--diagnose run the firmware's link bring-up and explain in plain words what is wrong (no SIM, "
                    "not registered in the SIM's network, no coverage, APN refused). The board must run the "
                    "fieldnode firmware (net/passthrough.py).",
        epilog="examples:\n  fieldnode modem /dev/ttyUSB0 AT+CSQ AT+CEREG?\n"
               "  fieldnode modem /dev/ttyUSB0 --diagnose --board m5stack-core2\n"
               "  fieldnode modem /dev/ttyUSB0            (interactive; an empty line or Ctrl-D ends)",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("port", help="serial port of the board (a device path or a pyserial URL such as rfc2217://...)")
    p.add_argument("commands", nargs="*", metavar="AT", help="AT command lines to send, in order")
    p.add_argument("--diagnose", action="store_true", help="bring the link up and explain what is wrong")
    p.add_argument("--board", help="board name (default: take UART and modem from m5stack-core2's layout)",
                   default="m5stack-core2")
    p.add_argument("--apn", help="APN for --diagnose (default soracom.io)")
    p.add_argument("--user", help="APN user for --diagnose (default sora)")
    p.add_argument("--password", help="APN password for --diagnose (default sora)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per AT command (default 5); "
                   "for --diagnose the link's deadline (default 90)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--stay", action="store_true",
                   help="leave the board at its REPL afterwards (default: it soft-resets and runs main.py again)")
    p.set_defaults(func=run)


def run(args, transport=None):
    for c in args.commands:
        modem.check_at(c)  # a bad command fails before the port is opened
    t = transport or modem.open_transport(args.port)
    try:
        con = modem.ModemConsole(t, args.board)
        if args.diagnose:
            return _diagnose(con, args)
        if args.commands:
            return _send_all(con, args.commands, args)
        return _interactive(con, args)
    finally:
        if transport is None:
            release(t, resume=not args.stay)  # the node goes back to its cycle unless asked to wait at the REPL


def _send_all(con, commands, args):
    replies = []
    for c in commands:
        lines = con.at(c, int(args.timeout * 1000))
        replies.append({"command": c, "reply": lines, "earlier": con.earlier})
        if not args.json:
            for e in con.earlier:
                print(f"(before {c}: {e})", file=sys.stderr)
            print("\n".join(lines))
    if args.json:
        print(json.dumps(replies, indent=2))
    last = replies[-1]["reply"][-1:] if replies else []
    return 0 if last == ["OK"] else 1


def _interactive(con, args):
    print("AT commands to the modem; an empty line or Ctrl-D ends.", file=sys.stderr)
    while True:
        try:
            line = input("AT> ")
        except EOFError:
            return 0
        if not line.strip() or line.strip().lower() in ("exit", "quit"):
            return 0
        try:
            print("\n".join(con.at(line, int(args.timeout * 1000))))
        except modem.UsageError as e:
            print(f"error: {e}", file=sys.stderr)


def _diagnose(con, args):
    cfg = {k: v for k, v in (("apn", args.apn), ("user", args.user), ("password", args.password)) if v}
    deadline = int((args.timeout if args.timeout != 5.0 else 90) * 1000)
    facts = con.facts(cfg, deadline)
    findings = modem.diagnose(facts, facts.get("history"), facts.get("errors"))
    if args.json:
        print(json.dumps({"facts": facts, "findings": [f.as_dict() for f in findings]}, indent=2))
    else:
        for key in ("model", "fw", "iccid", "imsi", "imei", "registration", "operator", "dbm", "psm"):
            print(f"{key:13} {facts.get(key)}")
        print(f"{'history':13} {' -> '.join(facts.get('history') or []) or '-'}")
        for e in facts.get("errors") or []:
            print(f"{'error':13} {e}")
        print()
        for f in findings:
            print(f)
    return 1 if any(f.level == "error" for f in findings) else 0
