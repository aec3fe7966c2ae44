"""The virtual clock that a simulated board, its sensors and its modem share.

Time advances when the firmware sleeps (``time.sleep_ms``, ``lightsleep``, ``deepsleep``) and, in real-time
mode, also with the wall clock multiplied by ``speed``. Everything the simulator does is a function of this
clock, so a day of a device runs in seconds and a run is repeatable.
"""

import threading
import time

EPOCH_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms: a plausible start for a node's RTC


class VirtualClock:
    def __init__(self, start_ms: int = EPOCH_2026, realtime: bool = False, speed: float = 1.0):
        self._lock = threading.Lock()
        self._base = start_ms
        self._advanced = 0
        self.realtime = realtime
        self.speed = speed
        self._t0 = time.monotonic()

    def now_ms(self) -> int:
        with self._lock:
            t = self._base + self._advanced
            if self.realtime:
                t += int((time.monotonic() - self._t0) * 1000 * self.speed)
            return t

    def set_realtime(self, on: bool, speed: float | None = None) -> None:
        """Switch between following the wall clock and moving only when advanced, without a jump: the time
        that passed in real-time mode is kept."""
        with self._lock:
            if self.realtime:
                self._advanced += int((time.monotonic() - self._t0) * 1000 * self.speed)
            self.realtime = on
            if speed is not None:
                self.speed = speed
            self._t0 = time.monotonic()

    def advance(self, ms: int) -> int:
        """Move time forward by ``ms`` (never backwards); return the new time."""
        if ms < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._advanced += int(ms)
        return self.now_ms()
