"""Quantities as people type them, read the same way by every verb: ``sim run --duration 7d``, ``collect
--duration 90m`` and ``monitor --duration 2h`` all take the same words.

    parse_duration("7d") == 604800          parse_duration("2d3h") == 183600
    parse_duration("90") == 90              parse_duration("2 h") == parse_duration("2 hours") == 7200
"""

import argparse
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# the words behind each one-letter unit (what "7 days" or "90 min" mean)
_WORDS = {"s": ("s", "sec", "secs", "second", "seconds"), "m": ("m", "min", "mins", "minute", "minutes"),
          "h": ("h", "hr", "hrs", "hour", "hours"), "d": ("d", "day", "days"), "w": ("w", "week", "weeks")}
_LETTER = {word: u for u, words in _WORDS.items() for word in words}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
HELP = "90s, 45m, 36h, 7d, 2d3h, '2 hours' or plain seconds"


def parse_duration(text) -> int:
    """Whole seconds from a number of seconds or one or more number-unit pairs (``"1h30m"``, ``"7 days"``).
    ValueError says what was wrong and what is allowed."""
    return int(parse_seconds(text))


def parse_seconds(text) -> float:
    """As ``parse_duration``, keeping fractions of a second (``"0.5"``, ``"1.5s"``)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"duration {text} is negative")
        return text
    t = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = _PART.findall(t)
    if not parts or re.sub(r"\s+", "", "".join(n + w for n, w in parts)) != re.sub(r"\s+", "", t) \
            or any(w not in _LETTER for _, w in parts):
        raise ValueError(f"{text!r} is not a duration like {HELP}")
    return sum(float(n) * _UNITS[_LETTER[w]] for n, w in parts)


def duration_arg(text: str) -> float:
    """argparse ``type=``: a duration in seconds, or argparse's one-line usage error."""
    try:
        return parse_seconds(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def iso_time(t, utc=False) -> str:
    """Unix seconds as ISO 8601 for people: local time with its UTC offset (2026-03-01T14:05:09+01:00), or UTC
    with Z when ``utc``. None (never) reads "-"."""
    import time

    if t is None:
        return "-"
    if utc:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    s = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))
    return s[:-2] + ":" + s[-2:]
