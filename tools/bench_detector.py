"""Detector update cost on the MicroPython unix port: the default (core/surprise.py) against the old default.

``run()`` (the ``make bench`` contract, tools/bench.py) times ``update`` over 20000 readings of a noisy signal with
steps in it, best of 3, for the shipped default and for the detector that was the default before it (method
baseline with the settings detector.json had: slow level 1/128, spread 1/1024, 2 of 3, flat-line check), and
reports microseconds per update, the ratio, and the state size. Host-CPU timings (the ESP32 itself is not
measured here); the update has no per-sample loop, so it stays plain integer Python (no viper kernel).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode.sim import runtime  # noqa: E402

N = 20000
OLD = {"method": "baseline", "level_shift": 7, "spread_shift": 10, "active_shift": 0, "warmup": 300, "raise": 4.0,
       "clear": 1.5, "k": 2, "n": 3, "holdoff": 500, "flat": 4.0, "flat_shift": 3}

_MPY = r"""
import time
from array import array
from core.detector import make, STATE_SIZE
N = %d
xs = array('i', [0] * N)
seed = 1
for i in range(N):
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    xs[i] = 10000 + (seed >> 16) %% 2000 + (5000 if (i // 3000) %% 2 else 0)
for name, cfg in (("surprise", {}), ("seasonal", {"period": 288}), ("baseline", %r)):
    best = None
    for _ in range(3):
        d = make(cfg)
        up = d.update
        t0 = time.ticks_us()
        for i in range(N):
            up(xs[i])
        dt = time.ticks_diff(time.ticks_us(), t0)
        best = dt if best is None or dt < best else best
    print(name, best, len(d.to_bytes()))
"""


def run():
    try:  # the unix port with firmware/ on its path and no ESP32 shims: the detector is pure firmware logic
        p = runtime.run(_MPY % (N, OLD), heap="2m", shims=False, cwd=ROOT)
    except FileNotFoundError as e:
        return [{"group": "detector", "name": "update", "value": None, "unit": "us", "note": str(e)}]
    if p.rc:
        return [{"group": "detector", "name": "update", "value": None, "unit": "us", "note": p.err.strip()[-200:]}]
    got = {}
    for line in p.out.split("\n"):
        if line.strip():
            name, us, size = line.split()
            got[name] = (int(us) / N, int(size))
    new, old = got["surprise"], got["baseline"]
    return [
        {"group": "detector", "name": "update surprise (default)", "value": round(new[0], 2), "unit": "us/update",
         "vs_old_default": round(new[0] / old[0], 2), "state_bytes": new[1]},
        {"group": "detector", "name": "update surprise with a daily profile (period 288, 96 bins)",
         "value": round(got["seasonal"][0], 2), "unit": "us/update",
         "vs_old_default": round(got["seasonal"][0] / old[0], 2), "state_bytes": got["seasonal"][1]},
        {"group": "detector", "name": "update baseline (old default)", "value": round(old[0], 2),
         "unit": "us/update", "state_bytes": old[1]},
    ]


if __name__ == "__main__":
    for r in run():
        print(r)
