"""The default detector (core/surprise.py): behaviour, state, config, the same under MicroPython, no allocation."""

import json
import random
import sys

import pytest
from conftest import ROOT
from core import detector
from core.surprise import RAISED, STATE_SIZE, WARMUP, Surprise

sys.path.insert(0, str(ROOT / "tools"))
import nab_cv  # noqa: E402


def _noise(seed, n, sd=10, base=1000):
    r = random.Random(seed)
    return [int(r.gauss(base, sd)) for _ in range(n)]


def test_a_step_raises_once_within_a_few_readings_and_holds_off():
    xs = _noise(1, 2000) + _noise(2, 400, base=1100)  # a 10-sigma level shift at 2000
    d = Surprise({"warmup": 300, "holdoff": 1000})
    evs = [d.update(x) for x in xs]
    raised = [i for i, e in enumerate(evs) if e & RAISED]
    step = [i for i in raised if i >= 1900]
    assert len(step) == 1 and 2000 <= step[0] <= 2004  # found at once; the hold-off keeps it one event
    assert all(e & WARMUP and not e & RAISED for e in evs[:300])
    assert len(raised) <= 2  # at most one chance alarm on 1700 readings of white noise: NAB's standard profile
    # weighs a miss as 9 false alarms, and the default is chosen for it


def test_a_spike_on_a_calm_signal_raises_on_that_reading():
    quiet = _noise(4, 3000)
    quiet[2500] = 1300
    d = Surprise()
    raised = [i for i, x in enumerate(quiet) if d.update(x) & RAISED]
    assert raised[0] == 2500  # nothing before it (white noise may raise again later: see the step test)


def test_score_is_a_likelihood_in_0_1_and_rises_with_the_statistic():
    d = Surprise()
    pairs = []
    for x in _noise(5, 1500) + [1200] * 20:
        d.update(x)
        pairs.append((d.lz, d.score))
    assert all(0 <= s <= 65535 for _, s in pairs)
    pairs.sort()
    assert all(a[1] <= b[1] for a, b in zip(pairs, pairs[1:], strict=False))
    assert pairs[-1][1] == 65535 and pairs[0][1] < 3000


def test_state_round_trip_continues_identically_and_fits_the_rtc_slot():
    xs = _noise(7, 1200) + _noise(8, 200, base=1080)
    a = Surprise({"warmup": 100})
    for x in xs[:1000]:
        a.update(x)
    blob = bytes(a.to_bytes())
    assert len(blob) == STATE_SIZE == detector.STATE_SIZE == 32
    b = Surprise({"warmup": 100})
    b.from_bytes(blob)
    assert [(a.update(x), a.score) for x in xs[1000:]] == [(b.update(x), b.score) for x in xs[1000:]]
    with pytest.raises(ValueError, match="32 bytes"):
        b.from_bytes(b"\x00" * 32)


def test_one_place_for_defaults_and_clear_config_errors():
    assert detector.validate({}) == detector.DEFAULTS
    assert isinstance(detector.make(), Surprise) and isinstance(detector.make({"method": "baseline"}),
                                                                 detector.baseline.Baseline)
    with pytest.raises(ValueError, match="unknown key 'k' for method surprise.*method.*baseline"):
        detector.validate({"k": 2})
    with pytest.raises(ValueError, match="'method' = 'magic'"):
        detector.validate({"method": "magic"})
    with pytest.raises(ValueError, match="below 'raise'"):
        detector.validate({"raise": 2, "clear": 2})


def test_the_host_replay_and_the_fleet_take_the_firmware_defaults():
    from fieldnode import detect
    from fieldnode.lab import fleet

    cfg = detect.load_config()
    assert {k: v for k, v in cfg.items() if k != "replay"} == detector.DEFAULTS
    assert detector.validate(fleet.DEFAULT_CONFIG["detector"]) == detector.DEFAULTS


def test_the_cv_tools_decision_replica_raises_where_the_firmware_does():
    xs = _noise(9, 3000)
    for i in range(600, 3000, 170):
        xs[i] += 80 * (i % 3)  # spikes of three sizes, some inside one another's hold-off
    for cfg in ({"holdoff": 100}, {"holdoff": 0, "raise": 2.5, "clear": 1.0}, {"holdoff": 250, "raise": 5.0}):
        d = detector.make(cfg)
        full = detector.validate(cfg)
        raised, lz = [], []
        for i, x in enumerate(xs):
            if d.update(x) & RAISED:
                raised.append(i)
            lz.append(d.lz)
        assert raised and raised == nab_cv.decide(lz, full["warmup"], full["raise"], full["clear"], full["holdoff"])


