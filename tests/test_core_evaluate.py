"""The NAB scorer of tools/evaluate_nab.py, on cases whose score is known, and the default config on real data."""

import sys
from datetime import datetime, timedelta

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import evaluate_nab as ev  # noqa: E402

T0 = datetime(2024, 1, 1)
TIMES = [T0 + timedelta(minutes=5 * i) for i in range(1000)]
WINDOWS = [[str(TIMES[400]), str(TIMES[499])], [str(TIMES[800]), str(TIMES[899])]]


def _normalised(alarms):
    r = ev.score_file(TIMES, alarms, WINDOWS)
    return 100 * (r["raw"] - r["null"]) / (r["perfect"] - r["null"]), r


def test_perfect_null_and_late_detections():
    perfect = [i in (400, 800) for i in range(1000)]
    s, r = _normalised(perfect)
    assert s == pytest.approx(100) and r["tp"] == 2 and r["fp"] == 0
    s, r = _normalised([False] * 1000)
    assert s == pytest.approx(0) and r["fn"] == 2
    late = [i in (499, 899) for i in range(1000)]
    s_late, _ = _normalised(late)
    mid = [i in (450, 850) for i in range(1000)]
    s_mid, _ = _normalised(mid)
    assert 0 < s_late < s_mid < 100


def test_false_positives_cost_and_probation_is_free():
    base = [i in (400, 800) for i in range(1000)]
    s_fp, r = _normalised([b or i == 300 for i, b in enumerate(base)])
    assert r["fp"] == 1 and s_fp == pytest.approx(100 - 100 * 0.11 / (r["perfect"] - r["null"]))
    s_prob, r = _normalised([b or i == 100 for i, b in enumerate(base)])  # inside the first 15 %
    assert r["fp"] == 0 and s_prob == pytest.approx(100)
    # right after a window an FP costs less than far away from any
    s_near, _ = _normalised([b or i == 505 for i, b in enumerate(base)])
    assert s_fp < s_near < 100


@pytest.mark.data
def test_default_config_beats_the_null_detector_on_nab_and_finds_the_bearing_fault(shared_data):
    cfg = ev.detect.load_config()
    nab = ev.run_nab(shared_data, cfg)
    assert nab["score"] > 0 and nab["tp"] > 0
    cw = ev.run_cwru(shared_data, cfg)
    r = cw["rms_q4"]
    assert r["false_alarms_before_change"] == 0 and r["delay_windows"] is not None and r["delay_windows"] <= 3


def test_leave_one_file_out_never_scores_a_file_with_a_config_chosen_on_it(monkeypatch):
    import tune_nab as tn

    def parts(raw):
        return {"raw": raw, "perfect": 1.0, "null": -1.0, "tp": 1 if raw > 0 else 0, "fn": 0 if raw > 0 else 1,
                "fp": 0, "delays": [], "windows": 1}

    # config 0 fits files 0 and 1 and fails file 2; config 1 is middling everywhere
    table = {0: [parts(1.0), parts(1.0), parts(-1.0)], 1: [parts(0.3), parts(0.3), parts(0.3)]}
    monkeypatch.setattr(tn, "run_config", lambda files, cfg: table[cfg["id"]])
    files = [("a", [], []), ("b", [], []), ("c", [], [])]
    r = tn.evaluate(files, [{"id": 0}, {"id": 1}])
    assert r["in_sample"]["config"] == {"id": 0}
    assert r["in_sample"]["score"] == pytest.approx(100 * 4 / 6, abs=0.05)
    # without file a or b config 1 wins (0.6 vs 0); without c config 0 wins, and c then scores -1
    assert r["held_out"]["score"] == pytest.approx(100 * 2.6 / 6, abs=0.05)
    assert r["held_out"]["distinct_configs_chosen"] == 2
