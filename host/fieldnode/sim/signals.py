"""Quantities as functions of virtual time: the value specs of a scenario's ``"environment"`` ``quantities``
(``sim/physics.py`` lists the keys), each turned into ``f(t_s) -> float`` by ``make_source``.

    f = make_source({"sine": {"mean": 50, "amplitude": 10, "period_s": 86400}}, "quantities.humidity_pct")
    f(21600.0)   # 60.0: a quarter of the way through the day

A spec is a number, or an object with one key of ``SPEC_KINDS``: ``sine``, ``ramp``, ``steps`` (piecewise
constant), ``sum`` (of specs), ``const``, or ``csv`` (a recorded series, linearly interpolated, optionally looped;
times in seconds or ISO dates). A malformed one raises ``ConfigError`` naming the key.
"""

import csv
import math
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError

SPEC_KINDS = ("sine", "ramp", "csv", "steps", "sum", "const")


def number(d, key, where, default=None):
    """``d[key]`` as a float (``default`` when absent), or a ConfigError naming ``where``."""
    v = d.get(key, default)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise ConfigError(f"environment: {where}.{key}: {v!r} is not a number", "write a number")
    return float(v)


def _load_csv(path: Path, time_col, value_col, where):
    if not path.exists():
        raise ConfigError(f"environment: {where}.csv: no file {path}", "give a path relative to the scenario file")
    times, values = [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        for need in (time_col, value_col):
            if need not in cols:
                raise ConfigError(f"environment: {where}.csv: {path.name} has no column {need!r}",
                                  f"columns are {cols}")
        t0 = None
        for i, row in enumerate(reader, start=2):
            raw_t, raw_v = row[time_col].strip(), row[value_col].strip()
            try:
                t = float(raw_t)
            except ValueError:
                try:
                    t = datetime.fromisoformat(raw_t).timestamp()
                except ValueError:
                    raise ConfigError(f"environment: {where}.csv: {path.name} line {i}: time {raw_t!r} is neither "
                                      "seconds nor an ISO date", "fix the row")
            try:
                v = float(raw_v)
            except ValueError:
                raise ConfigError(f"environment: {where}.csv: {path.name} line {i}: value {raw_v!r} is not a number",
                                  "fix the row")
            t0 = t if t0 is None else t0
            if times and t - t0 < times[-1]:
                raise ConfigError(f"environment: {where}.csv: {path.name} line {i}: time goes backwards",
                                  "sort the file by time")
            times.append(t - t0)
            values.append(v)
    if not times:
        raise ConfigError(f"environment: {where}.csv: {path.name} has no rows", "give at least one row")
    return times, values


def make_source(spec, where: str, base: Path | None = None):
    """Turn a quantity spec into ``f(t_s) -> float``. Raises ConfigError naming ``where`` when malformed."""
    if isinstance(spec, bool) or spec is None:
        raise ConfigError(f"environment: {where}: {spec!r} is not a value", f"use a number or one of {SPEC_KINDS}")
    if isinstance(spec, (int, float)):
        v = float(spec)
        return lambda t: v
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in SPEC_KINDS:
        raise ConfigError(f"environment: {where}: {spec!r} is not a value spec",
                          f"use a number or an object with one key of {SPEC_KINDS}")
    kind, p = next(iter(spec.items()))
    w = f"{where}.{kind}"
    if kind == "const":
        v = float(p)
        return lambda t: v
    if kind == "sine":
        mean, amp = number(p, "mean", w, 0.0), number(p, "amplitude", w, 0.0)
        period, phase = number(p, "period_s", w), number(p, "phase_s", w, 0.0)
        if period <= 0:
            raise ConfigError(f"environment: {w}.period_s must be positive", "give the period in seconds")
        return lambda t: mean + amp * math.sin(2 * math.pi * (t + phase) / period)
    if kind == "ramp":
        a, b = number(p, "from", w), number(p, "to", w)
        start, over = number(p, "start_s", w, 0.0), number(p, "over_s", w)
        if over <= 0:
            raise ConfigError(f"environment: {w}.over_s must be positive", "give the ramp's duration in seconds")
        return lambda t: a if t <= start else b if t >= start + over else a + (b - a) * (t - start) / over
    if kind == "steps":
        if not isinstance(p, list) or not p or not all(isinstance(s, list) and len(s) == 2 for s in p):
            raise ConfigError(f"environment: {w}: expected [[t_s, value], ...]", "list time/value pairs")
        pts = sorted((float(a), float(b)) for a, b in p)

        def steps(t):
            v = pts[0][1]
            for ts, val in pts:
                if t >= ts:
                    v = val
            return v

        return steps
    if kind == "sum":
        if not isinstance(p, list) or not p:
            raise ConfigError(f"environment: {w}: expected a list of specs", "list the parts to add")
        parts = [make_source(s, f"{w}[{i}]", base) for i, s in enumerate(p)]
        return lambda t: sum(f(t) for f in parts)
    # csv
    if not isinstance(p, (dict, str)):
        raise ConfigError(f"environment: {w}: expected a file name or an object", "give {\"path\": ...}")
    p = {"path": p} if isinstance(p, str) else p
    path = Path(p.get("path", ""))
    if base is not None and not path.is_absolute():
        path = base / path
    times, values = _load_csv(path, p.get("time_column", "timestamp"), p.get("column", "value"), w)
    scale = number(p, "time_scale", w, 1.0)
    loop = bool(p.get("loop", False))
    span = times[-1]

    def series(t):
        t = t * scale
        if loop and span > 0:
            t = t % span
        if t <= 0:
            return values[0]
        if t >= span:
            return values[-1]
        lo, hi = 0, len(times) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if times[mid] <= t:
                lo = mid
            else:
                hi = mid
        t0, t1 = times[lo], times[hi]
        return values[lo] + (values[hi] - values[lo]) * (t - t0) / (t1 - t0) if t1 > t0 else values[hi]

    return series
