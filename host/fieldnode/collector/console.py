"""The collector's web console: fleet, device and events views served by ``fieldnode collect`` from its own
database, and the JSON API they are drawn from (the same paths under /api).

    GET /                    fleet view          GET /api/devices           the fleet as JSON
    GET /devices/N           one device          GET /api/devices/N?range=day|week|month
    GET /events              fleet events        GET /api/events?since=UNIX&limit=N
    GET /api/stream          server-sent events: one "change" message per stored report, refusal or update step
    GET /static/NAME         the page's script and style (collector/static/), nothing from elsewhere

Every page is a small HTML shell carrying its view's JSON (the same object the API returns) so the first render
needs no second request; collector/static/console.js draws it (tables, SVG plots) and then follows /api/stream,
re-reading the view's API path after each change. Times are Unix seconds in the JSON and shown by the browser in
its own time zone (ISO 8601) next to a relative age measured against the collector's ``now`` (its clock, so a
fleet on virtual time reads right).

Health of a device (``health``): "silent" (nothing for longer than its heartbeat plus a grace), "alarm" (its latest
report has an alarm flag: anomaly, high, low, sensor_err), "low_battery" (lowbat flag, or below LOW_BATT_V),
"queue" (the health block says reports are waiting or were dropped), "clock" (the device's clock was not set:
the collector stamped the report), else "ok".

Battery days left: the remaining charge (the voltage read as a share of a Li-ion cell between EMPTY_V and FULL_V)
over the average current of the board file's power figures (boards/*.json "power", their sources there) at the
device's reporting interval: deep sleep all the time, plus ``active_ma`` for WAKE_S per sample and ``modem_tx_ma``
for TX_S per uplink. This is the energy model's figures without its simulation (sim/energy.py integrates each
part's states over a run); `fieldnode sim run` gives the simulated figure for one configuration.
"""

import base64
import hmac
import json
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .. import boards
from .fw import schema
from .views import flag_names

STATIC = Path(__file__).with_name("static")
RANGES = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400}
HEARTBEAT_S = 86400  # the firmware's default (firmware/policy.py "heartbeat_s"); registry fact "heartbeat_s" wins
GRACE = 0.1  # silent after heartbeat * (1 + GRACE) without a report
ALARM_NAMES = ("anomaly", "high", "low", "sensor_err")
LOW_BATT_V = 3.4  # the firmware's default alarm threshold (firmware/appconfig.py "lowbat_mv")
EMPTY_V, FULL_V = 3.3, 4.2  # a Li-ion cell's usable range, read linearly (a coarse state of charge)
WAKE_S = 2.0  # awake per sample: boot from deep sleep, sensors, a 512-sample vibration window
TX_S = 6.0  # radio on per uplink: attach from PSM, send, wait for the acknowledgement
SAMPLE_S = 600  # firmware/policy.py "sample_s" default
QUEUE_WARN = 8  # reports waiting on the device before the console says its queue is backing up
EVENTS_LIMIT = 300
SERIES_POINTS = 2000  # a month of 10-minute samples is 4320: thinned to at most this many per plot, extremes kept
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml"}


_POWER: dict = {}


def _board_power(name, cache=_POWER):
    if name not in cache:
        try:
            b = boards.load(name)
            p = b["power"]
            cache[name] = {"capacity_mah": (b["battery"] or {}).get("capacity_mah"),
                           "sleep": p["deep_sleep_ma"]["value"], "active": p["active_ma"]["value"],
                           "tx": (p.get("modem_tx_ma") or p.get("wifi_tx_ma") or {"value": 0})["value"]}
        except Exception:  # an unknown board or one without power figures: no estimate
            cache[name] = None
    return cache[name]


