"""Report policy: what a wake cycle reports and when it brings the radio up.

Pure logic on integers (seconds of the device clock), so the same code runs on the device, under CPython in
tests, and is easy to reason about. Defaults (the low-power budget of issue 9): a reading every 10 minutes, a
summary every hour, uplinks batched every 4 hours, at once on an alarm raised or cleared, and a heartbeat at
least once a day even when nothing else is due.

State is four integers kept by the caller (RTC memory across deep sleep): the time of the last summary, of the
last uplink attempt that delivered, the last alarm flags, and the number of failed uplink attempts in a row
(to back off when there is no coverage instead of burning the battery on retries).
"""

from micropython import const

SUMMARY = const(1)  # make a periodic summary report this cycle
UPLINK = const(2)  # bring the link up and send what is queued
ALARM = const(4)  # the reason for this uplink is an alarm change
HEARTBEAT = const(8)  # nothing else was due: send health anyway

DEFAULTS = {
    "sample_s": 600,  # one reading every 10 minutes
    "summary_s": 3600,  # one summary report an hour
    "uplink_s": 14400,  # batched uplink every 4 hours
    "heartbeat_s": 86400,  # at least one uplink a day
    "alarm_uplink": 1,  # send at once when an alarm is raised or cleared
    "max_backoff_s": 21600,  # after failures, wait at most 6 h between attempts
}

LIMITS = {
    "sample_s": (10, 86400),
    "summary_s": (10, 7 * 86400),
    "uplink_s": (10, 7 * 86400),
    "heartbeat_s": (60, 30 * 86400),
    "alarm_uplink": (0, 1),
    "max_backoff_s": (60, 7 * 86400),
}


def validate(cfg):
    """Return a complete policy dict from ``cfg`` (missing keys take defaults); raise ValueError naming the key."""
    out = dict(DEFAULTS)
    for k, v in cfg.items():
        if k not in LIMITS:
            raise ValueError("policy: unknown key %r (allowed: %s)" % (k, ", ".join(sorted(LIMITS))))
        lo, hi = LIMITS[k]
        if not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError("policy: %s must be an integer %d..%d, not %r" % (k, lo, hi, v))
        out[k] = v
    return out


def backoff_s(cfg, failures):
    """Seconds to wait after ``failures`` failed uplinks in a row: the batch interval, doubled per failure."""
    if failures <= 0:
        return 0
    wait = cfg["uplink_s"] >> 2  # first retry after a quarter of the batch interval
    for _ in range(failures - 1):
        wait <<= 1
        if wait >= cfg["max_backoff_s"]:
            return cfg["max_backoff_s"]
    return min(wait, cfg["max_backoff_s"])


def decide(cfg, now, last_summary, last_uplink, last_attempt, failures, alarm_changed, queued):
    """Return the action bits for this cycle.

    ``now``/``last_*`` are seconds on the device clock (``last_*`` 0 when never), ``failures`` the failed
    uplinks in a row, ``alarm_changed`` whether the detector raised or cleared an alarm this cycle, ``queued``
    the records waiting in the queue before this cycle's report.
    """
    act = 0
    if last_summary == 0 or now - last_summary >= cfg["summary_s"]:
        act |= SUMMARY
    if alarm_changed and cfg["alarm_uplink"]:
        return act | UPLINK | ALARM
    if failures and now - last_attempt < backoff_s(cfg, failures):
        return act
    pending = queued + (1 if act & SUMMARY else 0)
    if pending and (last_uplink == 0 or now - last_uplink >= cfg["uplink_s"]):
        act |= UPLINK
    elif last_uplink == 0 or now - last_uplink >= cfg["heartbeat_s"]:
        act |= UPLINK | HEARTBEAT
    return act
