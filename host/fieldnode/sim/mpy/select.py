# select for the virtual board: select.poll on the board's virtual clock, so that asyncio, whose scheduler waits in
# poll.ipoll(timeout_ms), runs on it; and select.select, which the ESP32 port has (the unix port does not).
#
# What asyncio asks of it (extmod/asyncio/core.py, IOQueue): register/modify/unregister streams with POLLIN and
# POLLOUT; ipoll(dt) waits up to dt ms (-1: no limit) and yields (stream, events), POLLERR and POLLHUP whatever the
# mask; a reader wakes on POLLIN|POLLERR, a writer on POLLOUT|POLLERR. A timeout ends as the ESP32 port's poll ends
# it (extmod/modselect.c: once ticks_ms() - start >= timeout), on a whole millisecond of the board's clock.
#
# Readiness is the unix port's own poll, without waiting: the descriptors of real sockets, ioctl(MP_STREAM_POLL) of
# stream objects (machine.UART, asyncio.ThreadSafeFlag). Waiting is the board's (op WAIT_IO, sim/iowait.py): the
# clock jumps to the earliest of the timeout, the next machine.Timer deadline, a Pin.irq edge and data on a polled
# UART (a modem model's reply or URC coming due); the callbacks due then run (queued by _irq.tick, run at the loop's
# jump) before readiness is checked again, so a ThreadSafeFlag set by a timer ends the wait at the timer's time.
#
# Sockets are real ones to 127.0.0.1 (the collector, a test's echo server), answered in wall time:
# * after the program sent on a polled socket or began to connect it, the host gets up to GRACE_MS of wall time to
#   answer before the clock moves: an answer in that time counts as immediate (no network latency is modelled);
# * otherwise the clock jumps and sockets are looked at on each stop. Where the board would wait in wall time (a
#   real-time board, or no timeout and nothing due on the virtual clock) the program waits on its sockets itself,
#   SLICE_MS at a time, asking the board in between (pin edges from another thread come that much late).
# Limits: data a host peer sends unasked (a server push) is seen at the program's next stop, at whatever virtual
# time that is; a reply slower than GRACE_MS arrives after the clock moved on.

import _builtin  # noqa: E402

_b = _builtin.load("select")  # the unix port's own select, which this file hides

import _hwbus  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

POLLIN = _b.POLLIN
POLLOUT = _b.POLLOUT
POLLERR = _b.POLLERR
POLLHUP = _b.POLLHUP
GRACE_MS = 200
SLICE_MS = 20
_WALL_US = 1000000  # without sockets the board may wait this long in wall time for a pin driven from elsewhere
_RT_IDLE = _hwbus.IO_REALTIME | _hwbus.IO_IDLE  # the board did not run the clock for this wait


class poll:
    def __init__(self):
        self._p = _b.poll()
        self._reg = {}  # id(obj) -> [obj, mask, kind]; kind: -1 a socket or descriptor, n UART n, None other

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        self._p.register(obj, eventmask)
        k = -1 if isinstance(obj, int) or hasattr(obj, "fileno") else getattr(obj, "_poll_uart", None)
        self._reg[id(obj)] = [obj, eventmask, k]

    def unregister(self, obj):
        self._p.unregister(obj)
        self._reg.pop(id(obj), None)

    def modify(self, obj, eventmask):
        e = self._reg.get(id(obj))
        if e is None:
            raise OSError(2)  # ENOENT, as the port's modify
        self._p.modify(obj, eventmask)
        e[1] = eventmask

    def poll(self, timeout=-1):
        return self._wait(timeout, 0)

    def ipoll(self, timeout=-1, flags=0):
        return iter(self._wait(timeout, flags))

    def _ready(self, flags):
        r = self._p.poll(0)
        if flags & 1:  # one-shot: an object that fired is not polled again until modify() gives it a mask
            for o, _ in r:
                self.modify(o, 0)
        return r

    def _wait(self, timeout, flags):
        r = self._ready(flags)
        if r or timeout == 0:
            return r
        irq = time._irq
        now = time._clock()
        end = (now // 1000 + int(timeout)) * 1000 if timeout is not None and timeout > 0 else 0
        checked = True
        while True:
            if not checked:
                r = self._ready(flags)  # after the loop's jump: the callbacks the wait made due have run
                if r or (end and now >= end):
                    return r
            checked = False
            socks = owed = False
            uarts = b""
            for o, m, k in self._reg.values():
                if m and k == -1:
                    socks = True
                    owed = owed or getattr(o, "_owed", False)
                elif m & POLLIN and k is not None:
                    uarts += bytes((k,))
            if owed:
                for o, _, k in self._reg.values():
                    if k == -1 and getattr(o, "_owed", False):
                        o._owed = False
                # the host answers in wall time; the board's clock stands still meanwhile
                if self._p.poll(max(0, min(GRACE_MS, (end - now) // 1000)) if end else GRACE_MS):
                    continue
            cap = irq.next_due() if irq is not None else 0
            if cap <= now:
                cap = 0  # due but not run: the poll is inside a callback (the queue waits for it), do not spin
            d = _hwbus.call(_hwbus.WAIT_IO, struct.pack(">QQQ", end, cap, 0 if socks else _WALL_US) + uarts)
            now = int.from_bytes(d[:8], "big")
            if irq is not None:
                irq.tick(now)
            if socks and d[8] & _RT_IDLE:
                w = SLICE_MS
                for t in (end, cap):
                    if t:
                        w = min(w, max(0, (t - now + 999) // 1000))
                self._p.poll(w)


def select(rlist, wlist, xlist, timeout=None):
    # as the ESP32 port's select.select (extmod/modselect.c): timeout in seconds, None or negative for none
    p = poll()
    masks = {}
    for objs, f in ((rlist, POLLIN), (wlist, POLLOUT), (xlist, POLLERR | POLLHUP)):
        for o in objs:
            e = masks.get(id(o))
            masks[id(o)] = (o, (e[1] if e else 0) | f)
    for o, f in masks.values():
        p.register(o, f)
    ev = p.poll(-1 if timeout is None or timeout < 0 else int(timeout * 1000))
    return ([o for o, e in ev if e & POLLIN], [o for o, e in ev if e & POLLOUT],
            [o for o, e in ev if e & ~(POLLIN | POLLOUT)])


if not _hwbus.available():
    poll = _b.poll  # no simulator: the unix port's own, in wall time
