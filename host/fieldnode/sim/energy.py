"""A board's power-state timeline and the charge it used, from the current figures in its board file.

Each part of the board (``mcu``, ``modem``, ``wifi``) is in one state at a time; ``record`` notes a change at a
virtual time. The current of a state is the board file's figure for it (``power.<key>.value`` in mA), and each
figure carries the document it comes from (``power.<key>.source``), which ``report()`` repeats. States whose
current depends on what the network granted (the modem asleep in idle with DRX or eDRX, its periodic TAU burst)
have no board figure: whoever records them gives the current and its source (``record(..., ma=, source=)``; the
modem models work them out, ``sim/modems/power.py``).
Charge is current integrated over time: mA x ms = uC, reported in mC.
"""

from dataclasses import dataclass

# state -> the board file's power key
STATE_KEYS = {
    "mcu": {"active": "active_ma", "light_sleep": "light_sleep_ma", "deep_sleep": "deep_sleep_ma", "off": None},
    "modem": {"off": "modem_off_ma", "idle": "modem_idle_ma", "connected": "modem_idle_ma", "tx": "modem_tx_ma",
              "psm": "modem_psm_ma", "idle_drx": None, "idle_edrx": None, "tau": None},
    "wifi": {"off": None, "connecting": "wifi_tx_ma", "connected": "wifi_rx_ma", "tx": "wifi_tx_ma"},
}


@dataclass
class Span:
    part: str
    state: str
    start_ms: int
    end_ms: int
    ma: float
    source: str | None = None  # where a recorded (not board-file) current comes from

    @property
    def charge_mc(self) -> float:
        return self.ma * self.ms / 1000.0  # mA x ms = uC; /1000 -> mC

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


class Energy:
    def __init__(self, board, start_ms: int = 0):
        self.board = board
        self.start_ms = start_ms
        self._state: dict[str, tuple] = {}  # part -> (state, since_ms, mA, source)
        self.spans: list[Span] = []
        # unknown modem/wifi states before their first report: off
        self.record(start_ms, "mcu", "active")

    def current_ma(self, part: str, state: str) -> float:
        key = STATE_KEYS.get(part, {}).get(state)
        if key is None:
            return 0.0
        entry = self.board["power"].get(key)
        return float(entry["value"]) if entry else 0.0

    def state(self, part: str) -> str | None:
        s = self._state.get(part)
        return s[0] if s else None

    def record(self, t_ms: int, part: str, state: str, ma: float | None = None, source: str | None = None) -> None:
        """``part`` is in ``state`` from ``t_ms``. ``ma``/``source``: its current and where that comes from, for a
        state the board file has no figure for; without them, the board file's figure."""
        if part not in STATE_KEYS or state not in STATE_KEYS[part]:
            raise ValueError(f"unknown power state {part}/{state}: known {STATE_KEYS.get(part, STATE_KEYS)}")
        if ma is None:
            ma, source = self.current_ma(part, state), None
        prev = self._state.get(part)
        if prev and prev[0] == state and prev[2] == ma:
            return
        if prev:
            self._close(part, prev, t_ms)
        self._state[part] = (state, t_ms, float(ma), source)

    def _close(self, part, prev, t_ms):
        state, since, ma, source = prev
        if t_ms > since:
            self.spans.append(Span(part, state, since, t_ms, ma, source))

    def _all_spans(self, now_ms: int) -> list[Span]:
        out = list(self.spans)
        for part, (state, since, ma, source) in self._state.items():
            if now_ms > since:
                out.append(Span(part, state, since, now_ms, ma, source))
        return out

    def charge_mc(self, now_ms: int, since_ms: int | None = None, part: str | None = None) -> float:
        """Charge used from ``since_ms`` (default: the start) to ``now_ms``, in millicoulombs; of one ``part``
        ("modem", ...) or of the whole board."""
        lo = self.start_ms if since_ms is None else since_ms
        total = 0.0
        for s in self._all_spans(now_ms):
            if part is not None and s.part != part:
                continue
            a, b = max(s.start_ms, lo), min(s.end_ms, now_ms)
            if b > a:
                total += s.ma * (b - a) / 1000.0  # mA x ms = uC; /1000 -> mC
        return total

    def average_ma(self, now_ms: int, since_ms: int | None = None) -> float:
        lo = self.start_ms if since_ms is None else since_ms
        return self.charge_mc(now_ms, lo) / ((now_ms - lo) / 1000.0) if now_ms > lo else 0.0

    def report(self, now_ms: int) -> dict:
        """Time, charge and current per part and state, with the source of each figure."""
        rows: dict[tuple, dict] = {}
        for s in self._all_spans(now_ms):
            r = rows.setdefault((s.part, s.state), {"part": s.part, "state": s.state, "ms": 0, "charge_mc": 0.0,
                                                    "ma": s.ma, "source": s.source or self._source(s.part, s.state)})
            r["ms"] += s.ms
            r["charge_mc"] += s.ma * s.ms / 1000.0
        for r in rows.values():  # a state recorded at several currents (eDRX cycles): its average
            if r["ms"]:
                r["ma"] = r["charge_mc"] / (r["ms"] / 1000.0)
        total_ms = now_ms - self.start_ms
        charge = self.charge_mc(now_ms)
        return {"ms": total_ms, "charge_mc": charge, "average_ma": charge / (total_ms / 1000.0) if total_ms else 0.0,
                "states": sorted(rows.values(), key=lambda r: (r["part"], r["state"]))}

    def _source(self, part, state):
        key = STATE_KEYS[part].get(state)
        entry = self.board["power"].get(key) if key else None
        return entry.get("source", "") if entry else "no figure in the board file: counted as 0 mA"
