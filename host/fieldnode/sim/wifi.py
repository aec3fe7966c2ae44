"""The Wi-Fi station a virtual board's ``network.WLAN`` talks to: access points, association time, failures and
outages from the scenario, on the board's virtual clock.

Scenario (``scenario["wifi"]``, every key optional)::

    {"aps": [{"ssid": "lab", "key": "secret", "rssi": -58, "channel": 6, "security": 3}],
     "connect_ms": 1500, "fail": null | "no_ap" | "wrong_password" | "assoc_fail" | "handshake_timeout"
     | "beacon_timeout", "ip": "192.168.4.23", "outages": [[start_ms, end_ms], ...], "beacon_timeout_ms": 6000}

``outages`` are windows (ms after the board was created) when no access point is in range; ``outage()`` adds one at
absolute virtual times. ``fail`` forces every association attempt to fail that way while it is set.

What the station does follows the ESP32 port (ports/esp32/network_wlan.c) and ESP-IDF:

* ``connect()`` only starts the association; it takes ``connect_ms`` and ends in STAT_GOT_IP or a failure. After a
  failure the port asks ESP-IDF to connect again, forever by default (docs.micropython.org, esp32 quickref
  "Networking": "the device will by default retry to connect forever"; ``config(reconnects=n)`` limits it to n
  more attempts). ``status()`` says STAT_NO_AP_FOUND and STAT_WRONG_PASSWORD even while it retries, other failures
  read STAT_CONNECTING until the retries run out; ``disconnect()`` reads STAT_IDLE.
* An access point going out of range stops its beacons: the station still counts as connected (``isconnected()``,
  an address) until the beacon timeout, 6 s by default (ESP-IDF ``esp_wifi_set_inactive_time``: "if the station
  does not receive a beacon frame from the connected SoftAP during the inactive time, disconnect"), then it
  disconnects (reason 200, beacon timeout) and retries until the access point is back.
* ``link(now)`` is what the board's sockets see: "up" (associated, address, access point in range), "lost" (the
  station has not noticed yet that beacons stopped: frames go nowhere) or "down" (no association: lwIP has no route,
  see ``sim/mpy/socket.py``).

One difference is kept on purpose: a new ``connect()`` clears the last failure (the port keeps reporting it until an
association succeeds), so a status read right after it says STAT_CONNECTING.
"""

STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010
FAILS = {"beacon_timeout": 200, "no_ap": 201, "wrong_password": 202, "assoc_fail": 203, "handshake_timeout": 204}
NO_AP, WRONG_PASSWORD, BEACON_TIMEOUT = FAILS["no_ap"], FAILS["wrong_password"], FAILS["beacon_timeout"]
ASSOC_LEAVE = 8  # WIFI_REASON_ASSOC_LEAVE: what ESP-IDF reports after esp_wifi_disconnect()
CONNECTION_FAIL = 205  # WIFI_REASON_CONNECTION_FAIL: the port reports it as a wrong password too
BEACON_TIMEOUT_MS = 6000
DEFAULT_APS = [{"ssid": "fieldnode-lab", "key": "fieldnode", "rssi": -58, "channel": 6, "security": 3}]


