"""The Wi-Fi link (firmware/net/wifi.py) under the MicroPython runtime: a WLAN stand-in with the ESP32 port's
status codes, real UDP/TCP to an ack server on 127.0.0.1."""

import json
import socketserver
import threading

import pytest
from conftest import run_mpy

FAKE_WLAN = """
class WLAN:
    # network.WLAN(STA_IF) as the ESP32 port behaves: connect() starts association, status() says how it goes.
    def __init__(self, password, polls):
        self.password, self.polls, self.on, self.ok, self.st = password, polls, False, False, 1000
    def active(self, v=None):
        if v is not None:
            self.on = v
            if not v:
                self.ok = False
        return self.on
    def connect(self, ssid, key):
        self.st = 1001 if key == self.password else 202
    def isconnected(self):
        if self.st == 1001:
            self.polls -= 1
            if self.polls <= 0:
                self.ok, self.st = True, 1010
        return self.ok
    def status(self, what=None):
        return -61 if what == 'rssi' else self.st
    def ifconfig(self):
        return ('192.168.4.2', '255.255.255.0', '192.168.4.1', '192.168.4.1')
"""


class _Ack(socketserver.BaseRequestHandler):
    def handle(self):
        if isinstance(self.request, tuple):
            data, sock = self.request
            sock.sendto(b"ACK:" + data, self.client_address)
        else:
            data = self.request.recv(2048)
            self.request.sendall(b"ACK:" + data)


@pytest.fixture(scope="module")
def servers():
    u = socketserver.UDPServer(("127.0.0.1", 0), _Ack)
    t = socketserver.TCPServer(("127.0.0.1", 0), _Ack)
    for s in (u, t):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield {"udp": u.server_address[1], "tcp": t.server_address[1]}
    for s in (u, t):
        s.shutdown()
        s.server_close()


def _run(body, cfg, password="secret", polls=3):
    code = FAKE_WLAN + f"""
import json, time
from net.wifi import WiFi
w = WLAN({password!r}, {polls})
link = WiFi(json.loads({json.dumps(json.dumps(cfg))}), wlan=w)
def out(**kw):
    print(json.dumps(kw))
{body}
"""
    return [json.loads(x) for x in run_mpy(code).check().splitlines() if x.startswith("{")]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_wifi_up_send_down(servers, transport):
    cfg = {"ssid": "field-ap", "key": "secret", "endpoint": f"127.0.0.1:{servers[transport]}",
           "transport": transport}
    res = _run("""
out(up=link.up(5000), err=link.last_error)
out(reply=str(link.send(b'hello', 2000)), info=link.info())
link.down()
out(on=w.active())
""", cfg)
    assert res[0] == {"up": True, "err": None}
    assert res[1]["reply"] == "b'ACK:hello'"
    assert res[1]["info"]["dbm"] == -61 and res[1]["info"]["ip"] == "192.168.4.2"
    assert res[2]["on"] is False


def test_wifi_wrong_password_is_said_plainly(servers):
    cfg = {"ssid": "field-ap", "key": "nope", "endpoint": f"127.0.0.1:{servers['udp']}"}
    res = _run("out(up=link.up(5000), err=link.last_error)", cfg)
    assert res[0] == {"up": False, "err": "Wi-Fi: wrong Wi-Fi password (field-ap)"}


def test_wifi_never_waits_past_the_deadline(servers):
    cfg = {"ssid": "field-ap", "key": "secret", "endpoint": "127.0.0.1:9"}
    res = _run("""
t = time.ticks_ms()
out(up=link.up(300), err=link.last_error, ms=time.ticks_diff(time.ticks_ms(), t))
""", cfg, polls=1000)
    assert res[0]["up"] is False and "before the deadline" in res[0]["err"] and res[0]["ms"] < 600


def test_wifi_config_errors():
    res = _run("", {"ssid": "x"})
    assert res == []
    code = FAKE_WLAN + "from net.wifi import WiFi\ntry:\n    WiFi({})\nexcept ValueError as e:\n    print(e)"
    assert "needs \"ssid\"" in run_mpy(code).check()


# -- the same link on a virtual board: network.WLAN and socket as the ESP32 port has them (sim/mpy) ----------------
BOARD_MAIN = """
import errno, json, network, socket, time
from net.wifi import WiFi
def out(**kw):
    print(json.dumps(kw))
def err(e):
    return errno.errorcode.get(e.args[0], e.args[0])
addr = socket.getaddrinfo('127.0.0.1', PORT)[0][-1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t = socket.socket()
for name, call in (('udp', lambda: u.sendto(b'early', addr)), ('tcp', lambda: t.connect(addr)),
                   ('dns', lambda: socket.getaddrinfo('collector.example', 80))):
    try:
        call()
        out(early=name, got='passed')
    except OSError as e:
        out(early=name, got=err(e))
u.close()
t.close()
cfg = {"ssid": "farm", "key": "pw", "endpoint": "127.0.0.1:PORT"}
for name, c in (('wrong', dict(cfg, key='nope')), ('absent', dict(cfg, ssid='elsewhere'))):
    w = WiFi(c)
    out(fail=name, up=w.up(10000), err=w.last_error)
    w.down()
link = WiFi(cfg)
t0 = time.ticks_ms()
out(up=link.up(10000), ms=time.ticks_diff(time.ticks_ms(), t0))
out(reply=str(link.send(b'one', 2000)))
sta = network.WLAN(network.STA_IF)
time.sleep_ms(1000)  # the access point is out of range from 6.5 s: beacons stop, the station does not know yet
out(lost=str(link.send(b'two', 1000)), err=link.last_error, connected=sta.isconnected())
time.sleep_ms(7000)  # past the 6 s beacon timeout: disconnected, retrying
out(down=str(link.send(b'three', 1000)), err=link.last_error, connected=sta.isconnected(), status=sta.status())
time.sleep_ms(7000)  # the access point is back at 20 s: the port reconnected by itself
out(back=str(link.send(b'four', 2000)), connected=sta.isconnected())
link.down()
"""


