# Wi-Fi behind the same link interface as the modems (net/link.py), over network.WLAN and sockets.
#
#     from net.wifi import WiFi
#     link = WiFi({"ssid": "field-ap", "key": "secret", "endpoint": "192.168.1.10:23080"})
#     if link.up(15000):
#         print(link.send(b"hello", 3000))
#     link.down()
#
# network.WLAN as the ESP32 port documents it (docs.micropython.org, "network.WLAN"): active(), connect(ssid, key),
# isconnected(), status() and status("rssi"), ifconfig(). A WLAN object may be injected (tests, a shared radio).
import socket
import time
from micropython import const

from net import link as L

_POLL = const(100)  # ms between isconnected() checks while associating

# network.STAT_* failure codes of the ESP32 port (ESP-IDF reasons): what each means for a technician
_STAT_TEXT = {200: "beacon timeout (access point out of range)", 201: "no access point with that SSID",
              202: "wrong Wi-Fi password", 203: "association failed", 204: "handshake timeout (wrong password?)"}


class WiFi(L.Link):
    MODEL = "wifi"

    def __init__(self, cfg=None, wlan=None):
        cfg = dict(cfg or {})
        self.ssid = cfg.pop("ssid", None)
        self.key = cfg.pop("key", "")
        L.Link.__init__(self, cfg)
        if not isinstance(self.ssid, str) or not self.ssid:
            raise ValueError('link config: Wi-Fi needs "ssid" (the access point name), e.g. {"ssid": "field-ap"}')
        self.host, self.port = L.endpoint(self.cfg["endpoint"])
        self.wlan = wlan
        self.addr = None
        self.s = None

    def _wlan(self):
        if self.wlan is None:
            import network

            self.wlan = network.WLAN(network.STA_IF)
        return self.wlan

    def up(self, deadline_ms):
        dl = time.ticks_add(time.ticks_ms(), deadline_ms)
        self.last_error = None
        w = self._wlan()
        try:
            w.active(True)
            if not w.isconnected():
                w.connect(self.ssid, self.key)
            while not w.isconnected():
                st = w.status()
                if st in _STAT_TEXT:
                    return self._fail("Wi-Fi: %s (%s)" % (_STAT_TEXT[st], self.ssid))
                left = time.ticks_diff(dl, time.ticks_ms())
                if left <= 0:
                    return self._fail("Wi-Fi: not connected to %s before the deadline" % self.ssid)
                time.sleep_ms(min(_POLL, left))
            self.addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        except OSError as e:
            return self._fail("Wi-Fi: %s" % e)
        return True

    def _socket(self, timeout_ms):
        if self.s is None:
            tcp = self.cfg["transport"] == "tcp"
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
            s.settimeout(timeout_ms / 1000)
            s.connect(self.addr)
            self.s = s
        self.s.settimeout(timeout_ms / 1000)
        return self.s

    def send(self, data, reply_timeout_ms=5000):
        if self.addr is None:
            self._fail("link is down: call up() first")
            return None
        try:
            s = self._socket(reply_timeout_ms)
            s.send(data)
            reply = s.recv(1500)
            if not reply:
                raise OSError("connection closed by the collector")
            return reply
        except OSError as e:
            self._fail("send failed: %s" % e)
            self._close()
            return None

    def _close(self):
        if self.s is not None:
            try:
                self.s.close()
            except OSError:
                pass
            self.s = None

    def down(self, psm=True):
        # Wi-Fi has no PSM: the radio is switched off (the ESP32's modem-sleep is the port's business).
        self._close()
        if self.wlan is not None:
            self.wlan.active(False)
        self.addr = None

    def info(self):
        d = L.Link.info(self)
        w = self.wlan
        d["model"] = self.MODEL
        d["ssid"] = self.ssid
        d["last_error"] = self.last_error
        d["dbm"] = None
        d["ip"] = None
        if w is not None and w.isconnected():
            try:
                d["dbm"] = w.status("rssi")
                d["ip"] = w.ifconfig()[0]
            except (OSError, ValueError, TypeError):
                pass
        d["registration"] = "connected" if d["ip"] else "not connected"
        return d
