"""Time from the collector's acknowledgement (firmware/timesync.py, proto/codec.py version 2 replies): when a
device takes it, the windows of reports whose times are corrected as they are sent, the RTC memory that carries
what that needs, and end to end on Wi-Fi boards, which have no other time source after a power loss."""

import re

import rtcstate
import timesync as T
from conftest import run_mpy
from fieldnode.lab import fleet
from hypothesis import given, settings
from hypothesis import strategies as st
from proto import codec, schema

NOW = 1_800_000_000  # 2027-01-15
KEY = bytes(range(16))


# -- when an acknowledgement's time is taken ----------------------------------------------------------------------
def test_an_unset_clock_takes_the_time_from_any_authenticated_ack():
    # the RTC counts from the epoch after a power loss; the ack's whole second plus half of it plus half the rtt
    assert T.ack_step_ms(12_345, NOW, 300, 0) == NOW * 1000 + 500 + 150 - 12_345
    assert T.ack_step_ms(12_345, NOW, 300, NOW - 86400) is not None


def test_a_set_clock_moves_only_beyond_the_slack_plus_the_round_trip():
    assert T.ack_step_ms(NOW * 1000 + 650, NOW, 300, 0) is None  # agrees to the millisecond
    est = NOW * 1000 + 500 + 400  # what the ack says it is now, 800 ms after the uplink went out
    slack = T.SLACK_MS + 800
    assert T.ack_step_ms(est - slack, NOW, 800, 0) is None  # behind by just the slack and the rtt: noise
    assert T.ack_step_ms(est - slack - 1, NOW, 800, 0) == slack + 1  # one ms more: stepped forward
    assert T.ack_step_ms(est + slack + 1, NOW, 800, 0) == -slack - 1  # ahead (an RTC running fast): back
    assert T.ack_step_ms(est + 60_000, NOW, 800, NOW - 3600) == -60_000  # back, but not before the last set


def test_a_stale_or_unset_collector_time_is_never_taken():
    assert T.ack_step_ms(5_000, NOW, 100, NOW + 1) is None  # older than the time the clock was last set to
    assert T.ack_step_ms(NOW * 1000 + 10**7, NOW - 3600, 100, NOW - 1800) is None
    assert T.ack_step_ms(5_000, T.TS_SYNCED - 1, 100, 0) is None  # a collector whose own clock is not set


# -- correcting what was queued before ----------------------------------------------------------------------------
def _rec(ts, flags=0):
    return codec.encode_report((ts, flags, 2000, 3700, 10, 20, 3, 4))


def test_a_window_holds_only_reports_of_this_power_on_never_sent():
    assert T.window(40, 0, 46, 1_799_990_000) == [40, 45, 1_799_990_000]  # queued since the power-on (40..45)
    assert T.window(40, 42, 46, 7) == [43, 45, 7]  # 40..42 went out once: they stay as sent
    assert T.window(40, 45, 46, 7) is None  # everything was sent
    assert T.window(0, 0, 46, 7) is None  # which report began this power-on is not known: none is touched
    assert T.window(40, 0, 40, 7) is None  # nothing queued since
    assert T.window(40, 0, 46, -7) is None  # never backwards: an unset clock is always behind wall time


def test_stamp_moves_the_ts_of_unset_reports_in_a_window_and_nothing_else():
    wins = [[10, 12, NOW - 600]]
    unset = _rec(620, schema.FLAG_BOOT)
    fixed = T.stamp(wins, 11, unset)
    assert codec.decode_report(fixed)[0][0] == NOW + 20 and fixed[4:] == unset[4:]
    assert T.stamp(wins, 11, fixed) == fixed  # a ts after 2020 is wall time already
    assert T.stamp(wins, 13, unset) == unset and T.stamp(wins, 9, unset) == unset
    assert T.stamp(wins, 11, unset) == fixed  # the same bytes every time: a retransmission repeats them


def test_windows_are_bounded_and_dropped_once_acknowledged():
    wins = []
    for i in range(T.MAX_WINDOWS + 2):
        wins = T.add(wins, [10 * i + 1, 10 * i + 5, 100])
    assert len(wins) == T.MAX_WINDOWS and T.add(wins, None) is wins
    assert T.prune(wins, 15) == wins[2:] and T.prune(wins, 0) == wins


@given(st.lists(st.tuples(st.integers(0, T.TS_SYNCED + 10), st.integers(1, 30)), min_size=1, max_size=30),
       st.integers(1, 400), st.integers(-(2**20), 2**31))
