"""A virtual board's GPIO inputs as its program sees them: levels driven now or at a virtual time, the edges its
``Pin.irq`` asked for, and the wake sources of deep and light sleep.

    pins = Pins(clock)
    pins.set(39, 0, at_ms=clock.now_ms() + 5000)   # a button pressed in 5 s (safe from another thread)
    pins.wake_conf({"ext0": [39, 0]})              # what esp32.wake_on_ext0(Pin(39), 0) sends
    pins.next_wake(clock.now_ms(), 0)              # (EXT0_WAKE, the press's virtual time)

``levels`` is the dict the hardware bus answers ``PIN_READ`` from (``HwBus(pins=...)``). Every change that could
end a wait in wall time (a level scheduled, an edge queued) sets ``changed``; a real-time wait clears it, checks,
and waits on it (``sim/timebase.py``, ``sim/iowait.py``).

Wake reasons follow the ESP32 port's ``machine.wake_reason()`` (EXT0 2, EXT1 3, TIMER 4; ESP-IDF's
esp_sleep_source_t): ext0 is one pin at a level, ext1 a set of pins at one level; a ``Pin.irq(wake=...)``
(``"pins"``) is reported as ext0.
"""

import threading

EXT0_WAKE, EXT1_WAKE, TIMER_WAKE = 2, 3, 4


def _no_wake() -> dict:
    return {"ext0": None, "ext1": None, "pins": {}}


class Pins:
    def __init__(self, clock, levels: dict | None = None):
        self.clock = clock
        self.levels: dict[int, int] = {} if levels is None else levels
        self.lock = threading.RLock()
        self.changed = threading.Event()
        self._schedule: list[tuple[int, int, int]] = []  # (t_ms, pin, level), soonest first
        self._irq: dict[int, int] = {}  # pin -> edges the program's Pin.irq wants (1 rising, 2 falling)
        self._edges: list[tuple[int, int, int]] = []  # (t_us, pin, level) not yet fetched by the program
        self._wake = _no_wake()

    # -- levels ---------------------------------------------------------------------------------------------------
    def set(self, pin: int, level: int, at_ms: int | None = None) -> None:
        """Drive an input pin now or at a virtual time (a button, an alarm line, a sensor's interrupt output)."""
        t = self.clock.now_ms() if at_ms is None else at_ms
        with self.lock:
            self._schedule.append((t, pin, 1 if level else 0))
            self._schedule.sort()
        self.apply(self.clock.now_ms())
        self.changed.set()  # a real-time wait looks at the schedule again

    def apply(self, now_ms: int) -> None:
        """Apply every scheduled level due by ``now_ms``, each at its own time."""
        with self.lock:
            while self._schedule and self._schedule[0][0] <= now_ms:
                t, pin, level = self._schedule.pop(0)
                self.drive(pin, level, t * 1000)

    def drive(self, pin: int, level: int, t_us: int) -> None:
        """The pin's level changes at ``t_us``: an edge its IRQ waits for is queued for the program."""
        with self.lock:
            old = self.levels.get(pin, 0)
            self.levels[pin] = level
            if old != level and self._irq.get(pin, 0) & (1 if level else 2):
                self._edges.append((t_us, pin, level))
                self.changed.set()

    def next_ms(self) -> int | None:
        """The virtual time of the next scheduled level, or None."""
        with self.lock:
            return self._schedule[0][0] if self._schedule else None

    def due_by(self, t_ms: int) -> list[int]:
        """The pins whose scheduled level comes by ``t_ms`` (what a light sleep that ends then will have seen)."""
        with self.lock:
            return [p for (t, p, _) in self._schedule if t <= t_ms]

    # -- the program's Pin.irq ----------------------------------------------------------------------------------
    def irq(self, pin: int, trigger: int) -> None:
        """Which edges of ``pin`` to report (IRQ_RISING 1 | IRQ_FALLING 2; 0 for none)."""
        with self.lock:
            if trigger & 3:
                self._irq[pin] = trigger & 3
            else:
                self._irq.pop(pin, None)

    def pending(self) -> bool:
        """Edges wait for the program (the bus sets PENDING in its answers)."""
        return bool(self._edges)

    def take_edges(self) -> list:
        with self.lock:
            edges, self._edges = self._edges, []
        return edges

    def new_process(self) -> None:
        """A new MicroPython process: nothing registered an IRQ yet, and no edge waits for it."""
        with self.lock:
            self._irq, self._edges = {}, []

    # -- wake sources -----------------------------------------------------------------------------------------
    def wake_conf(self, conf: dict) -> None:
        self._wake.update(conf)

    def clear_wake(self) -> None:
        """A hard reset forgets the wake sources (a deep sleep's are set again by the program before it sleeps)."""
        self._wake = _no_wake()

    def next_wake(self, now: int, ms: int):
        """(wake reason, virtual time) of the first wake source after ``now``; ``ms`` 0 means no timer."""
        best = (TIMER_WAKE, now + ms) if ms > 0 else (None, None)
        ext0, ext1, pins = self._wake.get("ext0"), self._wake.get("ext1"), self._wake.get("pins") or {}
        with self.lock:
            schedule = list(self._schedule)
        for t, pin, level in schedule:
            hit = None
            if ext0 and ext0[0] == pin and ext0[1] == level:
                hit = EXT0_WAKE
            elif ext1 and pin in ext1[0] and ext1[1] == level:
                hit = EXT1_WAKE
            elif str(pin) in pins and pins[str(pin)][0] == level:
                hit = EXT0_WAKE
            if hit and (best[1] is None or max(t, now) < best[1]):
                best = (hit, max(t, now))
        return best
