"""Detector and usage meter: behaviour, state packing, config errors, same results under both runtimes."""

import json
import random
import subprocess
import sys

import pytest
from conftest import ROOT
from core.baseline import ACTIVE, CLEARED, FLAT, RAISED, REL, STATE_SIZE, WARMUP, validate
from core.baseline import Baseline as Detector
from core.usage import UsageMeter


def _stream(seed=1, n=400):
    r = random.Random(seed)
    return [int(r.gauss(1000, 10)) + (300 if 250 <= i < 280 else 0) for i in range(n)]


def test_step_raises_once_and_clears_after():
    d = Detector({"warmup": 50, "raise": 5, "clear": 2, "k": 2, "n": 3})
    evs = [d.update(x) for x in _stream()]
    raised = [i for i, e in enumerate(evs) if e & RAISED]
    cleared = [i for i, e in enumerate(evs) if e & CLEARED]
    assert raised == [251]  # 2 of 3 readings above: the second one of the step
    assert cleared and 280 <= cleared[0] < 300
    assert all(e & ACTIVE for e in evs[251:cleared[0]])


def test_debounce_k_of_n_ignores_a_single_spike():
    d = Detector({"warmup": 20, "raise": 5, "clear": 2, "k": 2, "n": 3})
    xs = [1000 + (i % 3) for i in range(100)]
    xs[60] = 5000
    assert not any(d.update(x) & RAISED for x in xs)
    d1 = Detector({"warmup": 20, "raise": 5, "clear": 2, "k": 1, "n": 1})
    assert [i for i, x in enumerate(xs) if d1.update(x) & RAISED] == [60]


def test_warmup_never_alarms():
    d = Detector({"warmup": 30})
    evs = [d.update(0 if i % 2 else 10**6) for i in range(30)]
    assert all(e & WARMUP and not e & RAISED for e in evs)


def test_absolute_thresholds_with_hysteresis_and_rate_of_change():
    d = Detector({"warmup": 0, "raise": 1000, "clear": 999, "high": 100, "hysteresis": 10})
    evs = [d.update(x) for x in [50, 101, 95, 89, 50]]
    assert evs[1] & RAISED and evs[2] & ACTIVE and not evs[2] & CLEARED and evs[3] & CLEARED
    r = Detector({"warmup": 0, "raise": 1000, "clear": 999, "roc": 20})
    assert [bool(r.update(x) & RAISED) for x in [0, 10, 20, 45, 46]] == [False, False, False, True, False]


def test_flat_line_raises_when_the_signal_goes_quiet_and_clears_when_it_returns():
    r = random.Random(5)
    xs = [int(r.gauss(1000, 10)) for _ in range(300)] + [1000] * 80 + [int(r.gauss(1000, 10)) for _ in range(200)]
    cfg = {"warmup": 50, "spread_shift": 9, "raise": 6, "clear": 2, "k": 2, "n": 3, "flat": 3, "flat_shift": 3}
    d = Detector(cfg)
    evs = [d.update(x) for x in xs]
    raised = [i for i, e in enumerate(evs) if e & RAISED]
    cleared = [i for i, e in enumerate(evs) if e & CLEARED]
    assert raised and 300 < raised[0] < 330 and evs[raised[0]] & FLAT  # a few readings into the flat line
    assert cleared and 380 <= cleared[0] < 400  # back to noise
    assert not any(e & FLAT for e in evs[:300])
    cfg.pop("flat")
    d = Detector(cfg)
    assert not any(d.update(x) & RAISED for x in xs[:380])  # without the trigger a quiet signal is no anomaly


def test_a_spike_is_never_a_flat_line_reading():
    xs = [20000 if i % 100 == 0 else 0 for i in range(1000)]  # rare spikes on a flat floor (NAB's spike density)
    d = Detector({"warmup": 100, "spread_shift": 10, "raise": 4, "clear": 1.5, "flat": 4, "flat_shift": 3})
    evs = [d.update(x) for x in xs]
    assert any(e & REL for e in evs) and not any(e & REL and e & FLAT for e in evs)


def test_state_round_trip_continues_identically():
    xs = _stream(7)
    a = Detector({"warmup": 40, "k": 2, "n": 3, "holdoff": 5, "flat": 4})
    for x in xs[:260]:
        a.update(x)
    blob = bytes(a.to_bytes())
    assert len(blob) == STATE_SIZE == 32  # the device keeps it in a 32-byte RTC slot
    b = Detector({"warmup": 40, "k": 2, "n": 3, "holdoff": 5, "flat": 4})
    b.from_bytes(blob)
    assert [a.update(x) for x in xs[260:]] == [b.update(x) for x in xs[260:]]


def test_bad_state_and_bad_config_say_what_is_wrong():
    d = Detector()
    with pytest.raises(ValueError, match="32 bytes"):
        d.from_bytes(b"\x00" * 32)
    with pytest.raises(ValueError, match="unknown key 'rase'"):
        validate({"rase": 3})
    with pytest.raises(ValueError, match="below 'raise'"):
        validate({"raise": 3, "clear": 3})
    with pytest.raises(ValueError, match="'k' = 4 is out of range"):
        validate({"k": 4, "n": 3})
    with pytest.raises(ValueError, match="'direction'"):
        validate({"direction": "sideways"})


