# network for the virtual board: the ESP32 port's network.WLAN (docs.micropython.org, library/network.WLAN.html
# and esp32/quickref.html "Networking"). The access points, the time a connection takes and its failures come
# from the simulator's scenario; once connected, the firmware's sockets reach the host over loopback.
import _hwbus
import json

STA_IF = 0
AP_IF = 1

# wlan.status() codes of the ESP32 port (ports/esp32/network_wlan.c: WIFI_REASON_* and the port's own)
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204

AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
AUTH_WPA2_ENTERPRISE = 5
AUTH_WPA3_PSK = 6
AUTH_WPA2_WPA3_PSK = 7

PHY_LAN8720 = 0
MODE_11B = 1
MODE_11G = 2
MODE_11N = 4

_hostname = "esp32"


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


def country(code=None):
    return "01" if code is None else None


def _req(**kw):
    r = json.loads(_hwbus.call(_hwbus.WLAN, json.dumps(kw).encode()))
    if isinstance(r, dict) and "error" in r:
        raise OSError(r["error"])
    return r


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface_id=STA_IF):
        self._if = interface_id

    def active(self, is_active=None):
        if is_active is None:
            return _req(op="active", ifc=self._if)
        _req(op="active", ifc=self._if, on=bool(is_active))
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        _req(op="connect", ifc=self._if, ssid=ssid, key=key)

    def disconnect(self):
        _req(op="disconnect", ifc=self._if)

    def scan(self):
        return [(a[0].encode(), bytes.fromhex(a[1]), a[2], a[3], a[4], a[5]) for a in _req(op="scan", ifc=self._if)]

    def isconnected(self):
        return _req(op="status", ifc=self._if) == STAT_GOT_IP

    def status(self, param=None):
        if param is None:
            return _req(op="status", ifc=self._if)
        if param == "rssi":
            return _req(op="rssi", ifc=self._if)
        if param == "stations":
            return []
        raise ValueError("unknown status param")

    def ifconfig(self, config=None):
        if config is None:
            return tuple(_req(op="ifconfig", ifc=self._if))
        _req(op="ifconfig", ifc=self._if, set=list(config))

    def ipconfig(self, *args, **kw):
        if args and args[0] == "addr4":
            c = self.ifconfig()
            return (c[0], c[1])
        return None

    def config(self, *args, **kw):
        if kw:
            _req(op="config", ifc=self._if, set=kw)
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        v = _req(op="config", ifc=self._if, get=args[0])
        if args[0] == "mac":
            return bytes.fromhex(v)
        return v
