"""Fleet throughput: device-days of virtual time per minute of wall time, per board, for the default node config
on a quiet machine (``fieldnode sim run``'s path: the real firmware on the MicroPython unix port, one forked
process per wake cycle). Rows: group "fleet", one per board in one process, and the lowpower-ref default node
with two local processes (``--jobs 2``, the shard path). ``tools/profile_cycle.py`` says where a cycle's time goes.

The issue's goal is 1,000 device-days per wall minute on 2 cores: 144 ten-minute cycles a device-day makes that
2,400 cycles a second, 0.8 ms of wall time per cycle per core; a process that boots MicroPython and deep-sleeps at
once takes about 4 ms here (profile_cycle.py's "floor"), so the goal is out of reach while every wake runs the real
firmware in a fresh MicroPython process. Measured (Dec 2026, 2 shared cores): lowpower-ref 50 -> 44 ms a cycle,
m5stack-core2 52 -> 41 ms after the MPU6886 window went to numpy and readfrom_mem to one request; a 100-device,
2-day lowpower-ref run with --jobs 4 took 600 s (20 device-days a minute on a loaded machine, 9.7 ms of CPU a
cycle). What a cycle still costs: the littlefs mount and imports (some 13,000 Python-level readblocks calls,
~1 MB read), ~270 bus round trips (two processes, two context switches each) and the firmware's own bytecode.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
HOURS = 12


def _one(board: str, devices: int = 1) -> dict:
    from fieldnode import boards
    from fieldnode.lab import fleet, scenario

    with tempfile.TemporaryDirectory() as home:
        scn = scenario.load({"board": board, "devices": devices, "duration": HOURS * 3600,
                             "environment": {"preset": "quiet"}})
        run = fleet.FleetRun(scn, Path(home))
        try:
            run.setup()
            t = time.perf_counter()
            s = run.run()
            wall = time.perf_counter() - t
        finally:
            run.close()
    days = devices * HOURS / 24
    return {"group": "fleet", "name": f"{board} x{devices}", "value": round(days / wall * 60, 1),
            "unit": "device-days/min", "ms_per_cycle": round(wall / s["totals"]["cycles"] * 1000, 1),
            "modem": bool(boards.load(board)["modem"])}


def _jobs(board: str, devices: int, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "fieldnode", "sim", "run", "--board", board, "--devices",
                            str(devices), "--duration", f"{HOURS}h", "--jobs", str(jobs), "--quiet", "--json",
                            "--out", str(Path(home) / "out")], capture_output=True, text=True, cwd=ROOT,
                           env=dict(os.environ, FIELDNODE_HOME=str(Path(home) / "home")))
        wall = time.perf_counter() - t  # set-up (provisioning each device; the firmware's build is shared) and merge
    if p.returncode not in (0, 1):
        return {"group": "fleet", "name": f"{board} x{devices} --jobs {jobs}", "value": None,
                "unit": "device-days/min", "note": p.stderr.strip().splitlines()[-1:]}
    s = json.loads(p.stdout)
    return {"group": "fleet", "name": f"{board} x{devices} --jobs {jobs}",
            "value": round(devices * HOURS / 24 / wall * 60, 1), "unit": "device-days/min",
            "cycles": s["totals"]["cycles"], "note": "wall time of the whole command"}


def run() -> list[dict]:
    from fieldnode import boards

    rows = []
    for b in boards.names():
        print(f"  fleet: {b}", file=sys.stderr)
        rows.append(_one(b))
    rows.append(_jobs("lowpower-ref", 4, 2))
    # A wake cycle mostly waits (bus round trips between two processes): more shards than cores still gain
    rows.append(_jobs("lowpower-ref", 8, 4))
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
