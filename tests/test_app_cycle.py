"""The device application on the virtual board: a week with power cuts and an outage loses nothing, the low-power
board meets its budget, a bad config falls back, a boot loop enters safe mode. Energy and time are virtual, so the
figures asserted here are deterministic results of the simulation, not wall-clock measurements."""

import json

from fieldnode.lab import fleet


def _offer_a_bad_update(run, tmp_path):
    """Day 3: an operator offers version 1.0.1, whose app.py fails on import (a module its build forgot)."""
    from fieldnode import build, release
    from fieldnode.paths import FIRMWARE

    bundle = build.build(run.scn.board, run.workdir / "build", arch="x64")
    files = {p: f.read_bytes() for p, f in bundle.files.items()}
    src = tmp_path / "app.py"
    src.write_text((FIRMWARE / "app.py").read_text().replace("import rtcstate\n",
                                                             "import rtcstate\nimport a_module_this_build_forgot\n", 1))
    build.compile_module(src, tmp_path / "app.mpy", "x64")
    files["/app.mpy"] = (tmp_path / "app.mpy").read_bytes()
    rel = release.make(files, run.scn.board, "x64", "1.0.1")
    release.write(rel, release.default_path(rel))
    run.collector.updates.offer(fleet.DEVICE_ID_BASE, "1.0.1")