def interval_of(recent) -> float | None:
    """The median gap between the receive times ``recent`` (newest first), or None with fewer than two."""
    gaps = sorted(a - b for a, b in zip(recent, recent[1:], strict=False) if a > b)
    return gaps[len(gaps) // 2] if gaps else None


def battery_days(board, volts, interval_s) -> float | None:
    """Days left on the battery from its voltage and the reporting interval (the module's doc says how)."""
    pw = _board_power(board) if board else None
    if not pw or not pw["capacity_mah"] or not volts or volts <= 0:
        return None
    share = min(1.0, max(0.0, (volts - EMPTY_V) / (FULL_V - EMPTY_V)))
    uplink = max(interval_s or SAMPLE_S, 60)
    ma = pw["sleep"] + pw["active"] * WAKE_S / SAMPLE_S + pw["tx"] * TX_S / uplink
    return round(pw["capacity_mah"] * share / (ma * 24), 1)


def health(dev, facts, now) -> list:
    """The device's health words (module doc), "ok" alone when none applies."""
    out = []
    hb = facts.get("heartbeat_s") or HEARTBEAT_S
    if now - dev["last_seen"] > hb * (1 + GRACE):
        out.append("silent")
    r = dev.get("last_report") or {}
    flags = r.get("flags") or []
    if any(f in flags for f in ALARM_NAMES):
        out.append("alarm")
    b = r.get("batt")
    if "lowbat" in flags or (isinstance(b, (int, float)) and 0 < b < LOW_BATT_V):
        out.append("low_battery")
    h = dev.get("last_health") or {}
    if (h.get("qdepth") or 0) >= QUEUE_WARN or (h.get("dropped") or 0) > 0:
        out.append("queue")
    if r.get("ts_source") == "collector":
        out.append("clock")
    return out or ["ok"]


def _version(updates, dev_id):
    for d, v, status, *_ in updates:
        if d == dev_id and status in ("confirmed", "switched"):
            from .fw import fetch

            return fetch.vstr(v)
    return None


class Console:
    """The views over one Collector. ``changes`` counts what happened since start (the stream's cursor)."""

    def __init__(self, collector, password=None):
        self.c = collector
        self.password = password
        self.changes = 0
        self._cond = threading.Condition()
        self.closing = False
        collector.listeners.append(self._on_event)

    def _on_event(self, ev):
        with self._cond:
            self.changes += 1
            self._cond.notify_all()

    def close(self):
        with self._cond:
            self.closing = True
            self._cond.notify_all()

    def wait_change(self, seen, timeout):
        with self._cond:
            if self.changes == seen and not self.closing:
                self._cond.wait(timeout)
            return self.changes

    # --- views (each one the API's JSON) ---
    def fleet(self) -> dict:
        now = self.c.clock()
        st = self.c.store
        updates = st.update_log_since(0, 100000)
        rows = []
        seen = set()
        for d in st.console_devices():
            facts = self._facts(d["device_id"])
            seen.add(d["device_id"])
            r = d.get("last_report") or {}
            h = d.get("last_health") or {}
            iv = interval_of(d["recent"])
            board = facts.get("board")
            rows.append({"id": d["device_id"], "board": board, "last_seen": d["last_seen"],
                         "health": health(d, facts, now), "rssi": h.get("rssi"), "batt": r.get("batt"),
                         "days_left": battery_days(board, r.get("batt"), iv), "interval_s": iv,
                         "version": _version(updates, d["device_id"]) or facts.get("app_version"),
                         "reports": d["reports"], "alarms": d["alarms"], "qdepth": h.get("qdepth"),
                         "flags": r.get("flags") or [], "temp": r.get("temp")})
        for dev in self.c.registry.devices():  # provisioned but never heard from
            if dev.device_id not in seen:
                rows.append({"id": dev.device_id, "board": dev.facts.get("board"), "last_seen": None,
                             "health": ["never"], "rssi": None, "batt": None, "days_left": None,
                             "interval_s": None, "version": dev.facts.get("app_version"), "reports": 0,
                             "alarms": 0, "qdepth": None, "flags": [], "temp": None})
        return {"now": now, "devices": rows, "rejects": st.rejects(), "totals": dict(self.c.stats)}

    def _facts(self, device_id):
        d = self.c.registry.find(device_id)
        return d.facts if d is not None else {}

    def device(self, device_id, rng="week") -> dict | None:
        span = RANGES.get(rng)
        if span is None:
            raise ValueError(f"range {rng!r}: one of {', '.join(RANGES)}")
        now = self.c.clock()
        st = self.c.store
        state = next(iter(st.console_devices(device_id=device_id)), None)
        facts = self._facts(device_id)
        if state is None and not facts:
            return None
        rows = st.series(device_id, now - span)
        units = {}
        series = {}
        t, markers, hist = [], [], []
        for ctr, rec, fl, f in rows:
            t.append(f.get("ts") or rec)
            for k, v in list(f.items()) + list((f.get("health") or {}).items()):
                if k in ("device", "counter", "ts", "ts_device", "flags", "health", "ts_source", "node"):
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    series.setdefault(k, [None] * (len(t) - 1)).append(v)
            for vals in series.values():
                if len(vals) < len(t):
                    vals.append(None)
            names = flag_names(fl)
            marks = [n for n in names if n in ALARM_NAMES or n in ("lowbat", "boot")]
            if marks:
                markers.append({"t": t[-1], "counter": ctr, "flags": marks})
            if f.get("health"):
                hist.append({"t": t[-1], "counter": ctr, **f["health"]})
        for name, _c, _s, unit, _d in schema.MAIN + schema.HEALTH:
            units[name] = unit
        for k in series:
            units.setdefault(k, "")
        idx = _thin(t, series, SERIES_POINTS)
        out = {"now": now, "id": device_id, "range": rng, "since": now - span, "facts": _public(facts),
               "points": len(idx), "reports_in_range": len(t), "t": [t[i] for i in idx],
               "series": {k: {"unit": units[k], "values": [v[i] for i in idx]} for k, v in series.items()},
               "markers": markers, "health_history": hist, "detector": _detector(rows),
               "commands": [c for c in st.commands(device_id) if c["acked"] is None],
               "updates": [{"version": v, "status": s, "detail": dt, "at": at}
                           for _d, v, s, dt, at, _src in st.update_log(device_id)][-20:]}
        if state is not None:
            iv = interval_of(state["recent"])
            r = state.get("last_report") or {}
            out.update(last_seen=state["last_seen"], health=health(state, facts, now), interval_s=iv,
                       days_left=battery_days(facts.get("board"), r.get("batt"), iv), last_report=r,
                       reports=state["reports"], gaps=state["gaps"], duplicates=state["duplicates"])
        else:
            out.update(last_seen=None, health=["never"], interval_s=None, days_left=None, last_report=None)
        return out

    def events(self, since=0.0, limit=EVENTS_LIMIT, device_id=None) -> dict:
        st = self.c.store
        ev = []
        for dev, ctr, rec, fl, f, nxt in st.event_reports(since, limit, device_id):
            names = flag_names(fl)
            alarm = [n for n in names if n in ALARM_NAMES or n == "lowbat"]
            if alarm:
                ev.append({"at": rec, "device": dev, "kind": "alarm", "what": ",".join(alarm), "counter": ctr,
                           "cleared": nxt[1] if nxt else None})
            if "boot" in names:
                h = f.get("health") or {}
                ev.append({"at": rec, "device": dev, "kind": "reset", "counter": ctr,
                           "what": f"reset cause {h['rcause']}, {h['resets']} resets" if h else "restarted"})
        if device_id is None:
            for r in st.reject_log_since(since, limit):
                ev.append({"at": r["at"], "device": None, "kind": "refused", "what": r["reason"],
                           "detail": r["detail"], "source": r["source"]})
        for dev, v, status, detail, at, _src in st.update_log_since(since, limit):
            if device_id is None or dev == device_id:
                from .fw import fetch

                ev.append({"at": at, "device": dev, "kind": "update", "what": f"{fetch.vstr(v)} {status}",
                           "detail": detail})
        ev.sort(key=lambda e: -e["at"])
        return {"now": self.c.clock(), "events": ev[:limit], "rejects": st.rejects()}

    # --- HTTP (servers.py calls these) ---
    def authorized(self, header) -> bool:
        if self.password is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            _user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return hmac.compare_digest(pw.encode(), self.password.encode())

    def get(self, path):
        """(status, body bytes, content type) for a GET, or None when ``path`` is not the console's."""
        u = urlparse(path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        p = u.path.rstrip("/") or "/"
        try:
            if p.startswith("/static/"):
                f = STATIC / p[len("/static/"):]
                if f.parent != STATIC or not f.is_file():
                    return 404, b"no such asset\n", "text/plain"
                return 200, f.read_bytes(), CONTENT_TYPES.get(f.suffix, "application/octet-stream")
            if p in ("/", "/index.html"):
                return self._page("fleet", "/api/devices", self.fleet())
            if p == "/events":
                return self._page("events", "/api/events", self.events())
            if p.startswith("/devices/"):
                dev = int(p.split("/")[2])
                data = self.device(dev, q.get("range", "week"))
                if data is None:
                    return 404, f"device {dev} is neither in the registry nor stored\n".encode(), "text/plain"
                return self._page("device", f"/api/devices/{dev}", data)
            if p == "/api/devices":
                return self._json(self.fleet())
            if p.startswith("/api/devices/"):
                dev = int(p.split("/")[3])
                data = self.device(dev, q.get("range", "week"))
                if data is None:
                    return 404, b'{"error": "unknown device"}', "application/json"
                return self._json(data)
            if p == "/api/events":
                return self._json(self.events(float(q.get("since", 0)), int(q.get("limit", EVENTS_LIMIT)),
                                              int(q["device"]) if "device" in q else None))
        except ValueError as e:
            return 400, json.dumps({"error": str(e)}).encode(), "application/json"
        return None

    @staticmethod
    def _json(data):
        return 200, json.dumps(data, separators=(",", ":")).encode(), "application/json"

    @staticmethod
    def _page(view, api, data):
        blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
        body = ("<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                f"<title>fieldnode {view}</title><link rel=stylesheet href=/static/console.css>"
                "<header><b>fieldnode</b> <a href=/>fleet</a> <a href=/events>events</a> "
                "<span id=live>live</span></header>"
                f"<main id=view data-view={view} data-api={api}><noscript>This console draws with JavaScript; "
                f"the same data is at <a href={api}>{api}</a>.</noscript></main>"
                f"<script id=data type=application/json>{blob}</script>"
                "<script src=/static/console.js></script></html>")
        return 200, body.encode(), "text/html; charset=utf-8"


def _public(facts):
    return {k: v for k, v in facts.items() if k not in ("key",)}


def _detector(rows):
    """The detector as the reports show it: whether the latest report is in anomaly, since when, and how many
    anomaly reports the range holds."""
    n = 0
    since = None
    state = "normal"
    for _ctr, rec, fl, f in rows:
        if fl & schema.FLAG_ANOMALY:
            n += 1
            if state != "anomaly":
                since = f.get("ts") or rec
            state = "anomaly"
        else:
            state = "normal"
    return {"state": state, "since": since if state == "anomaly" else None, "anomalies": n}


def _thin(t, series, most):
    """Indices to plot: all when there are at most ``most``, else per bucket the first, and each series' min and
    max (so a spike survives thinning)."""
    n = len(t)
    if n <= most:
        return list(range(n))
    buckets = most // 3
    keep = set()
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if lo >= hi:
            continue
        keep.add(lo)
        for vals in series.values():
            seg = [(v, i) for i, v in enumerate(vals[lo:hi], lo) if v is not None]
            if seg:
                keep.add(min(seg)[1])
                keep.add(max(seg)[1])
    return sorted(keep)

