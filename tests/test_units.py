"""Durations read the same way by every verb (issue: ``collect``/``monitor --duration`` took seconds only, while
``sim run`` took ``7d``)."""

import pytest
from fieldnode import units
from fieldnode.cli import build_parser


@pytest.mark.parametrize("text,seconds", [
    ("90", 90), ("0.5", 0.5), ("90s", 90), ("45m", 2700), ("36h", 129600), ("7d", 604800), ("2d3h", 183600),
    ("2 h", 7200), ("7 days", 604800), ("90 min", 5400), ("1.5h", 5400), ("1 week", 604800), ("1h 30m", 5400),
])
def test_durations_as_people_type_them(text, seconds):
    assert units.parse_seconds(text) == seconds
    assert units.parse_duration(text) == int(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "-3", "7d junk", "h", "3..5s"])
def test_bad_durations_say_what_is_allowed(text):
    with pytest.raises(ValueError) as e:
        units.parse_seconds(text)
    assert "90s, 45m, 36h, 7d" in str(e.value)


@pytest.mark.parametrize("verb", [["collect"], ["monitor", "--port", "/dev/null"], ["sim", "run"]])
def test_every_verb_takes_the_same_duration_words(verb):
    args = build_parser().parse_args([*verb, "--duration", "90m"])
    assert units.parse_seconds(args.duration) == 5400


def test_collect_refuses_a_bad_duration_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["collect", "--duration", "ten minutes"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--duration" in err and "not a duration like" in err
