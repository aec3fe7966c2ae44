"""Network time: the virtual board's RTC restarts at the epoch on a power loss (not on deep sleep), the modem models
answer AT+CCLK? / AT+QLTS as TS 27.007 and the manuals say, the drivers read it, and a fleet with a power cut
delivers reports whose times at the collector are wall time, those queued before the clock was set corrected."""

import pytest
from fieldnode.sim.board import DEEPSLEEP_RESET, PWRON_RESET, VirtualBoard
from fieldnode.sim.clock import EPOCH_2026
from net import link as L
from test_modem_models import booted
from test_net_drivers import MODELS, board, collector  # noqa: F401 - fixtures (compiled: conftest)

T2026 = EPOCH_2026 // 1000

MAIN = """import machine, time
t = time.time()
print('T', t, time.localtime()[0], machine.reset_cause())
if t < 1577836800:
    machine.RTC().datetime((2026, 3, 1, 6, 0, 12, 0, 0))
time.sleep_ms(500)
machine.deepsleep(60000)
"""


def _t(cycle):
    line = next(x for x in cycle.output.splitlines() if x.startswith("T "))
    _, t, year, cause = line.split()
    return int(t), int(year), int(cause)


def test_power_cut_restarts_the_rtc_time_deep_sleep_keeps_it(tmp_path):
    with VirtualBoard("lowpower-ref", flash_dir=tmp_path) as b:
        b.put_files({"main.py": MAIN})
        c1 = b.run_cycle()
        t1, y1, _ = _t(c1)
        assert y1 == 2026 and abs(t1 - T2026) < 5  # a board whose RTC was set (the simulator's start)
        b.sleep_until_wake(c1)
        c2 = b.run_cycle()
        t2, _, cause2 = _t(c2)
        assert cause2 == DEEPSLEEP_RESET and 60 <= t2 - t1 <= 62  # deep sleep keeps the time
        b.sleep_until_wake(c2)
        sim_before = b.clock.now_ms()
        b.cut_power_at(b.clock.now_ms() + b.boot_ms + 100)
        c3 = b.run_cycle()
        assert c3.end == "powercut"
        assert b.clock.now_ms() >= sim_before  # the simulator's own clock never jumps back
        c4 = b.run_cycle()
        t4, y4, cause4 = _t(c4)
        assert cause4 == PWRON_RESET and y4 == 1970 and 0 <= t4 < 5  # counts from the epoch at power-on
        b.sleep_until_wake(c4)
        c5 = b.run_cycle()
        t5, y5, _ = _t(c5)
        # RTC.datetime((2026, 3, 1, ...0:12:00)) set in c4, then ~0.5 s awake and 60 s of deep sleep
        set_at = L.civil_s(2026, 3, 1, 0, 12, 0)
        assert y5 == 2026 and 60 <= t5 - set_at <= 62


def test_models_answer_cclk_after_registration_only():
    for name in ("sim7080g", "bg95"):
        r = booted(name, {"network": {"tz": 36, "attach_ms": 6000}})
        r.at("AT+CMEE=1")
        assert b"+CME ERROR: 30" in r.at("AT+CCLK?")  # not registered: no network time yet
        assert b"OK" in r.at("AT+CTZU=1")
        r.wait(7000)
        out = r.at("AT+CCLK?").decode()
        utc = r.clock.now_ms() // 1000
        line = next(x for x in out.split("\r\n") if x.startswith("+CCLK: "))
        assert line.endswith('+36"')  # local time and the zone in quarter hours (UTC+9)
        assert abs(L.clock_s(line[7:]) - utc) <= 1
    r = booted("sim7080g", {"network": {"nitz": False}})
    r.at("AT+CMEE=1")
    r.at("AT+CLTS=1")
    r.wait(7000)
    assert b"+CME ERROR: 3" in r.at("AT+CCLK?")  # registered, but this network never sends NITZ
    r = booted("bg95", {"network": {"tz": -20}})
    assert b'+QLTS: ""' in r.at("AT+QLTS=1")
    r.wait(7000)
    out = r.at("AT+QLTS=1").decode()
    line = next(x for x in out.split("\r\n") if x.startswith("+QLTS: "))
    assert line.endswith('-20,0"') and line[8:12] == "2026"
    assert abs(L.clock_s(line[7:], utc=True) - r.clock.now_ms() // 1000) <= 1


def test_clock_strings():
    assert L.clock_s('"94/05/06,22:10:00+08"') is None  # TS 27.007 8.15's example: before 2020, not network time
    assert L.clock_s('"26/05/06,22:10:00+08"') == L.civil_s(2026, 5, 6, 20, 10, 0)
    assert L.clock_s("26/05/06,22:10:00") == L.civil_s(2026, 5, 6, 22, 10, 0)
    assert L.clock_s('"26/05/06,01:10:00-20"') == L.civil_s(2026, 5, 6, 6, 10, 0)
    assert L.clock_s('"80/01/06,00:00:12+00"') is None  # a vendor's default clock before NITZ
    assert L.clock_s('"2026/01/13,03:40:48+32,0"', utc=True) == L.civil_s(2026, 1, 13, 3, 40, 48)
    for bad in ('""', "garbage", "26/13/01,00:00:00+00", b"26/01/01,25:00:00"):
        assert L.clock_s(bad) is None


@pytest.mark.parametrize("name", MODELS)
def test_drivers_read_network_time(board, name):  # noqa: F811
    b = board(name, {"network": {"tz": 36}})
    got = b.run("timed_up(60000)\nout(t=link.time(), now=time.time())")
    assert got[0]["up"], got
    assert got[1]["t"] is not None and abs(got[1]["t"] - got[1]["now"]) <= 2
    b = board(name, {"network": {"nitz": False}})
    got = b.run("timed_up(60000)\nout(t=link.time())")
    assert got[0]["up"] and got[1]["t"] is None


def test_fleet_power_cut_reports_keep_wall_time(make_run):
    run = make_run(board="m5stack-core2", duration="30h", environment={"preset": "quiet"},
                   faults=[{"kind": "power_cut", "at": "1d"}])
    s = run.run()
    d = s["devices"][0]
    assert d["ends"].get("powercut", 0) == 1, d["ends"]
    assert d["lost"] == 0
    start, cut = s["start_ts"], s["start_ts"] + 86400
    reports = sorted(run.reports(d["device"]), key=lambda r: r["counter"])
    assert reports
    for r in reports:
        assert r["ts"] >= 1577836800  # stored as wall time, whichever clock gave it
        assert start <= r["ts"] <= r["received"] + 1 <= start + 30 * 3600 + 1
    # the device's clock was set from the network at the first attach after the power-on, before anything was
    # sent: the report queued before that went out with its time moved by the same step (firmware/timesync.py),
    # so the collector had nothing to stamp with its receive time
    assert not [r for r in reports if r.get("ts_source") == "collector"]
    boot = [r for r in reports if "boot" in r["flags"] and r["ts"] > cut - 60]
    assert boot and abs(boot[0]["ts"] - cut) < 600
    # reports before and after keep device time, in order, with no jump
    ts = [r["ts"] for r in reports]
    assert all(b - a >= -600 for a, b in zip(ts, ts[1:], strict=False))
    after = [r for r in reports if r["ts"] > cut and r.get("ts_source") != "collector"]
    assert after and after[0]["ts"] - cut < 3600
