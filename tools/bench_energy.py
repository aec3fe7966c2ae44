"""Energy per board: one simulated day of the default wake cycle on each board file, from the simulator's energy
model (the board file's power figures with their sources; sim/energy.py). Rows: average current, mAh per day,
battery life on the board's battery, and the part that dominates. Virtual time, so the figures are the same on
every machine; the wall time each day took is in the extras.

    .venv/bin/python tools/bench.py energy
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from fieldnode import boards  # noqa: E402
from fieldnode.lab import fleet, scenario  # noqa: E402

DURATION = "1d"


def run():
    rows = []
    for name in boards.names():
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory() as home:
            r = fleet.FleetRun(scenario.load({"board": name, "duration": DURATION,
                                              "environment": {"preset": "quiet"}}), Path(home))
            try:
                d = r.run()["devices"][0]
            finally:
                r.close()
        wall = round(time.monotonic() - t0, 1)
        print(f"  energy: {name} {d['average_ua']} uA ({wall} s)", file=sys.stderr)
        life = d["battery_days"]
        extra = {"dominant": d["dominant"], "wall_s": wall, "lost": d["lost"],
                 "note": f"{life / 365:.1f} years on {d['battery_mah']} mAh, dominated by {d['dominant']}"
                 if life else "no battery figure"}
        rows.append({"group": "energy", "name": f"{name} average current", "value": d["average_ua"],
                     "unit": "uA", **extra})
        rows.append({"group": "energy", "name": f"{name} charge per day", "value": d["mah_per_day"],
                     "unit": "mAh/day"})
        rows.append({"group": "energy", "name": f"{name} battery life", "value": life, "unit": "days"})
        rows.append({"group": "energy", "name": f"{name} radio on per day", "value": d["radio_on_s"], "unit": "s"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
