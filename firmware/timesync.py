"""Device time: which time to believe, and the times of reports queued before the clock was set. Pure logic:
CPython imports it too (tests, and the collector's view of what a device does).

The ESP32's RTC keeps time across deep sleep and resets, and restarts at the 1970 epoch when power is lost. Two
sources set it again: the network's time on a cellular link (NITZ, ``link.time()``) and the collector's time in
every authenticated acknowledgement (proto/codec.py, version 2 replies), which every link has, Wi-Fi included.

When the firmware takes an acknowledgement's time (``ack_step_ms``):

* only from a reply whose tag verified (codec.parse_reply reads the time after the check) and that answers the
  uplink just sent: its acked counter is that uplink's last. Counters are never reused, so an old reply played
  back cannot pass for the answer to a new uplink;
* never when it is older than the time the clock was last set to (``pstate["tset"]``, in flash: it survives the
  power loss that would make a played-back or long-delayed reply tempting). The clock never goes back to a stale
  value; a time at or after the last set may still step it back a little when the RTC ran fast;
* always when the clock is unset (before 2020, proto/schema.py TS_SYNCED);
* otherwise only when the clock is off by more than SLACK_MS plus the measured round trip. Why that much: the
  reply's time is whole seconds (the collector's clock was somewhere in [t, t + 1 s), taken as t + 0.5 s), the
  reply spent an unknown part of the round trip on its way back (taken as half: wrong by up to rtt / 2), and the
  device's own time.time() is whole seconds. The estimate is therefore uncertain by up to 1.5 s + rtt / 2; stepping
  by less than that would move the clock by noise and make the intervals between reports jitter. 2 s + rtt is that
  bound with a margin. What it still corrects: an RTC running in deep sleep on the ESP32's internal RC oscillator
  (ESP-IDF "System Time": the least stable of the RTC clock sources) drifts by more than that over days.

Reports queued before the clock was set carry a ts counted from the power-on (below 2020). Those made since the
power-on share their time base with the moment the clock is set, so adding the step gives their wall time, as
exactly as the set itself. The flash queue keeps each report's bytes as they were made, and must: a counter the
collector stored with some bytes and sees again with others is refused as a replay (store/queue.py, collector
core.py), and a report may have been stored even though its reply was lost. So the correction is made as an
uplink is encoded (``stamp``), by a rule fixed in flash when the clock is set: a window (first counter, last
counter, step in seconds). A window holds only reports that were never put on the wire:

* from the first counter queued since the power-on (rtcstate ``clock_from``, taken by the first cycle that finds
  the clock unset; RTC memory is lost together with the RTC's time, so reports of an earlier power-on, whose
  offset nobody knows, never fall in a window);
* above the highest counter ever sent since the power-on (rtcstate ``sent_hw``, written before each send).

Everything else made with an unset clock goes out as it was made, and the collector stores it with its receive
time, marked ("ts_source": "collector"). The window is saved before any report is sent under it and dropped only
once the queue's ack cursor has passed it, so a retransmission repeats the very same bytes.
"""

import struct
from micropython import const

TS_SYNCED = 1577836800  # proto/schema.py TS_SYNCED: a clock before 2020-01-01 was never set
SLACK_MS = const(2000)
MAX_WINDOWS = const(4)  # power-ons whose corrected reports still wait in the queue; more are sent as made
_TS_OFF = const(0)  # ts is the first MAIN field, ">I" (proto/schema.py)


def unset(t_s):
    return t_s < TS_SYNCED


def ack_step_ms(dev_ms, ack_s, rtt_ms, last_set_s):
    """Milliseconds to step the clock by for the time ``ack_s`` of an authenticated reply that answered the
    uplink just sent, ``rtt_ms`` after it went out; None to keep the clock. ``dev_ms``: the device's clock now
    (Unix ms), ``last_set_s``: the time the clock was last set to (0: never)."""
    if ack_s < TS_SYNCED or ack_s < last_set_s:
        return None
    step = ack_s * 1000 + 500 + rtt_ms // 2 - dev_ms
    if not unset(dev_ms // 1000) and -(SLACK_MS + rtt_ms) <= step <= SLACK_MS + rtt_ms:
        return None
    return step


def window(clock_from, sent_hw, next_seq, step_s):
    """The window [first, last, step] for the reports queued since the power-on and never sent, or None."""
    if clock_from <= 0 or step_s <= 0:  # from an unset clock to wall time is always forward
        return None
    lo = clock_from if clock_from > sent_hw else sent_hw + 1
    hi = next_seq - 1
    if lo > hi:
        return None
    return [lo, hi, step_s]


def add(windows, w):
    """``windows`` with ``w`` added; the same list when there is no room (those reports go out as made)."""
    if w is None or len(windows) >= MAX_WINDOWS:
        return windows
    return windows + [w]


def prune(windows, acked):
    """The windows that still hold a report above the ack cursor."""
    return [w for w in windows if w[1] > acked]


def stamp(windows, seq, rec):
    """``rec`` (a report's bytes, counter ``seq``) as it goes on the wire: its ts moved by its window's step when
    it was made before the clock was set."""
    for w in windows:
        if w[0] <= seq <= w[1]:
            off = 4 if rec[0] == 0xFF else _TS_OFF  # a node report (node.py) has its ts after a 4-byte prefix
            ts = struct.unpack_from(">I", rec, off)[0]
            if ts < TS_SYNCED:
                ts += w[2]
                b = bytearray(rec)
                struct.pack_into(">I", b, off, 0 if ts < 0 else ts if ts <= 0xFFFFFFFF else 0xFFFFFFFF)
                return bytes(b)
            break
    return rec