@settings(max_examples=80)
def test_stamp_is_a_function_of_the_counter_and_the_bytes(recs, first, step):
    wins = [[first, first + len(recs) // 2, step]]
    for i, (ts, _) in enumerate(recs):
        r = _rec(ts)
        a, b = T.stamp(wins, first + i, r), T.stamp(list(map(list, wins)), first + i, bytes(r))
        assert a == b and len(a) == len(r) and a[4:] == r[4:]


def test_micropython_stamps_and_decides_as_cpython():
    code = f"""
import timesync as T
from proto import codec
r = codec.encode_report((620, 0, 2000, 3700, 10, 20, 3, 4))
print(T.stamp([[10, 12, {NOW - 600}]], 11, r).hex())
print(T.ack_step_ms(12345, {NOW}, 300, 0), T.ack_step_ms({NOW * 1000 + 650}, {NOW}, 300, 0))
print(T.window(40, 42, 46, 7))
"""
    out = run_mpy(code).check().splitlines()
    assert bytes.fromhex(out[0]) == T.stamp([[10, 12, NOW - 600]], 11, _rec(620))
    assert out[1] == f"{T.ack_step_ms(12_345, NOW, 300, 0)} None" and out[2] == "[43, 45, 7]"


def test_rtc_memory_keeps_the_power_on_counters():
    s = rtcstate.State()
    s.clock_from, s.sent_hw, s.detector = 123456, 123470, b"\x01" * 32
    raw = s.dump()
    assert len(raw) == rtcstate.SIZE == 68
    back = rtcstate.State().load(raw)
    assert (back.clock_from, back.sent_hw, back.fresh) == (123456, 123470, False)
    bad = bytearray(raw)
    bad[60] ^= 1
    assert rtcstate.State().load(bytes(bad)).fresh  # a flipped bit is garbage, never state
    assert rtcstate.State().load(raw[:60]).fresh  # the layout before this one: started afresh


# -- end to end: Wi-Fi boards on the virtual board ----------------------------------------------------------------
WIFI = "esp32-c3-devkitm"


def _made(run):
    """{counter: virtual second its report was made}: the cycle that queued it logs its counter."""
    made, last = {}, [0]
    b = run.devices[0].board
    orig = b.run_cycle

    def cycle(*a, **k):
        c = orig(*a, **k)
        m = re.search(r"seq (\d+), queue", c.output)
        if m and int(m.group(1)) > last[0]:
            last[0] = int(m.group(1))
            made[last[0]] = c.start_ms / 1000
        return c

    b.run_cycle = cycle
    return made


def _wifi(make_run, **kw):
    run = make_run(board=WIFI, environment={"preset": "quiet"}, **kw)
    run.setup()
    return run, _made(run)


def _by_counter(run):
    return sorted(run.reports(fleet.DEVICE_ID_BASE), key=lambda r: r["counter"])


def test_wifi_board_after_a_power_cut_stamps_wall_time_from_its_first_acknowledged_uplink(make_run):
    # The access point is gone from an hour before the cut until 16 h after: the board powers on with its clock
    # at the epoch and queues ~20 reports it cannot send. The first uplink after the AP returns carries 12 of them
    # (stamped by the collector on arrival, marked); its ack sets the clock, and the rest go out corrected.
    run, made = _wifi(make_run, duration="2d", faults=[{"kind": "power_cut", "at": "1d"}])
    wifi = run.devices[0].board.wifi
    s = run.run(actions=[(23 * 3600, lambda r: setattr(wifi, "fail", "no_ap")),
                         (40 * 3600, lambda r: setattr(wifi, "fail", None))])
    d = s["devices"][0]
    assert d["ends"].get("powercut") == 1 and d["lost"] == 0 and d["missing_counters"] == []
    start = s["start_ts"]
    reports = _by_counter(run)
    marked = [r for r in reports if r.get("ts_source") == "collector"]
    assert 0 < len(marked) <= 12 and all(r["ts_device"] < T.TS_SYNCED for r in marked)
    first_ack = min(r["received"] for r in marked)
    assert first_ack > start + 40 * 3600  # nothing went out while the AP was gone
    corrected = [r for r in reports if r.get("ts_source") is None and start + 86400 < made.get(r["counter"], 0)
                 < first_ack]
    assert len(corrected) >= 3, "reports queued during the outage behind the first batch keep their own time"
    for r in reports:
        if r.get("ts_source") is None and r["counter"] in made:
            assert abs(r["ts"] - made[r["counter"]]) <= 3, r  # wall time, as exact as the clock set
    after = [r for r in reports if made.get(r["counter"], 0) > first_ack]
    assert after and all(r.get("ts_source") is None for r in after)


def test_wifi_board_ignores_a_tampered_ack_time_and_never_steps_back_to_a_stale_one(make_run):
    run, made = _wifi(make_run, duration="30h", faults=[{"kind": "power_cut", "at": "2h"}])
    col = run.collector
    handle, clock = col.handle, col.clock
    shift = {"tamper": False, "by": 0}
    good = []  # virtual times of the acks that reached the board untouched

    def tampering(datagram, source="local"):
        rep = handle(datagram, source)
        if rep is not None and shift["tamper"] and rep[0] >> 5 == 2:
            t = int.from_bytes(rep[9:13], "big") + 365 * 86400  # a year ahead, without the key
            rep = rep[:9] + t.to_bytes(4, "big") + rep[13:]
        elif rep is not None:
            good.append(clock())
        return rep

    col.handle = tampering
    col.clock = lambda: clock() + shift["by"]

    def phase(**kw):
        return lambda r: shift.update(kw)

    s = run.run(actions=[(3600, phase(tamper=True)), (8 * 3600, phase(tamper=False)),
                         (14 * 3600, phase(by=90)),  # the collector's clock 90 s ahead: beyond the slack, taken
                         (20 * 3600, phase(by=-86400))])  # a day behind: older than the last set, never taken
    d = s["devices"][0]
    assert d["lost"] == 0 and d["missing_counters"] == []
    assert "reply refused: bad_tag" in "".join(e.get("text", "") for e in run.devices[0].board.events)
    start = s["start_ts"]
    synced = min(t for t in good if t > start + 8 * 3600)  # the first ack after the tampering stopped
    skewed = min(t for t in good if t > start + 14 * 3600)  # the first one 90 s ahead
    for r in _by_counter(run):
        t = made.get(r["counter"])
        if t is None:
            continue
        assert r["ts"] < t + 86400, r  # the forged year was never taken
        if r.get("ts_source") == "collector":
            assert start + 2 * 3600 <= t < synced  # made after the cut, before any ack the board could take
            continue
        if start + 2 * 3600 <= t < synced or start + 14 * 3600 <= t < skewed:
            continue
        want = 90 if t >= skewed else 0
        assert abs(r["ts"] - t - want) <= 3, (r, t - start)  # stays 90 s ahead: the stale day is ignored
    assert any(t > start + 21 * 3600 for t in made.values())
