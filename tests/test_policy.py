"""Report policy: periodic summaries, batching, alarms at once, heartbeat, back-off; same answers on both runtimes."""

import policy
import pytest
from conftest import run_mpy
from hypothesis import given
from hypothesis import strategies as st

CFG = policy.validate({})


def simulate(cfg, hours, alarm_at=(), fail_until=0):
    """Run the policy every sample_s for ``hours``; return (summaries, uplinks, alarm uplinks)."""
    last_summary = last_uplink = last_attempt = failures = queued = 0
    summaries = uplinks = alarms = 0
    t = 1_000_000
    end = t + hours * 3600
    while t < end:
        act = policy.decide(cfg, t, last_summary, last_uplink, last_attempt, failures, t in alarm_at, queued)
        if act & policy.SUMMARY:
            summaries += 1
            last_summary = t
            queued += 1
        if act & policy.UPLINK:
            last_attempt = t
            if t < fail_until:
                failures += 1
            else:
                uplinks += 1
                alarms += bool(act & policy.ALARM)
                last_uplink, failures, queued = t, 0, 0
        t += cfg["sample_s"]
    return summaries, uplinks, alarms


def test_defaults_give_hourly_summaries_and_six_uplinks_a_day():
    s, u, a = simulate(CFG, 24)
    assert s == 24
    assert u == 6
    assert a == 0


def test_alarm_sends_at_once():
    t_alarm = 1_000_000 + 7 * 600
    s, u, a = simulate(CFG, 24, alarm_at={t_alarm})
    assert a == 1 and u == 7


def test_failures_back_off_instead_of_retrying_every_cycle():
    # 12 hours without coverage: without back-off that is 72 attempts; with it, a handful
    cfg = CFG
    attempts = 0
    last_attempt = failures = 0
    t = 1_000_000
    for _ in range(72):
        act = policy.decide(cfg, t, t - 1, 1, last_attempt, failures, False, 5)
        if act & policy.UPLINK:
            attempts += 1
            failures += 1
            last_attempt = t
        t += 600
    assert 3 <= attempts <= 8


def test_heartbeat_when_nothing_is_queued():
    cfg = policy.validate({"summary_s": 7 * 86400})
    act = policy.decide(cfg, 200_000, 199_000, 100_000, 100_000, 0, False, 0)
    assert act & policy.HEARTBEAT and act & policy.UPLINK


@pytest.mark.parametrize("bad", [{"sample_s": 0}, {"uplink_s": "4h"}, {"nope": 1}])
def test_bad_policy_config_is_refused_with_the_key(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        policy.validate(bad)


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10),
       st.booleans(), st.integers(0, 100))
def test_alarm_always_uplinks(now, ls, lu, failures, changed, queued):
    act = policy.decide(CFG, now, ls, lu, lu, failures, changed, queued)
    assert bool(act & policy.ALARM) == changed
    if changed:
        assert act & policy.UPLINK


def test_same_decisions_under_micropython():
    code = """
import policy
cfg = policy.validate({})
out = []
for now in range(0, 90000, 600):
    out.append(policy.decide(cfg, now + 1, 1 + (now // 3600) * 3600, 1 + (now // 14400) * 14400, 1, 0,
                             now == 6000, now // 600 % 7))
print(out)
"""
    mp = run_mpy(code).check().strip()
    cfg = policy.validate({})
    out = []
    for now in range(0, 90000, 600):
        out.append(policy.decide(cfg, now + 1, 1 + (now // 3600) * 3600, 1 + (now // 14400) * 14400, 1, 0,
                                 now == 6000, now // 600 % 7))
    assert mp == str(out)
