# Soft interrupts on the virtual board: machine.Timer callbacks and Pin.irq handlers, on the board's virtual clock.
#
# On the ESP32 both are soft: the timer's and the GPIO's interrupt service routines only queue the callback with
# mp_sched_schedule (ports/esp32/machine_timer.c machine_timer_isr_handler, machine_pin.c machine_pin_isr_handler),
# and the VM runs the queue at its next check for pending events: any jump in bytecode, and inside blocking calls
# (time.sleep's delay loop, socket waits). Callbacks never nest; one that runs long delays the others.
#
# The unix port has no interrupts, and the clock the board runs on is the simulator's. Callbacks are delivered
# where the program meets that clock, with the same queue:
#
# * every read of the clock (time.ticks_ms/us/cpu, time.time: sim/mpy/time.py) and every sleep hands the time to
#   tick(), which queues _dispatch with micropython.schedule when a timer is due or a pin edge waits; the VM then
#   runs it at the next jump, as the ESP32's would run the timer's callback;
# * time.sleep*, machine.idle and blocking socket waits sleep in steps that end at the next timer deadline (the
#   simulator's WAIT also ends early at a pin edge), so each callback runs at its own virtual time, in order, and a
#   10 ms periodic timer fires 100 times in a second of sleep;
# * a pin edge made on the host side (a test, a sensor model, board.set_pin from another thread) sets a bit in the
#   answer to whatever the program sends next on the hardware bus, and _fetch collects it (_hwbus.pending).
#
# Limits: code that never touches the bus, the clock or a sleep (a pure computation loop, viper/native code) is
# never interrupted: callbacks due meanwhile run at its next clock read or sleep, all of them, in order (a periodic
# timer keeps its count; the ESP32 would have run them on time, or dropped some once its 4-deep queue was full).
# A loop that polls the bus but not the clock (a pin, a UART) gets host-made edges, but its virtual time stands
# still. Nor is the interactive REPL interrupted while it waits for a line (the ESP32 prints a periodic timer's
# output meanwhile; here it comes with the next command that reads the clock or sleeps). A blocking read on a real
# socket while the link is up waits in wall time and delivers nothing meanwhile; select.poll (and so asyncio) waits
# on the virtual clock and stops at each deadline and edge as the sleeps do (sim/mpy/select.py). Timers count
# microseconds of virtual time (the ESP32's count 0.1 us ticks: the 80 MHz APB clock divided by 8).
# machine.lightsleep clock-gates the timer groups (ESP-IDF "Sleep Modes": in light sleep "digital peripherals ...
# are clock-gated"; their state is preserved), so timers neither fire nor advance while it lasts: pause().
import micropython
import sys

import _hwbus
import time

timers = []  # running machine.Timer objects (each with _due, the next deadline in us, and _fire())
pins = {}  # pin id -> (Pin, handler) for Pin.irq
_edges = []  # (t_us, pin id, level) the simulator reported, oldest first
_now = 0  # the latest virtual time the program has seen (us)
_queued = False  # _dispatch waits in the scheduler's queue
_deferred = False  # _dispatch ran inside a bus transaction and put itself off
_running = False


def next_due():
    """The next timer deadline (us), 0 when no timer runs: where a sleep must stop."""
    d = 0
    for t in timers:
        if d == 0 or t._due < d:
            d = t._due
    return d


def tick(now):
    """The program saw the clock at ``now`` (us): queue the callbacks that are due."""
    global _now
    if now > _now:
        _now = now
    if not _queued and not _deferred and (_edges or (timers and next_due() <= _now)):
        _queue()


def pause(us):
    """machine.lightsleep lasted ``us``: the timers' counters stood still meanwhile."""
    for t in timers:
        t._due += us


def drain():
    """At the end of a sleep: callbacks due by then run before it returns, as in the ESP32's delay loop (it runs
    pending callbacks before it looks at the time). A backward jump is where the VM runs the queue; twice, at most,
    so that a sleep inside a callback (the queue is locked then) does not wait for itself."""
    if _queued and not _running:
        for _ in range(2):
            pass