def test_detector_same_under_micropython_and_no_allocation(mpy, tmp_path):
    xs = _stream(3, 600) + [1000] * 60 + _stream(4, 100)  # a step, then a flat line, then noise again
    cfg = {"warmup": 40, "spread_shift": 8, "k": 2, "n": 3, "raise": 4, "clear": 2, "roc_rel": 8, "holdoff": 10,
           "flat": 3, "flat_shift": 3}
    ref = Detector(cfg)
    want = [ref.update(x) for x in xs]
    (tmp_path / "xs.json").write_text(json.dumps(xs))
    out = mpy(f"""
import json, gc
from core.baseline import Baseline as Detector
xs = json.load(open({str(tmp_path / 'xs.json')!r}))
d = Detector(json.loads({json.dumps(json.dumps(cfg))}))
evs = [0] * len(xs)
i = a0 = a1 = 0  # bind the globals first: a new global can grow the module dict (32 bytes), not the detector
gc.collect(); gc.disable()
a0 = gc.mem_alloc()
for i in range(len(xs)):  # from the very first update after construction
    evs[i] = d.update(xs[i])
a1 = gc.mem_alloc()
print(json.dumps([a1 - a0, evs]))
""").check()
    alloc, evs = json.loads(out)
    assert evs == want and any(e & RAISED for e in evs) and any(e & FLAT for e in evs)
    assert alloc == 0


def test_usage_meter_counts_and_never_goes_backwards():
    u = UsageMeter(on=10, off=5)
    for v in [0, 20, 20, 3, 12, 12]:
        u.update(v, 1500)
    assert (u.run_s, u.run_ms, u.cycles, u.total, u.acc) == (4, 500, 2, 82, 500)
    old = bytes(u.to_bytes())
    u.update(12, 10_000)
    new = bytes(u.to_bytes())
    torn = new[:10] + bytes(22)
    fresh = UsageMeter(on=10, off=5)
    assert fresh.restore(old, torn, None, new) and fresh.total == u.total and fresh.run_s == 14
    assert not fresh.restore(old)  # an older generation never replaces a newer one
    assert fresh.total == u.total
    with pytest.raises(ValueError, match="forward"):
        u.update(1, -1)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fieldnode", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_detect_marks_the_step_and_keeps_every_row(tmp_path):
    rows = ["timestamp,temp,other"]
    for i, x in enumerate(_stream(5, 600)):
        cell = "" if i == 100 else f"{x / 10:.1f}"
        rows.append(f"2024-01-01 00:{i // 60:02d}:{i % 60:02d},{cell},{i}")
    src = tmp_path / "in.csv"
    src.write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "d.json"
    cfg.write_text(json.dumps({"method": "baseline", "warmup": 50, "raise": 6, "clear": 2, "k": 2, "n": 3}))
    p = _cli("detect", str(src), "--column", "temp", "--config", str(cfg), "-o", str(tmp_path / "out.csv"))
    assert p.returncode == 0, p.stderr
    out = (tmp_path / "out.csv").read_text().splitlines()
    assert out[0] == "timestamp,temp,other,alarm,score" and len(out) == len(rows)
    alarms = [i - 1 for i, ln in enumerate(out) if ln.split(",")[3] == "1"]
    assert alarms == [251]
    assert out[101].split(",")[1:] == ["", "100", "0", ""]  # a blank reading passes through
    assert 0.5 <= float(out[252].split(",")[4]) <= 1.0


def test_cli_detect_bad_input_one_line_errors(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("timestamp,value\n1,2\n2,abc\n")
    p = _cli("detect", str(src))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "bad.csv:3" in p.stderr
    cfg = tmp_path / "c.json"
    cfg.write_text('{"raise": 2, "clear": 5}')
    p = _cli("detect", str(src), "--config", str(cfg))
    assert p.returncode == 3 and "below 'raise'" in p.stderr
    p = _cli("detect", str(src), "--column", "nope")
    assert p.returncode == 2 and "no column 'nope'" in p.stderr


def test_cli_features_windows_csv_and_json(tmp_path):
    src = tmp_path / "v.csv"
    src.write_text("timestamp,value\n" + "".join(f"{i},{(i % 10) - 5}\n" for i in range(1000)))
    p = _cli("features", str(src), "--window", "256")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1 + 3 and lines[0].startswith("window,start,scale,n,min,max")
    p = _cli("features", str(src), "--window", "100", "--json")
    rows = [json.loads(ln) for ln in p.stdout.splitlines()]
    assert len(rows) == 10 and rows[0]["min"] == -5 and rows[0]["max"] == 4 and rows[0]["mean_q8"] == -128
    p = _cli("features", str(src), "--window", "5000")
    assert p.returncode == 2 and "1 to 4096" in p.stderr


@pytest.mark.parametrize("text, says", [
    ("2024-01-01 00:00:00,1.5\n2024-01-01 00:05:00,1.6\n", "not a header"),  # no header: data taken for names
    ("timestamp,value\n1,2\n2,3,4\n3,4\n", "in.csv:3: 3 fields where the header has 2"),  # a row too long
    ("timestamp,value,other\n1,2,3\n2,3\n", "in.csv:3: 2 fields where the header has 3"),  # a row too short
])
def test_cli_detect_refuses_a_csv_without_header_or_with_ragged_rows_and_writes_nothing(tmp_path, text, says):
    src = tmp_path / "in.csv"
    src.write_text(text)
    out = tmp_path / "out.csv"
    p = _cli("detect", str(src), "-o", str(out))
    assert p.returncode == 2 and says in p.stderr and p.stderr.strip().count("\n") == 0
    assert not out.exists() and [f.name for f in tmp_path.iterdir()] == ["in.csv"]  # no temporary file left
    out.write_text("previous result\n")
    p = _cli("detect", str(src), "-o", str(out))
    assert p.returncode == 2 and out.read_text() == "previous result\n"  # a bad run leaves -o as it was