class WifiModel:
    def __init__(self, mac: bytes, scenario: dict | None = None, on_state=None, now_ms: int = 0):
        sc = scenario or {}
        self.aps = sc.get("aps", DEFAULT_APS)
        self.connect_ms = int(sc.get("connect_ms", 1500))
        if self.connect_ms <= 0:
            raise ValueError("wifi.connect_ms must be a positive number of milliseconds")
        self.fail = sc.get("fail")
        if self.fail is not None and self.fail not in FAILS:
            raise ValueError(f"wifi.fail {self.fail!r} is not one of {sorted(FAILS)}")
        self.ip = sc.get("ip", "192.168.4.23")
        self.beacon_timeout_ms = int(sc.get("beacon_timeout_ms", BEACON_TIMEOUT_MS))
        self.outages: list[tuple[int, int, str | None]] = []
        for o in sc.get("outages", []):
            if not (isinstance(o, (list, tuple)) and len(o) == 2 and 0 <= o[0] <= o[1]):
                raise ValueError("wifi.outages must be a list of [start_ms, end_ms] windows (ms after the board "
                                 "was created), e.g. [[60000, 120000]]")
            self.outage(now_ms + int(o[0]), now_ms + int(o[1]))
        self.mac = mac
        self.on_state = on_state or (lambda state, now: None)
        self.reset()

    def reset(self, now: int | None = None):
        """What a reset does: the radio is off and forgets the association (``now``: record what happened before)."""
        if now is not None:
            self._run(now)
        self.active = [False, False]
        self.want = None  # (ssid, key): connect() asked for this access point
        self.phase = "idle"  # idle | trying (an attempt started at self.t) | connected (since self.t)
        self.t = 0
        self.reason = 0  # the last disconnection reason, 0 for none (the port's wifi_sta_disconn_reason)
        self.tries = 0  # failed attempts since connect()
        self.static = None
        self._ssid = None
        self._seen = 0  # connected: outages before this time were already weathered
        self.conf = {"hostname": "esp32", "reconnects": -1, "txpower": 20, "pm": 1}

    # -- access points and outages ----------------------------------------------------------------------------
    def outage(self, start_ms: int, end_ms: int, ssid: str | None = None):
        """No access point (or only ``ssid``) is in range from ``start_ms`` to ``end_ms`` (virtual time)."""
        if end_ms < start_ms:
            raise ValueError("an outage ends after it starts")
        self.outages.append((int(start_ms), int(end_ms), ssid))
        self.outages.sort(key=lambda o: o[0])

    def _ap(self, ssid):
        return next((a for a in self.aps if a["ssid"] == ssid), None)

    def in_range(self, ssid, t: int) -> bool:
        return not any(a <= t < b and s in (None, ssid) for a, b, s in self.outages)

    def _next_boundary(self, ssid, t: int):
        """The first time after ``t`` at which ``ssid`` comes into or goes out of range (None: never again)."""
        times = [x for a, b, s in self.outages if s in (None, ssid) for x in (a, b) if x > t]
        return min(times) if times else None

    def _back_in_range(self, ssid, t: int) -> int:
        """``t`` or, when an outage covers it, the end of the outages that overlap from there."""
        while True:
            end = max((b for a, b, s in self.outages if s in (None, ssid) and a <= t < b), default=None)
            if end is None:
                return t
            t = end

    def _attempt(self, ssid, key, t: int) -> int:
        """How an association attempt that ends at ``t`` ends: STAT_GOT_IP or a disconnection reason."""
        if self.fail:
            return FAILS[self.fail]
        ap = self._ap(ssid)
        if ap is None or not self.in_range(ssid, t):
            return NO_AP
        if ap.get("security", 3) and (ap.get("key") or "") != (key or ""):
            return WRONG_PASSWORD
        return STAT_GOT_IP

    # -- the station over time ------------------------------------------------------------------------------------
    def _retries_left(self) -> bool:
        n = int(self.conf.get("reconnects", -1))
        return n < 0 or self.tries <= n

    def _run(self, now: int):
        """Play the station's events up to ``now``: attempts ending, retries, beacons lost, reconnections."""
        while self.active[0] and self.want is not None:
            ssid, key = self.want
            if self.phase == "trying":
                done = self.t + self.connect_ms
                if done > now:
                    return
                code = self._attempt(ssid, key, done)
                if code == STAT_GOT_IP:
                    self.phase, self.t, self.reason, self._ssid, self._seen = "connected", done, 0, ssid, done
                    self.on_state("connected", done)
                    continue
                self.reason, self.tries = code, self.tries + 1
                if not self._retries_left():
                    self.phase = "idle"
                    self.on_state("off", done)
                    return
                # The port connects again at once; attempts that cannot end differently are skipped in one step.
                self.t = done
                skip = self._skippable(ssid, done, now)
                if skip:
                    self.t += skip * self.connect_ms
                    self.tries += skip
                continue
            if self.phase == "connected":
                o = next((o for o in self.outages if o[2] in (None, ssid) and o[1] > self._seen), None)
                if o is None or max(o[0], self._seen) > now:
                    return
                lost, back = max(o[0], self._seen), self._back_in_range(ssid, o[1])
                gone = lost + self.beacon_timeout_ms
                if back <= gone:
                    self._seen = back  # beacons came back in time: still associated
                    continue
                if gone > now:
                    return
                self.phase, self.t, self.reason, self.tries = "trying", gone, BEACON_TIMEOUT, 0
                self.on_state("connecting", gone)
                continue
            return

    def _skippable(self, ssid, start: int, now: int) -> int:
        """How many attempts from ``start`` on end before ``now`` the way the last one did (nothing changes for them:
        no outage starts or ends, ``fail`` stays). Bounded by the reconnects left."""
        horizon = now
        nb = self._next_boundary(ssid, start)
        if nb is not None:
            horizon = min(horizon, nb)
        n = max(0, (horizon - start) // self.connect_ms - 1)
        limit = int(self.conf.get("reconnects", -1))
        if limit >= 0:
            n = min(n, max(0, limit - self.tries))
        return n

    def status(self, now: int) -> int:
        self._run(now)
        if self.phase == "connected":
            return STAT_GOT_IP
        r = self.reason
        if r == NO_AP:
            return NO_AP
        if r in (WRONG_PASSWORD, CONNECTION_FAIL):
            return WRONG_PASSWORD
        if r == ASSOC_LEAVE:
            return STAT_IDLE
        if self.phase == "trying":
            return STAT_CONNECTING
        return r or STAT_IDLE

    def link(self, now: int) -> str:
        """What the board's sockets see: "up", "lost" (associated, but the access point is out of range) or "down"."""
        self._run(now)
        if self.phase != "connected":
            return "down"
        return "up" if self.in_range(self._ssid, now) else "lost"

    def handle(self, req: dict, now: int):
        op, ifc = req.get("op"), int(req.get("ifc", 0))
        self._run(now)
        if op == "link":
            return self.link(now)
        if op == "active":
            if "on" not in req:
                return self.active[ifc]
            was = self.active[ifc]
            self.active[ifc] = req["on"]
            if not req["on"] and ifc == 0 and was:
                self.want, self.phase, self.reason, self.tries = None, "idle", 0, 0
                self.on_state("off", now)
            return None
        if op in ("connect", "scan", "disconnect") and not self.active[ifc]:
            return {"error": "Wifi Not Started"}  # ESP_ERR_WIFI_NOT_STARTED, as the port reports it
        if op == "scan":
            return [[a["ssid"], self._bssid(i), a.get("channel", 1), a.get("rssi", -70), a.get("security", 3), False]
                    for i, a in enumerate(self.aps) if self.in_range(a["ssid"], now)]
        if op == "connect":
            ssid = req.get("ssid") or (self.want or (None,))[0]
            if not ssid:
                return {"error": "Wifi Invalid Argument"}
            key = req.get("key") if req.get("ssid") else (self.want or (None, None))[1]
            self.want, self.phase, self.t, self.reason, self.tries = (ssid, key), "trying", now, 0, 0
            self.on_state("connecting", now)
            return None
        if op == "disconnect":
            if self.phase != "idle" or self.want is not None:
                self.on_state("off", now)
            self.want, self.phase, self.reason, self.tries = None, "idle", ASSOC_LEAVE, 0
            return None
        if op == "status":
            return self.status(now)
        if op == "rssi":
            if self.phase != "connected":
                return {"error": "Wifi Not Connected"}
            return self._connected_ap().get("rssi", -70)
        if op == "ifconfig":
            if "set" in req:
                self.static = req["set"]
                return None
            if self.static:
                return self.static
            if self.phase == "connected":
                gw = self.ip.rsplit(".", 1)[0] + ".1"
                return [self.ip, "255.255.255.0", gw, gw]
            return ["0.0.0.0"] * 4
        if op == "config":
            if "set" in req:
                self.conf.update(req["set"])
                return None
            key = req.get("get")
            if key == "mac":
                return (self.mac[:5] + bytes([(self.mac[5] + ifc) & 0xFF])).hex()
            if key in ("ssid", "essid"):
                ap = self._connected_ap()
                return ap.get("ssid", "") if ap else ""
            if key == "channel":
                ap = self._connected_ap()
                return ap.get("channel", 1) if ap else 1
            if key in ("security", "authmode"):
                ap = self._connected_ap()
                return ap.get("security", 0) if ap else 0
            if key == "hidden":
                return False
            if key in self.conf:
                return self.conf[key]
            return {"error": "unknown config param"}
        return {"error": f"unsupported WLAN request {op}"}

    def _connected_ap(self):
        if self.phase == "connected" and self._ssid:
            return self._ap(self._ssid) or {}
        return {}

    def _bssid(self, i):
        return bytes([0x24, 0x0A, 0xC4, 0x10, 0x20, i & 0xFF]).hex()
