"""Where a wake cycle's wall time goes on the virtual board: the fork of a warm MicroPython, the bus round trips
(by op: I2C, UART, clock, flash...), the bytes they carry, the host side's answers, and the collector.

    .venv/bin/python tools/profile_cycle.py [--board lowpower-ref] [--hours 6] [--profile]

Prints one table: per cycle, the wall time spent (a) until the forked child runs, (b) in the child (MicroPython
running the firmware, waiting on the bus), of which (c) the host answering bus requests, by op, and (d) the
collector; the requests and bytes per cycle; and a floor: a main.py that deep-sleeps at once (fork + boot + the
shims' imports, no firmware). ``--profile`` adds cProfile's top host-side functions. Measures, asserts nothing.
"""

import argparse
import collections
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))


def _instrument(run):
    """Count and time every bus request of every board of ``run`` by op, and the collector's uplinks."""
    from fieldnode.sim import forkserver
    from fieldnode.sim.hwops import op_codes

    names = {v: k for k, v in op_codes().items()}
    stats = collections.defaultdict(lambda: [0, 0.0, 0])  # op -> [requests, seconds, payload bytes]
    spawn_s = [0.0]
    for d in run.devices:
        bus = d.board.bus
        orig = bus.handle

        def handle(op, p, orig=orig):
            t = time.perf_counter()
            try:
                return orig(op, p)
            finally:
                s = stats[names.get(op, op)]
                s[0] += 1
                s[1] += time.perf_counter() - t
                s[2] += len(p)
        bus.handle = handle
    col = run.collector
    orig_accept = col.handle
    col_s = [0.0, 0]

    def accept(*a, **k):
        t = time.perf_counter()
        try:
            return orig_accept(*a, **k)
        finally:
            col_s[0] += time.perf_counter() - t
            col_s[1] += 1
    col.handle = accept
    orig_spawn = forkserver.spawn

    def spawn(*a, **k):
        t = time.perf_counter()
        try:
            return orig_spawn(*a, **k)
        finally:
            spawn_s[0] += time.perf_counter() - t
    forkserver.spawn = spawn
    return stats, spawn_s, col_s


def floor_cycle(board: str, n: int = 20) -> float:
    """Seconds of wall time per cycle of a main.py that deep-sleeps at once: what any cycle costs."""
    from fieldnode.sim.board import VirtualBoard

    with tempfile.TemporaryDirectory() as tmp:
        b = VirtualBoard(board, flash_dir=Path(tmp))
        try:
            b.put_files({"main.py": "import machine\nmachine.deepsleep(60000)\n"})
            b.run_cycle()
            t = time.perf_counter()
            for _ in range(n):
                b.run_cycle()
            return (time.perf_counter() - t) / n
        finally:
            b.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="lowpower-ref")
    ap.add_argument("--hours", type=float, default=6)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args(argv)
    from fieldnode.lab import fleet, scenario

    with tempfile.TemporaryDirectory() as home:
        scn = scenario.load({"board": a.board, "duration": int(a.hours * 3600), "environment": {"preset": "quiet"}})
        run = fleet.FleetRun(scn, Path(home))
        try:
            run.setup()
            stats, spawn_s, col_s = _instrument(run)
            prof = cProfile.Profile() if a.profile else None
            t = time.perf_counter()
            if prof:
                prof.enable()
            s = run.run()
            if prof:
                prof.disable()
            wall = time.perf_counter() - t
        finally:
            run.close()
    cycles = s["totals"]["cycles"]
    per = wall / cycles
    host = sum(v[1] for v in stats.values())
    print(f"{a.board}: {cycles} cycles in {wall:.2f} s = {per * 1000:.1f} ms per cycle "
          f"({scn.duration_s / 86400 / wall * 60:.1f} device-days per wall minute, one process)")
    print(f"  spawn (fork server until the child runs) {spawn_s[0] / cycles * 1000:6.2f} ms")
    print(f"  host answering bus requests              {host / cycles * 1000:6.2f} ms")
    print(f"  collector (uplinks)                      {col_s[0] / cycles * 1000:6.2f} ms  ({col_s[1]} uplinks)")
    print(f"  the rest (MicroPython running, bus I/O)  {(wall - spawn_s[0] - host) / cycles * 1000:6.2f} ms")
    print(f"  bus requests per cycle {sum(v[0] for v in stats.values()) / cycles:.0f}:")
    for name, (n, sec, nbytes) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        print(f"    {name:<14} {n / cycles:7.1f} req  {sec / cycles * 1000:6.2f} ms  {nbytes / cycles:7.0f} B")
    print(f"  floor: a main.py that deep-sleeps at once {floor_cycle(a.board) * 1000:.1f} ms per cycle")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
