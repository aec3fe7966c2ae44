"""Benchmark: MPU6886 vibration sampling (prints a table; numbers, not assertions).

1. FIFO capture on the virtual Core2 (real driver, MPU6886 model, HwBus): the sample instants are the chip's
   (1 kHz from its oscillator), so the window's rate is exact by construction; measured here: virtual time per
   window, FIFO restarts (overflows), and wall-clock cost per window through the simulator.
2. The alternative without a FIFO, on the MicroPython unix port: a software-timed loop that reads one sample
   every 1000 us by polling ticks_us, against a fake bus. Its interval statistics show the jitter a timed loop
   gets from the runtime alone (on the ESP32, interrupts and Wi-Fi add to it); the FIFO avoids all of it.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from fieldnode import boards  # noqa: E402
from fieldnode.paths import FIRMWARE, micropython_cmd  # noqa: E402
from fieldnode.sim.clock import VirtualClock  # noqa: E402
from fieldnode.sim.hwbus import HwBus  # noqa: E402
from fieldnode.sim.physics import Environment, core2_demo  # noqa: E402
from fieldnode.sim.runtime import run as run_mpy  # noqa: E402
from fieldnode.sim.sensors import build_bus_devices  # noqa: E402

FIFO_CODE = """
import board, time
from array import array
b = board.load(%r)
imu = b.sensors['mpu6886']
x = array('h', bytes(2048)); y = array('h', bytes(2048)); z = array('h', bytes(2048))
for i in range(%d):
    t0 = time.ticks_ms()
    imu.read_window(x, y, z)
    print(time.ticks_diff(time.ticks_ms(), t0), imu.overflows)
"""

POLL_CODE = """
import time
from array import array
class Fake:
    def readfrom_mem_into(self, a, r, buf):
        for i in range(len(buf)):
            buf[i] = i
i2c = Fake(); buf = bytearray(6); ts = array('i', bytes(4 * 4096))
def loop(n):
    t = time.ticks_us()
    for i in range(n):
        t = time.ticks_add(t, 1000)
        while time.ticks_diff(t, time.ticks_us()) > 0:
            pass
        ts[i] = time.ticks_us()
        i2c.readfrom_mem_into(0x68, 0x3B, buf)
loop(4096)
for i in range(1, 4096):
    print(time.ticks_diff(ts[i], ts[i - 1]))
"""


def fifo_bench(windows=8):
    board = boards.load("m5stack-core2")
    clock = VirtualClock()
    env = Environment.from_dict(core2_demo(bearing_start_s=0), t0_ms=clock.now_ms())
    bus = HwBus(clock, i2c=build_bus_devices(board, clock, env))
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "board.json").write_text(board.path.read_text())
        t0 = time.perf_counter()
        r = run_mpy(FIFO_CODE % (str(Path(d) / "board.json"), windows), bus=bus)
        wall = time.perf_counter() - t0
    bus.close()
    rows = [tuple(int(v) for v in ln.split()) for ln in r.out.splitlines()]
    return rows, wall


def poll_bench():
    p = subprocess.run([micropython_cmd(), "-c", POLL_CODE], capture_output=True, text=True,
                       env={"MICROPYPATH": str(FIRMWARE)})
    return [int(v) for v in p.stdout.split()]


def main():
    rows, wall = fifo_bench()
    per = [r[0] for r in rows]
    print("MPU6886 FIFO capture, virtual Core2, 1024-sample windows at 1 kHz")
    print(f"  windows {len(rows)}  virtual ms/window min {min(per)} max {max(per)}  overflows {rows[-1][1]}")
    print(f"  effective rate {1024 * 1000 / statistics.mean(per):.1f} Hz (sample spacing: chip clock, 1000 us exact)")
    print(f"  wall time per window through the simulator {wall / len(rows) * 1000:.0f} ms (incl. start-up)")
    iv = poll_bench()
    iv_sorted = sorted(iv)
    print("Software-timed 1 kHz polling loop, MicroPython unix port (x86-64), 4095 intervals")
    print(f"  mean {statistics.mean(iv):.1f} us  stdev {statistics.pstdev(iv):.1f} us  "
          f"p99 {iv_sorted[int(0.99 * len(iv)) - 1]} us  min {iv_sorted[0]} us  max {iv_sorted[-1]} us")


def run():
    """Rows for make bench (tools/bench.py)."""
    rows, wall = fifo_bench()
    per = [r[0] for r in rows]
    iv = sorted(poll_bench())
    return [
        {"group": "vibration", "name": "MPU6886 FIFO window, 1024 samples at 1 kHz", "value": statistics.mean(per),
         "unit": "virtual ms", "overflows": rows[-1][1], "note": "sample spacing is the chip's clock"},
        {"group": "vibration", "name": "FIFO effective sample rate",
         "value": round(1024 * 1000 / statistics.mean(per), 1), "unit": "Hz"},
        {"group": "vibration", "name": "simulator wall time per window", "value": round(wall / len(rows) * 1000),
         "unit": "ms"},
        {"group": "vibration", "name": "software-timed 1 kHz loop (unix port), p99 interval", "value":
         iv[int(0.99 * len(iv)) - 1], "unit": "us", "mean_us": round(statistics.mean(iv), 1),
         "stdev_us": round(statistics.pstdev(iv), 1), "max_us": iv[-1]},
    ]


if __name__ == "__main__":
    main()
