"""The Wi-Fi station a virtual board's ``network.WLAN`` talks to: access points, connection time and failures from
the scenario, on the board's virtual clock.

Scenario (``scenario["wifi"]``, every key optional)::

    {"aps": [{"ssid": "lab", "key": "secret", "rssi": -58, "channel": 6, "security": 3}],
     "connect_ms": 1500, "fail": null | "no_ap" | "wrong_password" | "assoc_fail" | "handshake_timeout"
     | "beacon_timeout", "ip": "192.168.4.23"}

Status codes are the ESP32 port's (``network.STAT_*``). ``connect`` returns at once and the status moves from
STAT_CONNECTING to STAT_GOT_IP (or a failure) after ``connect_ms`` of virtual time, as on the chip, where
``connect`` only starts the association.
"""

STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010
FAILS = {"beacon_timeout": 200, "no_ap": 201, "wrong_password": 202, "assoc_fail": 203, "handshake_timeout": 204}
DEFAULT_APS = [{"ssid": "fieldnode-lab", "key": "fieldnode", "rssi": -58, "channel": 6, "security": 3}]


class WifiModel:
    def __init__(self, mac: bytes, scenario: dict | None = None, on_state=None):
        sc = scenario or {}
        self.aps = sc.get("aps", DEFAULT_APS)
        self.connect_ms = int(sc.get("connect_ms", 1500))
        self.fail = sc.get("fail")
        if self.fail is not None and self.fail not in FAILS:
            raise ValueError(f"wifi.fail {self.fail!r} is not one of {sorted(FAILS)}")
        self.ip = sc.get("ip", "192.168.4.23")
        self.mac = mac
        self.on_state = on_state or (lambda state, now: None)
        self.reset()

    def reset(self):
        """What a reset does: the radio is off and forgets the association."""
        self.active = [False, False]
        self.target = None  # (ssid, key, started_ms)
        self.result = STAT_IDLE
        self.static = None
        self._ssid = None
        self.conf = {"hostname": "esp32", "reconnects": -1, "txpower": 20, "pm": 1}

    def _ap(self, ssid):
        return next((a for a in self.aps if a["ssid"] == ssid), None)

    def status(self, now: int) -> int:
        if self.target is None:
            return self.result
        ssid, key, t0 = self.target
        if now - t0 < self.connect_ms:
            return STAT_CONNECTING
        ap = self._ap(ssid)
        if self.fail:
            code = FAILS[self.fail]
        elif ap is None:
            code = FAILS["no_ap"]
        elif ap.get("security", 3) and (ap.get("key") or "") != (key or ""):
            code = FAILS["wrong_password"]
        else:
            code = STAT_GOT_IP
        self.result = code
        self._ssid = ssid
        self.target = None
        self.on_state("connected" if code == STAT_GOT_IP else "off", t0 + self.connect_ms)
        return code

    def handle(self, req: dict, now: int):
        op, ifc = req.get("op"), int(req.get("ifc", 0))
        if op == "active":
            if "on" not in req:
                return self.active[ifc]
            self.active[ifc] = req["on"]
            if not req["on"] and ifc == 0:
                self.target, self.result = None, STAT_IDLE
                self.on_state("off", now)
            return None
        if op in ("connect", "scan", "disconnect") and not self.active[ifc]:
            return {"error": "Wifi Not Started"}  # ESP_ERR_WIFI_NOT_STARTED, as the port reports it
        if op == "scan":
            return [[a["ssid"], self._bssid(i), a.get("channel", 1), a.get("rssi", -70), a.get("security", 3), False]
                    for i, a in enumerate(self.aps)]
        if op == "connect":
            ssid = req.get("ssid") or (self.target or (None,))[0]
            if not ssid:
                return {"error": "Wifi Invalid Argument"}
            self.target = (ssid, req.get("key"), now)
            self.result = STAT_CONNECTING
            self.on_state("connecting", now)
            return None
        if op == "disconnect":
            self.target, self.result = None, STAT_IDLE
            self.on_state("off", now)
            return None
        if op == "status":
            return self.status(now)
        if op == "rssi":
            if self.status(now) != STAT_GOT_IP:
                return {"error": "Wifi Not Connected"}
            return self._connected_ap().get("rssi", -70)
        if op == "ifconfig":
            if "set" in req:
                self.static = req["set"]
                return None
            if self.static:
                return self.static
            if self.status(now) == STAT_GOT_IP:
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
        if self.result == STAT_GOT_IP and self._ssid:
            return self._ap(self._ssid) or {}
        return {}

    def _bssid(self, i):
        return bytes([0x24, 0x0A, 0xC4, 0x10, 0x20, i & 0xFF]).hex()
