"""``fieldnode sim``: simulators. ``sim board`` starts one virtual board behind a serial port; other kinds of
simulation (fleets) are further subcommands of ``sim``."""

import argparse
import json
import shutil
import signal
import sys
import threading
from pathlib import Path

from ..errors import UsageError

LOCAL_COLLECTOR = "127.0.0.1:23080"  # `fieldnode collect`'s default UDP/TCP port


def register(sub):
    p = sub.add_parser("sim", help="simulate boards (and fleets)",
                       description="Run simulated hardware: the real firmware on the MicroPython runtime.")
    ssub = p.add_subparsers(dest="sim_kind", metavar="<kind>")
    b = ssub.add_parser("board", help="start a virtual board on a pseudo-terminal and an RFC 2217 port",
                        description="Start a virtual board: MicroPython with the ESP32 API, a littlefs root in a "
                                    "flash image, simulated sensors and modem. Use its port with mpremote, ampy "
                                    "or esptool (rfc2217:// URL for DTR/RTS resets). Runs until Ctrl-C.",
                        epilog="examples:\n  fieldnode sim board --board m5stack-core2 --flash ./core2-flash\n"
                               "  fieldnode sim board --board lowpower-ref --no-sim     (rehearse modem --diagnose)\n"
                               "while it runs, type a field action and Enter: sim out, sim in, coverage off, "
                               "coverage on, denied, allowed, rssi -110",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--board", required=True, help="board name (see: fieldnode boards)")
    b.add_argument("--flash", metavar="DIR", help="keep the flash image here between runs (default: temporary)")
    b.add_argument("--speed", type=float, default=1.0, help="virtual time per wall time (default 1.0)")
    b.add_argument("--download", action="store_true", help="start strapped into the ROM bootloader (for esptool)")
    b.add_argument("--partitions", choices=("factory", "ota"), default="factory", help="partition layout")
    b.add_argument("--json", action="store_true", help="print the ports and then every board event as JSON lines")
    b.add_argument("--quiet", action="store_true", help="print only the ports")
    b.add_argument("--scenario", metavar="FILE", help="a board scenario JSON: {\"modem\": {...}, \"env\": {...}, "
                   "\"wifi\": {...}} (keys: see fieldnode/sim/modems/__init__.py)")
    b.add_argument("--node", metavar="FILE", help="a node file (or example node name) for this board: checked "
                   "against --board and the --scenario's environment (which must drive each declared quantity); "
                   "provisioning the board with the same --node puts it into its config.json")
    b.add_argument("--no-sim", action="store_true", help="start with no SIM in the modem")
    b.add_argument("--no-coverage", action="store_true", help="start where no cell is heard")
    b.add_argument("--denied", action="store_true", help="start with a network that refuses the SIM")
    b.add_argument("--rssi", type=int, metavar="DBM", help="the signal the modem reports (default -83)")
    b.add_argument("--collector", metavar="HOST:PORT", default=LOCAL_COLLECTOR,
                   help="where the modem's network delivers uplinks to SORACOM's endpoint uni.soracom.io "
                        f"(default {LOCAL_COLLECTOR}: a `fieldnode collect` on this machine)")
    b.set_defaults(func=run_board)
    r = ssub.add_parser(
        "run", help="run one or many virtual boards on virtual time against a local collector",
        description="Provision N virtual boards with the real firmware, run them on virtual time against a "
                    "collector on 127.0.0.1 with the faults a scenario injects (power cuts, outages, modem "
                    "errors), and print what happened: reports generated, delivered, duplicated and lost, alarms "
                    "against the faults, bytes sent, radio-on time, and the battery life that gives.",
        epilog="examples:\n  fieldnode sim run --board lowpower-ref --duration 1d\n"
               "  fieldnode sim run --scenario fleet-outage --json   (a built-in scenario, by name)\n"
               "  fieldnode sim run --scenario cold-store-week --node my-cold-store.yaml\n"
               "  fieldnode sim run --scenario my-fleet.json --devices 10\n"
               "  fieldnode sim run --devices 5 --duration 2d --html report.html\n"
               "  fieldnode sim run --scenario fleet-outage --jobs 2     (two processes, merged)\n"
               "  fieldnode sim run --scenario fleet-outage --shard 0/8 --out /shared/run1   (one job of eight)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--scenario", metavar="FILE",
                   help="scenario JSON file, or the name of a built-in one (tools/scenarios/); flags override it")
    r.add_argument("--board", help="board name (default: the scenario's, else the node's, else m5stack-core2)")
    r.add_argument("--node", metavar="FILE", help="a node file (or example node name) every board runs; the "
                   "scenario's environment must drive each quantity it declares")
    r.add_argument("--devices", type=int, help="number of boards (default 1)")
    r.add_argument("--duration", help="virtual time to simulate: 90m, 36h, 7d (default 1d)")
    r.add_argument("--seed", type=int, help="random seed (default 1)")
    r.add_argument("--html", metavar="FILE", help="also write an HTML report with plots")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r.add_argument("--shard", metavar="I/N", help="run only shard I of N (devices I, I+N, ...) and write its "
                   "results under --out, for fieldnode sim merge")
    r.add_argument("--out", metavar="DIR", help="where --shard writes (DIR/shard-I-of-N/); with --jobs, where the "
                   "merged results go (default: the fleet's folder in FIELDNODE_HOME)")
    r.add_argument("--jobs", type=int, metavar="K", help="run the shards as K local processes and merge them")
    r.set_defaults(func=run_fleet)
    m = ssub.add_parser("merge", help="merge the results of sim run --shard into one summary, database and report",
                        description="Merge shard folders (written by fieldnode sim run --shard I/N --out DIR) into "
                                    "the summary, collector database and HTML report an unsharded run gives.",
                        epilog="example:\n  fieldnode sim run --scenario fleet-outage --shard 0/2 --out shards\n"
                               "  fieldnode sim run --scenario fleet-outage --shard 1/2 --out shards\n"
                               "  fieldnode sim merge shards -o merged     (merged/summary.json, collector.sqlite, "
                               "report.html)",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("dirs", nargs="+", metavar="DIR", help="an --out folder of shards, or shard folders")
    m.add_argument("-o", "--output", required=True, metavar="OUT", help="folder for the merged results")
    m.add_argument("--html", metavar="FILE", help="the HTML report here instead of OUT/report.html")
    m.add_argument("--json", action="store_true", help="print the summary as JSON")
    m.set_defaults(func=run_merge)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_fleet(args):
    """``fieldnode sim run``: a fleet on virtual time; summary as text or JSON."""
    import sys

    from ..lab import fleet, report, scenario, shards
    from ..paths import home

    scn = scenario.load(args.scenario, {"board": args.board, "devices": args.devices, "duration": args.duration,
                                        "seed": args.seed, "node": args.node})
    if args.shard and args.jobs:
        raise UsageError("--shard and --jobs together", "--shard runs one shard; --jobs K runs all K of them here")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: at least 1", "e.g. --jobs 2 on a two-core machine")
    if args.shard and not args.out:
        raise UsageError("--shard needs --out DIR", "where the shard writes its results for fieldnode sim merge")

    def progress(msg):
        if not args.quiet:
            print(f"\r{msg:<100}", end="", file=sys.stderr, flush=True)

    if args.jobs and args.jobs > 1:
        summary = _run_jobs(args, scn, progress)
    else:
        shard = shards.parse(args.shard) if args.shard else (0, 1)
        workdir = home() / "fleet" / scn.name / (shards.folder(".", shard).name if args.shard else "")
        run = fleet.FleetRun(scn, home(), workdir=workdir, shard=shard)
        try:
            summary = run.run(progress=progress)
            if not args.quiet:
                print(file=sys.stderr)
            if args.shard:
                shards.write_shard(run, summary, Path(args.out))
            if args.html:
                report.write_html(args.html, summary, {d.device_id: run.reports(d.device_id) for d in run.devices})
                summary["html"] = str(args.html)
        finally:
            run.close()
    return _print_summary(args, summary)


def _run_jobs(args, scn, progress) -> dict:
    """--jobs K: the K shards as local processes (the path a cluster takes, shards.py), then merged."""
    from ..lab import shards
    from ..paths import home

    argv = [a for k, flag in (("scenario", "--scenario"), ("board", "--board"), ("devices", "--devices"),
                              ("duration", "--duration"), ("seed", "--seed"), ("node", "--node"))
            if getattr(args, k) is not None for a in (flag, str(getattr(args, k)))]
    base = Path(args.out) if args.out else home() / "fleet" / scn.name / f"jobs-{args.jobs}"
    work = base / "shards"
    if work.exists():
        shutil.rmtree(work)  # the shards of an earlier run must not be merged with these
    progress(f"{args.jobs} shards of {scn.devices} devices running")
    try:
        shards.run_jobs(argv, args.jobs, work, progress)
    except KeyboardInterrupt:
        pass  # each shard wrote what it ran: merged below, and the summary says it was interrupted
    if not args.quiet:
        print(file=sys.stderr)
    return shards.merge([work], base, html=args.html)


def run_merge(args):
    """``fieldnode sim merge``: shard folders into one summary, database and report."""
    from ..lab import shards

    summary = shards.merge(args.dirs, Path(args.output), html=args.html)
    return _print_summary(args, summary)


def _print_summary(args, summary) -> int:
    from ..lab import report

    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(report.format_summary(summary))
        if args.html:
            print(f"report: {args.html}")
    if summary.get("interrupted"):
        return 130  # as a shell reports a command ended by SIGINT (128 + 2), after the partial summary
    return 1 if summary["totals"]["lost"] else 0


def run_board(args, ready=None, stop_event=None):
    """Start the board, print where it listens, run until Ctrl-C (or ``stop_event``)."""
    from .. import boards
    from ..sim.board import VirtualBoard
    from ..sim.clock import VirtualClock

    if args.speed <= 0:
        raise UsageError(f"--speed {args.speed}: must be a positive factor", "e.g. --speed 10 for ten times faster")
    scn = _board_scenario(args)
    n = _board_node(args, scn)
    board = VirtualBoard(boards.load(args.board), flash_dir=args.flash, scenario=scn,
                         clock=VirtualClock(realtime=True, speed=args.speed), partitions=args.partitions)
    if args.json:
        board.on_event = lambda e: print(json.dumps(e), flush=True)
    elif not args.quiet:
        board.on_event = _print_event
    stop = stop_event or threading.Event()
    try:
        board.start(download=args.download)
        info = {"board": board.board.name, "port": board.port, "url": board.url,
                "flash": str(board.flash.path), "speed": args.speed}
        if args.json:
            print(json.dumps({"listening": info}), flush=True)
        else:
            print(f"virtual {board.board.name} on {board.port}  and  {board.url}", flush=True)
            print(f"flash image {board.flash.path}; Ctrl-C stops", flush=True)
            if board.modem is not None:
                print(f"its network delivers uni.soracom.io to {scn['modem']['dns']['uni.soracom.io']} "
                      "(run `fieldnode collect` there); type a field action (sim out, coverage off, ...) to test",
                      flush=True)
        if n is not None:
            print(f"node {n['name']}: provision it with fieldnode provision --port {board.port} --node "
                  f"{args.node}", flush=True)
        if ready:
            ready(board)
        if stop_event is None:
            signal.signal(signal.SIGTERM, lambda *a: stop.set())
            threading.Thread(target=_field_actions, args=(board, sys.stdin), daemon=True).start()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        board.close()
    return 0


def _board_node(args, scn):
    """--node's validated node: its board must be --board, and a --scenario must drive what it measures."""
    if not getattr(args, "node", None):
        return None
    from .. import node as nodefile
    from .node import load_option

    n = load_option(args.node)
    if n["board"] != args.board:
        raise UsageError(f"node {n['name']} is declared for board {n['board']}, not {args.board}",
                         f"use --board {n['board']}, or a node file for this board")
    if getattr(args, "scenario", None):
        nodefile.check_driven(n, scn.get("env") or {}, str(args.scenario))
    return n


def _board_scenario(args) -> dict:
    """The board's scenario: --scenario's file, with --no-sim, --no-coverage, --denied and --rssi applied."""
    from ..jsonfile import read_object
    from ..sim import field

    scn = {}
    if getattr(args, "scenario", None):
        scn = read_object(args.scenario, "a board scenario, a JSON object", '{"modem": {...}, "env": {...}}')
    opts = dict(no_sim=getattr(args, "no_sim", False), no_coverage=getattr(args, "no_coverage", False),
                denied=getattr(args, "denied", False), rssi=getattr(args, "rssi", None))
    if any(v for v in opts.values() if v is not None):
        scn["modem"] = field.start_scenario(base=scn.get("modem"), **opts)
    # The virtual SIM's network delivers the default endpoint (provisioning's uni.soracom.io:23080) to a collector
    # on this machine, as SORACOM's network delivers it to SORACOM: `fieldnode provision` then works unchanged.
    collector = getattr(args, "collector", None) or LOCAL_COLLECTOR
    scn["modem"] = dict(scn.get("modem") or {})
    scn["modem"]["dns"] = {"uni.soracom.io": collector, **(scn["modem"].get("dns") or {})}
    return scn


def _field_actions(board, stream):
    """Field actions typed while the board runs (sim out, coverage off, ...), one a line."""
    from ..errors import FieldnodeError
    from ..sim import field

    for line in stream:
        if not line.strip():
            continue
        try:
            print(f"field: {field.apply(board, line)}", flush=True)
        except FieldnodeError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)


def _print_event(e):
    kind = e["kind"]
    if kind == "firmware" and e["text"].startswith("boot:"):
        return
    detail = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("t", "kind"))
    print(f"[{e['t']}] {kind} {detail}", flush=True)
