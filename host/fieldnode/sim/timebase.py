"""A virtual board's clock as its program sees it: microseconds on top of the shared millisecond ``VirtualClock``,
sleeps that stop for the program's timers and pin edges, and skips that stop wherever the modem changes by itself.

The simulator counts no CPU time: code runs in zero virtual time and the clock moves when the firmware sleeps. A
program that waits by reading the clock (``while ticks_diff(ticks_ms(), t0) < n: pass``) must still see it move, so
a clock read that finds the clock where the previous read left it (nothing slept in between) moves it on by about
what one such poll takes in MicroPython bytecode on a 160 MHz ESP32 (``CLOCK_POLL_US``, an estimate, not a
measurement).

In real-time mode (an interactive board) waits take wall time; ``stopped`` ends them when the board stops, and a
pin driven from another thread ends them through ``Pins.changed``.
"""

import threading

CLOCK_POLL_US = 20


class Timebase:
    """``clock`` the board's VirtualClock; ``pins`` its ``Pins`` (scheduled levels land as time passes); ``uarts``
    the bus's UART devices (polled as time passes); ``modem`` the one whose ``next_change_ms`` a skip stops at."""

    def __init__(self, clock, pins, uarts: dict, modem=None):
        self.clock = clock
        self.pins = pins
        self.uarts = uarts
        self.modem = modem if hasattr(modem, "next_change_ms") else None
        self.stopped = threading.Event()
        self._frac_us = 0  # microseconds past the clock's millisecond: ticks_us and the program's timers need them
        self._last_read_us = None  # where the program's last clock read found the clock (CLOCK_POLL_US)

    def new_process(self) -> None:
        self._last_read_us = None

    def mono_us(self) -> int:
        return self.clock.now_ms() * 1000 + self._frac_us

    def advance(self, ms: int) -> int:
        """Skip ``ms`` of virtual time, stopping wherever the modem changes by itself (PSM entry, a reply due) so
        its power states land on the energy timeline at the right instant, not at the next wake."""
        end = self.clock.now_ms() + ms
        m = self.modem
        while m is not None:
            t = m.next_change_ms()
            now = self.clock.now_ms()
            if t is None or t > end or t <= now:
                break
            self.clock.advance(t - now)
            m.poll(t)
        now = self.clock.now_ms()
        if end > now:
            self.clock.advance(end - now)
        return self.clock.now_ms()

    def advance_us(self, us: int) -> None:
        """Move the virtual clock ``us`` on (sub-millisecond parts kept here), applying scheduled pin levels."""
        ms, self._frac_us = divmod(self._frac_us + us, 1000)
        if ms:
            self.advance(ms)
        now = self.clock.now_ms()
        self.pins.apply(now)
        for dev in self.uarts.values():
            dev.poll(now)

    def read_clock_us(self) -> int:
        """The clock for a time.ticks_*/time.time read: a read at the instant of the previous one costs
        CLOCK_POLL_US, so that a loop polling the clock moves it (and the timers it waits for come due)."""
        now = self.mono_us()
        if now == self._last_read_us and not self.clock.realtime:
            self.advance_us(CLOCK_POLL_US)
            now = self.mono_us()
        self._last_read_us = now
        return now

    def wait_until_us(self, end_us: int, cap_us: int = 0, stop_on_edge: bool = True) -> int:
        """time.sleep on the board: run the clock to ``end_us``, stopping early at ``cap_us`` (the program's next
        machine.Timer deadline, 0 for none) or, with ``stop_on_edge``, at an input edge its Pin.irq waits for, so
        that the callback runs at its own time. Scheduled pin changes on the way are applied at theirs. Wall time in
        real-time mode (a pin set from another thread ends the wait). Returns the time reached (us)."""
        pins = self.pins
        stop = min(end_us, cap_us) if cap_us else end_us
        while not (stop_on_edge and pins.pending()):
            now = self.mono_us()
            if now >= stop:
                break
            nxt = pins.next_ms()
            nxt = nxt * 1000 if nxt is not None else None
            to = min(stop, nxt) if nxt is not None and nxt > now else stop
            if self.clock.realtime:
                pins.changed.clear()
                if (stop_on_edge and pins.pending()) or self.stopped.is_set():
                    break
                pins.changed.wait((to - now) / 1e6 / max(self.clock.speed, 1e-6))
                pins.apply(self.clock.now_ms())
            else:
                self.advance_us(to - now)
        return self.mono_us()

    def sleep(self, ms: int) -> None:
        """time.sleep_ms on the board: wall time in real-time mode, otherwise the virtual clock jumps."""
        self.wait_until_us(self.mono_us() + ms * 1000, stop_on_edge=False)
