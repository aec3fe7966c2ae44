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