def _on_micropython(mpy, tmp_path, xs, cfg):
    """The detector for cfg fed xs under CPython and under MicroPython: (CPython's [[event, score], ..., state
    bytes], MicroPython's, bytes MicroPython allocated over all the updates from the very first after construction)."""
    ref = Surprise(cfg)
    want = [[ref.update(x), ref.score] for x in xs]
    want.append(list(ref.to_bytes()))
    (tmp_path / "xs.json").write_text(json.dumps(xs))
    out = mpy(f"""
import json, gc
from core.detector import make
from array import array
xs = json.load(open({str(tmp_path / 'xs.json')!r}))
d = make(json.loads({json.dumps(json.dumps(cfg))}))
evs = array('i', [0] * len(xs))
scs = array('i', [0] * len(xs))
i = a0 = a1 = 0  # bind the globals first: a new global can grow the module dict, not the detector
gc.collect(); gc.disable()
a0 = gc.mem_alloc()
for i in range(len(xs)):
    evs[i] = d.update(xs[i])
    scs[i] = d.score
a1 = gc.mem_alloc()
gc.enable()
print(a1 - a0)
for i in range(len(xs)):
    print(evs[i], scs[i])
print(' '.join(str(v) for v in d.to_bytes()))
""").check()
    lines = out.splitlines()
    return want, [[int(v) for v in ln.split()] for ln in lines[1:]], int(lines[0])


def test_same_under_micropython_and_no_allocation(mpy, tmp_path):
    xs = _noise(3, 600) + _noise(4, 100, sd=40, base=1200) + [2**25, -(2**25), 0] + _noise(5, 100)
    want, got, alloc = _on_micropython(mpy, tmp_path, xs, {"warmup": 100, "holdoff": 50})
    assert got == want and any(e & RAISED for e, _ in want[:-1])
    assert alloc == 0


def _daily(seed, days, per=96, skip=None):
    # a square daily cycle (high half the day) in noise; day ``skip`` stays low (a missing daily rise)
    r = random.Random(seed)
    return [int(r.gauss(1000 + (400 if (i % per) >= per // 2 and i // per != skip else 0), 10))
            for i in range(days * per)]


def test_the_seasonal_channel_finds_a_missing_daily_rise_that_the_surprise_alone_misses():
    xs = _daily(11, 14, skip=10)
    hits = {}
    for per in (0, 96):
        d = Surprise({"period": per})
        hits[per] = [i for i, x in enumerate(xs) if d.update(x) & RAISED]
    assert not [i for i in hits[0] if 10 * 96 + 48 <= i < 11 * 96]  # the level EWMA sees a flat day as calm
    assert [i for i in hits[96] if 10 * 96 + 48 <= i < 10 * 96 + 60]  # the profile expects the rise: found at once
    assert not [i for i in hits[96] if 600 <= i < 10 * 96 + 48]  # and the regular cycle raises nothing


def test_seasonal_state_round_trip_fits_512_bytes_and_rejects_a_wrong_size():
    xs = _daily(12, 6, per=288)
    cfg = {"period": 288, "warmup": 100}
    a = Surprise(cfg)
    for x in xs[:1000]:
        a.update(x)
    blob = bytes(a.to_bytes())
    assert len(blob) == a.size == 32 + 24 + 4 * 96 <= 512
    b = Surprise(cfg)
    b.from_bytes(blob)
    assert [(a.update(x), a.score) for x in xs[1000:]] == [(b.update(x), b.score) for x in xs[1000:]]
    with pytest.raises(ValueError, match="expected 440 bytes"):
        b.from_bytes(blob[:32])
    with pytest.raises(ValueError, match="'period' = 1"):
        detector.validate({"period": 1})


def test_daily_period_from_timestamps():
    from fieldnode import detect

    five = ["2014-04-01 00:%02d:00" % m for m in range(0, 60, 5)]
    assert detect.daily_period(five) == 288
    assert detect.daily_period(["2014-04-01 %02d:00:00" % h for h in range(10)]) == 24
    assert detect.daily_period(["2014-04-01 00:00:00", "2014-04-01 00:00:07", "2014-04-01 00:00:14"]) == 0
    assert detect.daily_period(["x", "y"]) == 0


def test_seasonal_same_under_micropython_and_no_allocation(mpy, tmp_path):
    xs = _daily(13, 6, per=96, skip=4) + [2**25, -(2**25), 0] + _daily(14, 1, per=96)
    cfg = {"warmup": 100, "holdoff": 50, "period": 96, "bins": 48}
    want, got, alloc = _on_micropython(mpy, tmp_path, xs, cfg)
    assert got == want and any(e & RAISED for e, _ in want[:-1])
    assert alloc == 0