def _queue():
    global _queued
    try:
        micropython.schedule(_dispatch, None)
        _queued = True
    except RuntimeError:
        pass  # the queue is full (the user's own schedule calls): the next tick tries again


def _resume():
    global _deferred
    _hwbus.resume = None
    if _deferred:
        _deferred = False
        if not _queued:
            _queue()


def _next():
    """The earliest callback due: (function, argument), or None."""
    best = None
    for t in timers:
        if t._due <= _now and (best is None or t._due < best._due):
            best = t
    while _edges and (best is None or _edges[0][0] <= best._due):
        e = _edges.pop(0)
        h = pins.get(e[1])
        if h is not None:
            return h[1], h[0]
    if best is None:
        return None
    cb = best._cb
    best._fire()
    return cb, best


def _dispatch(_):
    global _queued, _deferred, _running
    _queued = False
    if _hwbus._hold:
        _deferred = True
        _hwbus.resume = _resume
        return
    _running = True
    try:
        while True:
            ev = _next()
            if ev is None:
                break
            if ev[0] is not None:
                try:
                    ev[0](ev[1])
                except Exception as e:  # as the port's scheduler does: print it, go on with the next
                    sys.print_exception(e)
    finally:
        _running = False


def _fetch():
    d = _hwbus.call(_hwbus.PIN_EDGES)
    for i in range(0, len(d), 10):
        _edges.append((int.from_bytes(d[i: i + 8], "big"), d[i + 8], d[i + 9]))
    if _edges:
        tick(_now)


class Timer:
    # The ESP32's hardware timers (docs.micropython.org, esp32 quickref "Timers": four, "a timer ID from 0 to 3",
    # "the period is in milliseconds"; two on the ESP32-C3) and virtual timers (id -1), as ports/esp32/
    # machine_timer.c has them: keyword-only init(mode, callback, period, tick_hz, freq, hard), a soft callback
    # called with the timer, init() restarting the count, hard=True refused. Callbacks run on the board's virtual
    # clock: see the top of this file for how and where.
    ONE_SHOT = 0
    PERIODIC = 1
    _hw = {}  # id -> Timer: one object per hardware timer, as machine_timer_create finds the existing one

    def __new__(cls, id, **kw):
        t = Timer._hw.get(id) if id != -1 else None
        return t if t is not None else object.__new__(cls)

    def __init__(self, id, **kw):
        if not hasattr(self, "_id"):
            import machine

            n = 2 if machine._boot_info().get("chip") == "esp32c3" else 4
            if id != -1 and not 0 <= id < n:
                raise ValueError("invalid Timer number, max %d" % n)
            self._id = id
            self._cb = None
            self._mode = Timer.PERIODIC
            self._period = 0  # us
            self._due = 0
            if id != -1:
                Timer._hw[id] = self
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, callback=None, period=0xFFFFFFFF, tick_hz=1000, freq=None, hard=False):
        if hard:
            raise ValueError("hard Timers are not implemented")
        self.deinit()
        us = int(1000000 / freq) if freq is not None else period * 1000000 // tick_hz
        if us <= 0:
            raise ValueError("period too small")
        self._mode, self._cb, self._period = mode, callback, us
        self._due = time._clock() + us
        timers.append(self)

    def _fire(self):
        if self._mode:
            self._due += self._period  # auto-reload: the period does not drift with the callback's lateness
        else:
            self.deinit()

    def value(self):
        if self not in timers:
            raise ValueError("timer not set")
        return (time._clock() - (self._due - self._period)) // 1000

    def deinit(self):
        if self in timers:
            timers.remove(self)

    def __repr__(self):
        return "Timer(%d, mode=%s, period=%d)" % (
            self._id, "PERIODIC" if self._mode else "ONE_SHOT", self._period // 1000)


_hwbus.pending = _fetch
time._irq = sys.modules[__name__]  # from now on every clock read and sleep delivers (time imports no _irq itself)