def test_week_with_power_cuts_outage_and_a_bad_update_loses_nothing(make_run, tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home0"))  # where release files are written and served
    run = make_run(board="m5stack-core2", duration="7d", seed=3,
                   config={"policy": {"sample_s": 1800}},
                   environment={"preset": "core2_demo", "bearing_start": "5d"},
                   faults=[{"kind": "power_cuts", "count": 8},
                           {"kind": "outage", "from": "2d", "to": "3d"}])
    s = run.run(actions=[(3 * 86400 + 3600, lambda r: _offer_a_bad_update(r, tmp_path))])
    d = s["devices"][0]
    statuses = [h["status"] for h in run.collector.updates.history(fleet.DEVICE_ID_BASE)]
    assert statuses[:3] == ["offered", "switched", "rolled_back"], statuses
    assert d["ends"].get("powercut", 0) >= 6, d["ends"]  # cuts landed inside wake cycles
    assert not set(d["ends"]) & {"wdt", "hang", "crash", "exit"}, d["ends"]
    assert d["generated"] > 100
    assert d["lost"] == 0 and d["missing_counters"] == []
    assert d["delivered"] + d["queued"] == d["generated"]
    reports = run.reports(d["device"])
    # the outage day was bridged by the queue: reports made during it were delivered afterwards
    start = s["start_ts"]
    # (a power cut inside the outage leaves the clock unset until the next attach: the reports made meanwhile go
    # out with their times corrected (firmware/timesync.py); any sent before the clock was set carry the
    # collector's receive time, marked "ts_source": "collector", and arrive when the outage ends)
    during = [r for r in reports if start + 2 * 86400 <= r["ts"] < start + 3 * 86400
              or (r.get("ts_source") == "collector" and start + 3 * 86400 <= r["ts"] < start + 3 * 86400 + 6 * 3600)]
    assert len(during) >= 20
    # the failing bearing (day 5) raised an alarm within a few hours, and none before
    alarms = [r["ts"] for r in reports if "anomaly" in r["flags"] or "high" in r["flags"]]
    assert alarms and min(alarms) >= start + 5 * 86400
    assert min(alarms) - (start + 5 * 86400) < 6 * 3600
    assert d["charge_mc"] > 0 and d["dominant"]
    assert d["false_alarms"] == 0 and 0 <= d["detection_delay_s"] < 6 * 3600


def test_low_power_board_defaults_average_at_most_50_uA(make_run):
    run = make_run(board="lowpower-ref", duration="2d", environment={"preset": "quiet"})
    d = run.run()["devices"][0]
    assert d["lost"] == 0
    assert d["uplinks"] >= 10  # batched every 4 hours (and the first at boot)
    assert d["average_ua"] <= 50.0, d["energy_parts_mc"]
    assert d["battery_days"] >= 5 * 365


def _one_device(make_run, **kw):
    run = make_run(board="m5stack-core2", duration="1h", environment={"preset": "quiet"}, **kw)
    run.setup()
    return run, run.devices[0].board


def test_bad_config_falls_back_to_the_last_good_one_and_says_so(make_run):
    run, b = _one_device(make_run)
    first = b.run_cycle()
    assert first.end == "deepsleep", first.output
    b.sleep_until_wake(first)
    b.put_files({"/config.json": "{\"device_id\": 1001, \"policy\": {\"sample_s\": 0}}"})
    c = b.run_cycle()
    assert c.end == "deepsleep", c.output
    assert "config.json refused: policy: sample_s must be an integer 10..86400" in c.output
    assert "using the last good config" in c.output
    b.sleep_until_wake(c)
    b.put_files({"/config.json": "{not json"})
    c = b.run_cycle()
    assert c.end == "deepsleep" and "config.json refused" in c.output


def test_boot_loop_enters_safe_mode_and_keeps_the_repl(make_run):
    run, b = _one_device(make_run)
    # a module that fails on import: a stale .py shadows the deployed .mpy (MicroPython looks for .py first)
    b.put_files({"/measure.py": "raise RuntimeError('broken sensor code')\n"})
    ends = [b.run_cycle() for _ in range(4)]
    assert [c.end for c in ends[:3]] == ["reset", "reset", "reset"]
    assert "broken sensor code" in ends[0].output
    assert ends[3].end == "exit" and "safe mode: 3 boots without completing a cycle" in ends[3].output
    # a technician fixes it; the next power-on runs normally again
    b.put_files({"/measure.py": "from measure_fixed import *\n", "/measure_fixed.py": ""})
    b.power_cut()
    b.list_files("/")  # the board is powered again by any access; RTC memory was lost with the power


def test_unprovisioned_board_stays_at_the_repl(make_run):
    run, b = _one_device(make_run)
    b.put_files({"/config.json": ""})
    c = b.run_cycle()
    assert c.end == "exit"
    assert "config.json refused" in c.output and "not provisioned" in c.output


def test_device_config_is_valid_json_for_the_firmware(make_run):
    run, b = _one_device(make_run)
    cfg = json.loads(b.read_file("/config.json"))
    assert cfg["device_id"] == fleet.DEVICE_ID_BASE
    assert b.read_file("/key.bin") == run.registry.key_for(fleet.DEVICE_ID_BASE)


def test_downlink_commands_are_applied_atomically_and_acknowledged(make_run):
    run = make_run(board="lowpower-ref", duration="1d", environment={"preset": "quiet"})
    run.setup()
    d = run.devices[0]
    b = d.board
    t0 = b.clock.now_ms()
    run._step(d, t0 + 5 * 3600_000)  # the boot uplink and one batch: the device is known to the collector
    run.collector.queue_command(d.device_id, ("set_interval", 5))  # below the device's 10 s floor: refused
    run.collector.queue_command(d.device_id, ("set_interval", 1200))
    run.collector.queue_command(d.device_id, ("set_threshold", 1, 0))  # threshold 0: vibration RMS above 1 mg
    run._step(d, t0 + 13 * 3600_000)
    sleeps = []
    for _ in range(3):
        c = b.run_cycle()
        sleeps.append(c.sleep_ms)
        b.sleep_until_wake(c)
    # the new interval took effect: about 20 minutes between wakes instead of 10
    assert all(1_190_000 <= s <= 1_200_000 for s in sleeps), sleeps
    run._step(d, t0 + 22 * 3600_000)
    cmds = run.collector.store.commands(d.device_id)
    assert [c["acked"] is not None for c in cmds] == [True, True, True]  # acknowledged in a later uplink
    late = [r for r in run.reports(d.device_id) if r["ts"] * 1000 > t0 + 14 * 3600_000]
    assert late and all("high" in r["flags"] for r in late)  # the new threshold is in force


def test_an_mcu_reset_with_a_socket_open_does_not_stop_later_uplinks(make_run):
    run, b = _one_device(make_run)
    c = b.run_cycle()  # boot: attach, open the socket, send
    assert c.end == "deepsleep" and ", sent 1," in c.output
    # the MCU browns out while the modem, on its own supply, keeps a socket open
    b.modem.open_socket(0, "UDP", "uni.soracom.io", 23080)
    b.sleep_until_wake(c)
    b.cut_power_at(b.clock.now_ms() + b.boot_ms + 5, reason="brownout")
    assert b.run_cycle().end == "brownout"
    delivered = run.collector.status()["totals"]["stored"]
    c = b.run_cycle()  # power-on: a boot report and an uplink on a socket id the modem still holds
    assert c.end == "deepsleep", c.output
    assert run.collector.status()["totals"]["stored"] > delivered, c.output
