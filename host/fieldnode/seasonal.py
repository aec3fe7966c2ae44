"""The seasonal channel's period for a replay: a day, counted in readings, from a CSV's timestamps."""

from . import fwbridge


def daily_period(stamps):
    """Readings per day from a column of timestamps (ISO 8601 strings): 86400 / the most common step, when that
    step divides a day into 2..MAX_PERIOD readings; else 0 (no seasonal channel). Unparsable stamps count as
    no steps."""
    from collections import Counter
    from datetime import datetime

    max_period = fwbridge.load("core.surprise").MAX_PERIOD
    steps = Counter()
    prev = None
    for s in stamps:
        try:
            t = datetime.fromisoformat(s.strip())
        except (AttributeError, TypeError, ValueError):
            prev = None
            continue
        if prev is not None:
            steps[round((t - prev).total_seconds())] += 1
        prev = t
    if not steps:
        return 0
    step = steps.most_common(1)[0][0]
    if step <= 0 or 86400 % step or not 2 <= 86400 // step <= max_period:
        return 0
    return 86400 // step
