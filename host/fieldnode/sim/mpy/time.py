# time for the virtual board: the same names as the ESP32 port's time module, on the simulator's virtual clock.
# Without a simulator (FIELDNODE_HWBUS unset) every call goes to the unix port's own time module.
# Epoch: 1970-01-01, as the ESP32 port since v1.22.
# Every read of the clock and every sleep also delivers the program's soft interrupts (machine.Timer, Pin.irq):
# see sim/mpy/_irq.py. Sleeps run in steps that end at the next timer deadline.
import struct

import _builtin  # noqa: E402

_b = _builtin.load("time")  # the unix port's own time, which this file hides

import _hwbus

_irq = None  # sim/mpy/_irq.py puts itself here once the program uses machine.Timer or Pin.irq (heap until then)
_PERIOD = 1 << 30  # MICROPY_PY_TIME_TICKS_PERIOD
_virtual = _hwbus.available()


def _now_ms():
    # the RTC's time; a board answers the clock in us beside it (a bare HwBus only the time)
    d = _hwbus.call(_hwbus.TIME)
    if len(d) >= 16 and _irq is not None:
        _irq.tick(int.from_bytes(d[8:16], "big"))
    return int.from_bytes(d[:8], "big")


def _clock():
    # ticks count from the board's clock, not the RTC: RTC.datetime(...) moves time() but not ticks_ms()
    now = int.from_bytes(_hwbus.call(_hwbus.MONO_US), "big")
    if _irq is not None:
        _irq.tick(now)
    return now


def _sleep_us(us):
    if us <= 0:
        # sleep_ms(0) yields: the ESP32's delay loop runs pending callbacks once (and some CPU time passes)
        _clock()
        if _irq is not None:
            _irq.drain()
        return
    irq = _irq
    d = _hwbus.call(_hwbus.WAIT, struct.pack(">BQQ", 1, us, irq.next_due() if irq else 0))
    now = int.from_bytes(d[:8], "big")
    end = int.from_bytes(d[8:16], "big")
    if irq is None:
        return
    irq.tick(now)
    while now < end:
        # the callbacks queued by tick() run here, at the loop's jump, at their own virtual time
        d = _hwbus.call(_hwbus.WAIT, struct.pack(">BQQ", 0, end, irq.next_due()))
        now = int.from_bytes(d[:8], "big")
        irq.tick(now)
    irq.drain()


gmtime = _b.gmtime
localtime = _b.localtime
mktime = _b.mktime
ticks_add = _b.ticks_add
ticks_diff = _b.ticks_diff

if _virtual:

    def ticks_ms():
        return (_clock() // 1000) & (_PERIOD - 1)

    def ticks_us():
        return _clock() & (_PERIOD - 1)

    def ticks_cpu():
        return ticks_us()

    def time():
        return _now_ms() // 1000

    def time_ns():
        return _now_ms() * 1000000

    def sleep_ms(ms):
        _sleep_us(int(ms) * 1000)

    def sleep_us(us):
        _sleep_us(int(us))

    def sleep(s):
        _sleep_us(int(s * 1000000))

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
