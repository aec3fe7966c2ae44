"""Usage per period from cumulative totals (collector/usage.py, ledger_verify.period_usage) against an independent
reference: the true usage of a generated history, with reports lost, repeated, reordered, meters reset and epochs."""

import json
import random

import pytest
from fieldnode.collector import usage
from fieldnode.errors import ConfigError, UsageError
from fieldnode.ledger_verify import period_usage
from hypothesis import given, settings
from hypothesis import strategies as st


def history(seed, n, epochs, resets, rate_max=None):
    """A meter's true history: reports at increasing times; in each gap the machine uses something (a burst at a
    random instant, or with ``rate_max`` a run of at most the gap's length at a random place). Returns the reports
    as samples and the true usage as (t0, t1, amount) pieces (an instant when t0 == t1)."""
    rnd = random.Random(seed)
    t, v, epoch, ctr = 1_790_000_000 + rnd.randrange(3600), 0.0, 0, 1
    reports, pieces = [(t, ctr, epoch, v)], []
    for i in range(1, n):
        gap = rnd.choice((60, 300, 900, 3600, 5400, 7200))
        new_epoch = i in epochs
        reset = i in resets
        if rate_max is None:
            at = t + rnd.random() * gap
            amount = rnd.choice((0.0, rnd.random() * 5, rnd.randrange(1, 4)))
            pieces.append((at, at, amount))
        else:
            d = rnd.random() * gap
            a = t + rnd.random() * (gap - d)
            amount = d * rate_max
            pieces.append((a, a + d, amount))
        t += gap
        ctr += rnd.choice((1, 1, 1, 2))  # a counter skipped: dropped on the device
        if new_epoch:
            epoch, v = epoch + 1, 0.0
        elif reset and v > amount:  # a reset without a new epoch shows only as a total that went down
            v = 0.0
        v += amount  # a new meter starts from 0 before the gap's use (the machine is replaced while stopped)
        reports.append((t, ctr, epoch, v))
    return reports, pieces


def true_usage(pieces, a, b):
    s = 0.0
    for t0, t1, amt in pieces:
        if t0 == t1:
            s += amt if a <= t0 < b else 0.0
        else:
            s += amt * max(0.0, min(t1, b) - max(t0, a)) / (t1 - t0)
    return s


