# time for the virtual board: the same names as the ESP32 port's time module, on the simulator's virtual clock.
# Without a simulator (FIELDNODE_HWBUS unset) every call goes to the unix port's own time module.
# Epoch: 1970-01-01, as the ESP32 port since v1.22.
import sys

_path = sys.path[:]
del sys.path[:]
_me = sys.modules.pop("time", None)
import time as _b  # the built-in module, now that this file is not on the path

if _me is not None:
    sys.modules["time"] = _me
sys.path.extend(_path)
del _path, _me

import _hwbus

_PERIOD = 1 << 30  # MICROPY_PY_TIME_TICKS_PERIOD
_virtual = _hwbus.available()


def _now_ms():
    d = _hwbus.call(_hwbus.TIME)
    return int.from_bytes(d, "big")


def _mono_ms():
    # ticks count from the board's clock, not the RTC: RTC.datetime(...) moves time() but not ticks_ms()
    global _mono_op
    try:
        d = _hwbus.call(_mono_op)
    except OSError:
        _mono_op = _hwbus.TIME  # a bare HwBus without a board: one clock for both
        d = _hwbus.call(_mono_op)
    return int.from_bytes(d, "big")


_mono_op = _hwbus.MONO


def _sleep_ms(ms):
    if ms > 0:
        _hwbus.call(_hwbus.SLEEP, int(ms).to_bytes(4, "big"))


gmtime = _b.gmtime
localtime = _b.localtime
mktime = _b.mktime
ticks_add = _b.ticks_add
ticks_diff = _b.ticks_diff

if _virtual:

    def ticks_ms():
        return _mono_ms() & (_PERIOD - 1)

    def ticks_us():
        return (_mono_ms() * 1000) & (_PERIOD - 1)

    def ticks_cpu():
        return ticks_us()

    def time():
        return _now_ms() // 1000

    def time_ns():
        return _now_ms() * 1000000

    def sleep_ms(ms):
        _sleep_ms(ms)

    def sleep_us(us):
        _sleep_ms((us + 999) // 1000)

    def sleep(s):
        _sleep_ms(int(s * 1000))

    # The ESP32 port has no time zone: localtime() is gmtime() and mktime() its inverse, both in UTC
    # (shared/timeutils). The unix port's own localtime/mktime would apply the host's time zone.
    def gmtime(secs=None):
        return _b.gmtime(time() if secs is None else secs)

    def localtime(secs=None):
        return _b.gmtime(time() if secs is None else secs)

    def mktime(t):
        y, m, d = t[0], t[1], t[2]
        # days from 1970-01-01 to y-m-d (proleptic Gregorian; months may overflow as timeutils allows)
        y += (m - 1) // 12
        m = (m - 1) % 12 + 1
        yy = y - (1 if m <= 2 else 0)
        era = yy // 400
        yoe = yy - era * 400
        doy = (153 * (m + (9 if m <= 2 else -3)) + 2) // 5 + d - 1
        doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
        days = era * 146097 + doe - 719468
        return days * 86400 + t[3] * 3600 + t[4] * 60 + t[5]

else:
    ticks_ms = _b.ticks_ms
    ticks_us = _b.ticks_us
    ticks_cpu = _b.ticks_cpu
    time = _b.time
    time_ns = _b.time_ns
    sleep = _b.sleep
    sleep_ms = _b.sleep_ms
    sleep_us = _b.sleep_us
