"""``make demo``: the main job on the built-in defaults.

A virtual M5Stack Core2 with an ENV III (SHT3x + QMP6988), its MPU6886 on a motor, and a SIM7080G on LTE-M is
flashed, deployed and provisioned through the same library calls as ``fieldnode flash``, ``fieldnode deploy``
and ``fieldnode provision`` use on a real board (esptool over RFC 2217, mpremote's transport over a
pseudo-terminal). Then it runs a simulated week against a local collector; the motor's bearing starts to fail on
day 5. It prints the alarm and when it was raised, what was sent and what it cost in bytes and battery, and writes
an HTML report with plots.

State goes to build/demo/ (FIELDNODE_HOME=build/demo/home), made fresh on every run.
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "build" / "demo"
BOARD = "m5stack-core2"
DEVICE_ID = 1001


def step(title):
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def done(t0, what=""):
    print(f"   ok ({time.monotonic() - t0:.1f} s){' ' + what if what else ''}", flush=True)


TTY = sys.stderr.isatty()


def bar(done_, total, label=""):
    """Progress on stderr: a bar redrawn in place on a terminal, nothing in a log (CI)."""
    if TTY:
        pct = 100 * done_ // max(total, 1)
        print(f"\r   [{'#' * (pct // 4):<25}] {pct:3d}% {label:<30}", end="", file=sys.stderr, flush=True)


def status(msg):
    if TTY:
        print(f"\r   {msg:<90}", end="", file=sys.stderr, flush=True)


def endline():
    if TTY:
        print(file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="make demo: flash, deploy and provision a virtual Core2, then simulate "
                                 "a week in which its motor's bearing begins to fail on day 5")
    ap.add_argument("--days", type=int, default=7, help="days to simulate (default 7)")
    ap.add_argument("--fault-day", type=float, default=5, help="day on which the bearing begins to fail (default 5)")
    ap.add_argument("--out", type=Path, default=DEMO, help="state and report folder (default build/demo)")
    a = ap.parse_args(argv)
    demo = a.out
    shutil.rmtree(demo, ignore_errors=True)
    home = demo / "home"
    home.mkdir(parents=True)
    os.environ["FIELDNODE_HOME"] = str(home)
    sys.path.insert(0, str(ROOT / "host"))
    from fieldnode import espimage, firmware
    from fieldnode.deploy import deploy
    from fieldnode.device import connect
    from fieldnode.flash import flash
    from fieldnode.lab import fleet, scenario
    from fieldnode.lab.report import format_summary, write_html
    from fieldnode.provision import ProvisionOptions, provision
    from fieldnode.sim.board import VirtualBoard

    t_all = time.monotonic()
    scn = scenario.load({"name": "demo", "board": BOARD, "duration": f"{a.days}d", "seed": 1,
                         "environment": {"preset": "core2_demo", "bearing_start": int(a.fault_day * 86400)}})
    run = fleet.FleetRun(scn, home, workdir=demo / "fleet", console=True)
    try:
        t = step(f"collector on {run.udp} (UDP, in the manner of SORACOM's Unified Endpoint)")
        board = VirtualBoard(BOARD, flash_dir=demo / "board",
                             scenario={"env": fleet.environment(scn), "modem": run.modem_scenario()})
        board.start()
        # adopted at once: the collector's "now" is then this board's virtual clock while it is provisioned too (the
        # collector's acks set the device's clock, and a clock is never set back)
        run.adopt(DEVICE_ID, board)
        done(t, f"virtual {BOARD} on {board.port} and {board.url}")
        print(f"   console: {run.servers.console_url}  (open it now: the fleet, the Core2's plots, its alarm live)",
              flush=True)

        t = step("fieldnode flash: MicroPython onto the board with esptool (RFC 2217 resets, as over USB)")
        # No firmware download here (no internet in CI): a stand-in image with a real ESP32 header; the virtual
        # board's CPU is the MicroPython unix port whatever the image holds. On hardware: fieldnode firmware add.
        fw = demo / "ESP32_GENERIC-stand-in.bin"
        fw.write_bytes(espimage.build_firmware("esp32"))
        firmware.add(fw)
        res = flash(board.url, BOARD, progress=lambda d, n, stage: bar(d, n, stage))
        endline()
        done(t, f"{res.chip_description}, MAC {res.mac}, {res.size} bytes at {res.offset:#x}, verified")

        t = step("fieldnode deploy: the firmware bundle, compiled by mpy-cross for what the board runs")
        with connect(board.port) as dev:
            d = deploy(dev, BOARD, progress=lambda n, total, path: bar(n, total, path))
        endline()
        done(t, d.summary())

        t = step("fieldnode provision: identity and key, SORACOM APN, SIM facts, a test uplink")
        # the fleet's defaults (detector tuning, vibration band, PSM timers) go in as extra config
        opts = ProvisionOptions(device_id=DEVICE_ID, extra=fleet.DEFAULT_CONFIG, start=False, who="make demo")
        rep = provision(board.port, BOARD, opts, registry=run.registry, progress=status)
        endline()
        for line in rep.summary().splitlines():
            print("   " + line)
        if not rep.passed:
            print("demo: provisioning failed", file=sys.stderr)
            return 1
        done(t)
        board.stop()

        t = step(f"{'a simulated week' if a.days == 7 else f'{a.days} simulated days'}: readings every 10 minutes, "
                 "hourly summaries, uplinks every 4 hours")
        summary = run.run(progress=status)
        endline()
        done(t, f"{scn.duration_s // 86400} days in {summary['wall_s']} s")
        reports = {DEVICE_ID: run.reports(DEVICE_ID)}
        html = demo / "report.html"
        write_html(html, summary, reports)
    finally:
        run.close()

    dev = summary["devices"][0]
    start = summary["start_ts"]
    print()
    print(format_summary(summary))
    print()
    fault = start + int(a.fault_day * 86400)
    alarms = [r for r in reports[DEVICE_ID] if set(r["flags"]) & {"anomaly", "high"}]
    if alarms:
        first = alarms[0]
        print(f"ALARM: bearing vibration anomaly raised {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(first['ts']))}"
              f", {(first['ts'] - fault) / 60:.0f} minutes after the bearing began to fail "
              f"(RMS {first['rms'] * 1000:.0f} mg, band {first['band'] * 1000:.0f} mg)")
    else:
        print("no alarm was raised: the detector missed the failing bearing")
    print(f"sent {dev['bytes_sent']} bytes in {dev['uplinks']} uplinks "
          f"({dev['bytes_sent'] / max(dev['delivered'], 1):.1f} bytes per report); radio on {dev['radio_on_s']} s")
    print(f"battery: {dev['average_ua'] / 1000:.2f} mA average, {dev['mah_per_day']} mAh/day, "
          f"{dev['battery_days']} days on the Core2's {dev['battery_mah']} mAh "
          f"(dominated by {dev['dominant']}: M5Stack boards draw mA in deep sleep; "
          f"see `fieldnode sim run --board lowpower-ref` for a board built for years)")
    print(f"\nreport: {html}  (open it in a browser)")
    print(f"console afterwards: FIELDNODE_HOME={home} fieldnode collect --db {run.db_path} --udp -1 --tcp -1, "
          "then http://127.0.0.1:8080/")
    print(f"demo took {time.monotonic() - t_all:.0f} s")
    return 0 if alarms and dev["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