def degrade(reports, rnd, keep):
    """Lose, repeat and reorder reports, but those in ``keep``: the first, the last, each report before a new epoch
    or a reset (its loss loses the old meter's last use) and the first after a reset without a new epoch (only a
    total that went down shows such a reset)."""
    out = [r for i, r in enumerate(reports) if i in keep or rnd.random() > 0.3]
    out += [rnd.choice(out) for _ in range(len(out) // 4)]
    rnd.shuffle(out)
    return out


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(2, 40), frac=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       marks=st.sets(st.integers(1, 39), max_size=4), run_hours=st.booleans())
def test_usage_matches_the_true_history_within_the_stated_bound(seed, n, frac, marks, run_hours):
    rate = 1 / 3600 if run_hours else None
    epochs = {m for m in marks if m % 2}
    resets = marks - epochs
    reports, pieces = history(seed, n, epochs, resets, rate)
    rnd = random.Random(seed + 1)
    keep = {0, n - 1} | {m - 1 for m in marks} | resets
    got = degrade(reports, rnd, keep)
    t_first, t_last = reports[0][0], reports[-1][0]
    a = t_first + min(frac) * (t_last - t_first)
    b = t_first + max(frac) * (t_last - t_first) + 1
    u = period_usage(got, a, b, rate)
    ref = true_usage(pieces, a, b)
    assert u["quantity"] >= -1e-12 and u["error_bound"] >= 0
    assert abs(u["quantity"] - ref) <= u["error_bound"] + 1e-9 * max(1, ref), (u, ref)
    if not u["estimated"]:
        assert u["quantity"] == pytest.approx(ref, rel=1e-9, abs=1e-9)
    # the whole span is measured exactly, whatever was lost, repeated or reordered
    whole = period_usage(got, t_first, t_last + 1, rate)
    assert not whole["estimated"] and whole["quantity"] == pytest.approx(true_usage(pieces, t_first, t_last + 1),
                                                                         rel=1e-9, abs=1e-9)
    # periods that tile the span add up to the whole
    cut = (a + b) / 2
    parts = period_usage(got, t_first, cut, rate)["quantity"] + period_usage(got, cut, t_last + 1, rate)["quantity"]
    assert parts == pytest.approx(whole["quantity"], rel=1e-9, abs=1e-9)


def test_a_new_epoch_never_gives_negative_usage():
    s = [(0, 1, 0, 100.0), (3600, 2, 0, 101.0), (7200, 3, 1, 0.5), (10800, 4, 1, 2.0)]
    u = period_usage(s, 0, 10801)
    assert u["quantity"] == pytest.approx(1.0 + 0.5 + 1.5) and not u["estimated"] and u["resets"] == 0


def test_a_boundary_between_reports_is_interpolated_and_bounded_by_the_run_rate():
    s = [(0, 1, 0, 0.0), (7200, 2, 0, 1.0)]  # one run hour somewhere in two hours
    u = period_usage(s, 3600, 7200, 1 / 3600)
    assert u["estimated"] and u["quantity"] == pytest.approx(0.5) and u["error_bound"] == pytest.approx(0.5)
    s = [(0, 1, 0, 0.0), (7200, 2, 0, 1.8)]  # 1.8 h in 2 h: at least 0.8 h in each hour
    u = period_usage(s, 3600, 7200, 1 / 3600)
    assert u["quantity"] == pytest.approx(0.9) and u["error_bound"] == pytest.approx(0.1)


def test_periods_in_a_time_zone():
    a, b = usage.parse_period("2026-11", "Europe/Berlin")
    assert (b - a) == 30 * 86400 and a == 1793487600  # 2026-11-01T00:00+01:00
    a, b = usage.parse_period("2026-10-25", "Europe/Berlin")
    assert b - a == 25 * 3600  # the day the clocks go back
    assert usage.parse_period("2026-11-05T13", "UTC") == (1793883600.0, 1793887200.0)
    with pytest.raises(UsageError, match="time zone"):
        usage.parse_period("2026-11", "Mars/Olympus")
    with pytest.raises(UsageError, match="month, day or hour"):
        usage.parse_period("November")


def test_tiers_and_minimum():
    t = usage.check_tariff({"currency": "EUR", "minimum": 10, "meters": {
        "energy": {"unit": "kWh", "tiers": [{"upto": 100, "price": 0.3}, {"upto": 200, "price": 0.2},
                                            {"price": 0.1}]}}})
    tiers = t["meters"]["energy"]["tiers"]
    assert usage.price(50, tiers) == pytest.approx(15) and usage.price(250, tiers) == pytest.approx(30 + 20 + 5)


BAD = {
    "not json": "{",
    "not an object": "[1]",
    "unknown key": '{"meters": {"run_h": {"price": 1}}, "discount": 5}',
    "no meters": '{"currency": "EUR"}',
    "meter not object": '{"meters": {"run_h": 3}}',
    "unknown meter key": '{"meters": {"run_h": {"price": 1, "colour": "red"}}}',
    "price and tiers": '{"meters": {"run_h": {"price": 1, "tiers": [{"price": 1}]}}}',
    "negative price": '{"meters": {"run_h": {"price": -1}}}',
    "string price": '{"meters": {"run_h": {"price": "2"}}}',
    "wrong unit": '{"meters": {"run_h": {"unit": "min", "price": 1}}}',
    "tiers not ascending": '{"meters": {"energy": {"tiers": [{"upto": 10, "price": 1}, {"upto": 5, "price": 1},'
                           ' {"price": 1}]}}}',
    "last tier upto": '{"meters": {"energy": {"tiers": [{"upto": 10, "price": 1}]}}}',
    "tier without price": '{"meters": {"energy": {"tiers": [{"upto": 10}, {"price": 1}]}}}',
    "negative minimum": '{"minimum": -5, "meters": {"run_h": {"price": 1}}}',
    "currency not text": '{"currency": 978, "meters": {"run_h": {"price": 1}}}',
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_tariff_is_one_line_naming_the_file(tmp_path, kind):
    p = tmp_path / "tariff.json"
    p.write_text(BAD[kind])
    with pytest.raises(ConfigError) as e:
        usage.load_tariff(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value) and e.value.hint


def test_a_missing_tariff_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        usage.load_tariff(tmp_path / "none.json")


def test_good_tariff_parses(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"currency": "EUR", "minimum": 50, "meters": {"run_h": {"unit": "h", "price": 2.5}}}))
    t = usage.load_tariff(p)
    assert t["meters"]["run_h"]["rate_max"] == pytest.approx(1 / 3600) and t["minimum"] == 50