def test_wifi_link_on_a_virtual_board_passes_traffic_only_while_associated(servers, tmp_path):
    from fieldnode.paths import FIRMWARE
    from fieldnode.sim.board import VirtualBoard

    sc = {"wifi": {"aps": [{"ssid": "farm", "key": "pw", "rssi": -61, "channel": 11, "security": 3}],
                   "connect_ms": 2000, "outages": [[6500, 20000]]}}
    b = VirtualBoard("esp32-c3-devkitm", flash_dir=tmp_path, scenario=sc)
    try:
        files = {f"net/{n}": (FIRMWARE / "net" / n).read_text() for n in ("link.py", "wifi.py")}
        b.put_files(dict(files, **{"main.py": BOARD_MAIN.replace("PORT", str(servers["udp"]))}))
        c = b.run_cycle(timeout_s=30)
    finally:
        b.close()
    assert c.end == "exit", c.output
    res = [json.loads(x) for x in c.output.splitlines() if x.startswith("{")]
    early = {r["early"]: r["got"] for r in res if "early" in r}
    # no association: lwIP has no route, no DNS (the ESP32's EHOSTUNREACH; -202 from getaddrinfo)
    assert early == {"udp": "EHOSTUNREACH", "tcp": "EHOSTUNREACH", "dns": -202}
    fails = {r["fail"]: (r["up"], r["err"]) for r in res if "fail" in r}
    assert fails == {"wrong": (False, "Wi-Fi: wrong Wi-Fi password (farm)"),
                     "absent": (False, "Wi-Fi: no access point with that SSID (elsewhere)")}
    by = {k: r for r in res for k in ("up", "reply", "lost", "down", "back") if k in r and "fail" not in r}
    assert by["up"]["up"] is True and by["up"]["ms"] == 2000  # the association takes the scenario's 2 s
    assert by["reply"]["reply"] == "b'ACK:one'"
    # beacons gone, not yet noticed: still "connected", the datagram is lost and the reply never comes
    assert by["lost"]["lost"] == "None" and by["lost"]["connected"] is True
    assert "ETIMEDOUT" in by["lost"]["err"]
    # after the beacon timeout: disconnected, the port retrying and finding no access point
    assert by["down"]["down"] == "None" and "EHOSTUNREACH" in by["down"]["err"]
    assert by["down"]["connected"] is False and by["down"]["status"] == 201  # network.STAT_NO_AP_FOUND
    assert by["back"] == {"back": "b'ACK:four'", "connected": True}


def test_wifi_model_retries_beacon_loss_and_reconnect_limit():
    from fieldnode.sim.wifi import STAT_CONNECTING, STAT_GOT_IP, STAT_IDLE, WifiModel

    states = []
    m = WifiModel(b"\x24\x0a\xc4\x00\x00\x01", {"connect_ms": 1000}, on_state=lambda s, t: states.append((t, s)))
    m.outage(5000, 8000)  # shorter than the beacon timeout after it: the association survives
    m.outage(20000, 40000)  # longer: beacon timeout at 26 s, retries until the access point is back
    m.handle({"op": "active", "on": True}, 0)
    m.handle({"op": "connect", "ssid": "fieldnode-lab", "key": "fieldnode"}, 0)
    assert m.status(500) == STAT_CONNECTING and m.link(500) == "down"
    assert m.status(1000) == STAT_GOT_IP and m.link(1000) == "up"
    assert m.link(6000) == "lost" and m.status(13000) == STAT_GOT_IP and m.link(13000) == "up"
    assert m.link(25999) == "lost" and m.link(26000) == "down" and m.status(27000) == 201  # STAT_NO_AP_FOUND
    assert m.status(39000) == 201 and m.status(40000) == STAT_GOT_IP  # the attempt ending at 40 s finds it
    assert states == [(0, "connecting"), (1000, "connected"), (26000, "connecting"), (40000, "connected")]
    m.handle({"op": "disconnect"}, 41000)
    assert m.status(41000) == STAT_IDLE and m.link(41000) == "down"
    # config(reconnects=2): three attempts in all, then the reason and no more tries (ESP32: beacon timeouts and
    # association failures read STAT_CONNECTING only while attempts remain)
    m.fail = "assoc_fail"
    m.handle({"op": "config", "set": {"reconnects": 2}}, 50000)
    m.handle({"op": "connect", "ssid": "fieldnode-lab", "key": "fieldnode"}, 50000)
    assert m.status(52500) == STAT_CONNECTING and m.status(53000) == 203 and m.phase == "idle"
    m.fail = None
    assert m.status(90000) == 203  # it gave up: the access point being fine changes nothing until connect()
