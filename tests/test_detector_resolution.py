"""The wake cycle's detector on the vibration RMS in whole mg: a quiet motor's RMS flips between two steps, which a
relative likelihood alone can take for an anomaly (make demo raised 8 false alarm reports in the week before the
bearing fault: tests/test_demo.py holds the whole cycle to 0); with the input's resolution stated
(RESOLUTION_RMS_MG) it still raises at once at the fault."""

import random

from core import detector


def _quiet_then_fault(n=3000, seed=5):
    rng = random.Random(seed)
    quiet = [10 + (rng.random() < 0.35) for _ in range(n)]  # 10 or 11 mg, as the demo's motor reads
    return quiet + [12, 15, 21, 30, 40, 55]  # the bearing starts to fail


def _raises(d, xs):
    return [i for i, x in enumerate(xs) if d.update(x) & detector.RAISED]


def test_a_whole_mg_rms_raises_only_at_the_fault():
    xs = _quiet_then_fault()
    got = _raises(detector.make({}, detector.RESOLUTION_RMS_MG), xs)
    assert got and got[0] >= 3000, got[:5]
    assert got[0] <= 3002  # found within three readings of the fault


def test_the_node_config_still_wins_and_nab_replay_has_no_gate():
    d = detector.make({"min_surprise": 0.5}, detector.RESOLUTION_RMS_MG)
    assert d._gate == 128 and detector.DEFAULTS["min_surprise"] == 0
