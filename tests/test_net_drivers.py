"""Both cellular drivers (firmware/net) against both modem models (fieldnode.sim.modems) under the MicroPython
runtime, on virtual time, through every fault the issue lists; a real UDP/TCP ack server on 127.0.0.1 stands in for
the collector."""

import json
import socketserver
import threading

import pytest
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.modems import create
from fieldnode.sim.runtime import run

DRIVERS = {"sim7080g": ("sim7080g", "SIM7080G"), "bg95": ("bg9x", "BG9x"), "bg96": ("bg9x", "BG9x")}
PWRKEY = 4


class _UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        self.server.got.append(data)
        sock.sendto(b"ACK:" + data, self.client_address)


class _TCP(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(2048)
            if not data:
                return
            self.server.got.append(data)
            self.request.sendall(b"ACK:" + data)


@pytest.fixture(scope="module")
def collector():
    """UDP and TCP ack servers on one port number each: reply b'ACK:' + what came."""
    u = socketserver.UDPServer(("127.0.0.1", 0), _UDP)
    t = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TCP)
    t.daemon_threads = True
    for s in (u, t):
        s.got = []
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield {"udp": u, "tcp": t}
    for s in (u, t):
        s.shutdown()
        s.server_close()


class Board:
    """One virtual board: the modem model on UART 1, PWRKEY on GPIO 4, a power-state timeline."""

    def __init__(self, name, scenario, path):
        self.path = path
        self.clock = VirtualClock()
        self.modem = create(name, self.clock, scenario)
        self.power = []
        self.modem.on_power = lambda s: self.power.append((self.clock.now_ms() - self.modem.t0, s))
        self.bus = HwBus(self.clock, uart={1: self.modem},
                         on_pin=lambda p, v, t: self.modem.pwrkey(v, t) if p == PWRKEY else None)
        self.mod, self.cls = DRIVERS[name]

    def run(self, body, cfg=None):
        """Run firmware code with `link` built; every line it prints as JSON comes back parsed."""
        code = f"""
import machine, time, json
from net.{self.mod} import {self.cls}
link = {self.cls}(machine.UART(1, 115200), json.loads({json.dumps(json.dumps(cfg or {}))}),
                  pwrkey=machine.Pin({PWRKEY}, machine.Pin.OUT))
def out(**kw):
    print(json.dumps(kw))
def timed_up(ms):
    t0 = time.ticks_ms()
    ok = link.up(ms)
    out(up=ok, err=link.last_error, ms=time.ticks_diff(time.ticks_ms(), t0))
    return ok
{body}
"""
        r = run(code, bus=self.bus, timeout=60, extra_path=[self.path])
        if r.rc != 0:
            pytest.fail(f"MicroPython exited {r.rc}\n{r.out}\n{r.err}")
        return [json.loads(x) for x in r.out.splitlines() if x.startswith("{")]

    def close(self):
        self.bus.close()


@pytest.fixture
def board(collector, compiled):
    made = []

    def make(name, scenario=None, transport="udp"):
        sc = dict(scenario or {})
        sc.setdefault("power", "off")
        port = collector[transport].server_address[1]
        sc.setdefault("dns", {"uni.soracom.io": f"127.0.0.1:{port}"})
        b = Board(name, sc, compiled)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


MODELS = ["sim7080g", "bg95"]


@pytest.mark.parametrize("name", MODELS + ["bg96"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_up_send_down_reaches_the_collector(board, collector, name, transport):
    b = board(name, transport=transport)
    res = b.run("""
timed_up(120000)
out(reply=str(link.send(b'rec-1', 5000)), info=link.info())
out(reply=str(link.send(b'rec-2', 5000)))
link.down(psm=False)
out(err=link.last_error)
""", {"transport": transport})
    assert res[0]["up"] is True and res[0]["err"] is None
    assert res[0]["ms"] >= 6000  # the first attach takes the scenario's attach time on the virtual clock
    assert res[1]["reply"] == "b'ACK:rec-1'" and res[2]["reply"] == "b'ACK:rec-2'"
    info = res[1]["info"]
    assert info["imsi"] == "440103123456789" and info["imei"] == "866123045678901"
    assert info["iccid"] == "8981100000123456789" and info["registration"] == "roaming"
    assert info["dbm"] == -83 and info["operator"] == "NTT DOCOMO"
    assert info["psm"] == {"active_s": 60, "tau_s": 3600, "t3324": "00011110", "t3412": "00000110"}
    assert "searching" in info["history"] and info["history"][-1] == "roaming"
    assert b"rec-1" in collector[transport].got and b"rec-2" in collector[transport].got
    assert res[3]["err"] is None
    states = [s for _, s in b.power]
    assert states[0] == "off" and "tx" in states and "connected" in states and states[-1] == "off"


def test_reply_bytes_are_exact(board):
    b = board("bg95")
    res = b.run("timed_up(60000)\nr = link.send(bytes(range(200)), 5000)\nout(ok=r == b'ACK:' + bytes(range(200)))")
    assert res[1]["ok"] is True


@pytest.mark.parametrize("name", MODELS)
def test_no_sim(board, name):
    res = board(name, {"sim": {"present": False}}).run("timed_up(60000)")
    assert res[0]["up"] is False and "no SIM" in res[0]["err"]


@pytest.mark.parametrize("name", MODELS)
def test_registration_denied(board, name):
    res = board(name, {"network": {"registration": "denied"}}).run("timed_up(60000)\nout(info=link.info())")
    assert res[0]["up"] is False and "denied" in res[0]["err"]
    assert res[1]["info"]["history"][-1] == "denied"


@pytest.mark.parametrize("name", MODELS)
def test_hours_without_coverage_never_block_past_the_deadline(board, name):
    b = board(name, {"network": {"outages": [[0, 3 * 3600_000]]}})
    res = b.run("timed_up(45000)\nout(info=link.info())")
    assert res[0]["up"] is False and "not registered" in res[0]["err"] and "signal none" in res[0]["err"]
    assert res[0]["ms"] <= 45000
    assert res[1]["info"]["history"] == ["searching"]


@pytest.mark.parametrize("name", MODELS)
def test_slow_first_attach(board, name):
    res = board(name, {"network": {"attach_ms": 95000}}).run("timed_up(120000)")
    assert res[0]["up"] is True and 95000 <= res[0]["ms"] <= 120000


@pytest.mark.parametrize("name", MODELS)
def test_cme_error_on_an_optional_and_on_an_essential_command(board, name):
    sc = {"faults": [{"kind": "cme_error", "match": "AT+CSQ", "code": 100}]}
    assert board(name, sc).run("timed_up(60000)")[0]["up"] is True
    sc = {"faults": [{"kind": "cme_error", "match": "AT+CGDCONT", "code": 4}]}
    res = board(name, sc).run("timed_up(60000)")
    assert res[0]["up"] is False and "+CME ERROR: 4" in res[0]["err"]


@pytest.mark.parametrize("name", MODELS)
def test_missing_replies_and_garbage_are_survived(board, name):
    sc = {"faults": [{"kind": "no_reply", "match": "AT+CEREG?"}, {"kind": "no_reply", "match": "AT+CIMI"},
                     {"kind": "no_reply", "match": "AT+CGDCONT"},
                     {"kind": "garbage", "match": "AT+CIMI", "data": "\x00\xff\xfe#%\r\n+CIMI??\r\nOKAY"},
                     {"kind": "garbage", "match": "AT+CPIN?", "data": "x" * 600}]}
    res = board(name, sc).run("timed_up(60000)\nout(reply=str(link.send(b'x', 5000)), info=link.info())")
    assert res[0]["up"] is True
    assert res[1]["reply"] == "b'ACK:x'" and res[1]["info"]["imsi"] == "440103123456789"


@pytest.mark.parametrize("name", MODELS)
def test_a_modem_that_never_answers(board, name):
    b = board(name, {"faults": [{"kind": "no_reply", "match": "AT", "times": None}]})
    res = b.run("timed_up(20000)")
    assert res[0]["up"] is False and "does not answer" in res[0]["err"] and res[0]["ms"] <= 20000


@pytest.mark.parametrize("name", MODELS)
def test_reset_mid_send_then_up_again(board, collector, name):
    match = "AT+CASEND" if name == "sim7080g" else "AT+QISEND"
    b = board(name, {"faults": [{"kind": "reset", "match": match}]})
    res = b.run("""
timed_up(60000)
out(reply=str(link.send(b'lost', 5000)), err=link.last_error)
out(reply=str(link.send(b'x', 5000)), err=link.last_error)
timed_up(60000)
out(reply=str(link.send(b'again', 5000)), err=link.last_error)
""")
    assert res[1]["reply"] == "None" and "restarted" in res[1]["err"]
    assert res[2]["reply"] == "None" and "call up()" in res[2]["err"]
    assert res[3]["up"] is True
    assert res[4]["reply"] == "b'ACK:again'"


@pytest.mark.parametrize("name", MODELS)
def test_socket_closed_by_the_network(board, name):
    b = board(name, {"faults": [{"kind": "socket_closed", "after_sends": 1}]})
    res = b.run("""
timed_up(60000)
out(reply=str(link.send(b'one', 3000)), sock=link.sock)
out(reply=str(link.send(b'two', 3000)))
""")
    assert res[1]["reply"] == "None" and res[1]["sock"] is False
    assert res[2]["reply"] == "b'ACK:two'"


@pytest.mark.parametrize("name", MODELS)
def test_apn_refused(board, name):
    res = board(name, {"network": {"apn": "soracom.io"}}).run("timed_up(60000)", {"apn": "wrong.example"})
    assert res[0]["up"] is False and "APN refused" in res[0]["err"] and "wrong.example" in res[0]["err"]


@pytest.mark.parametrize("name", MODELS)
def test_wake_from_psm_without_a_new_attach(board, name):
    b = board(name, {"network": {"attach_ms": 30000}})
    res = b.run("""
timed_up(120000)
link.send(b'a', 5000)
link.down(psm=True)
time.sleep(3600)     # the MCU deep-sleeps; the modem drops into PSM after T3324
link2 = type(link)(machine.UART(1, 115200), {}, pwrkey=machine.Pin(4, machine.Pin.OUT))
link = link2
timed_up(120000)
out(reply=str(link.send(b'b', 5000)))
""")
    assert res[0]["up"] is True and res[0]["ms"] >= 30000
    assert res[1]["up"] is True and res[1]["ms"] < 10000  # no second attach
    assert res[2]["reply"] == "b'ACK:b'"
    assert "psm" in [s for _, s in b.power]
    apn_cmd = "AT+CNCFG" if name == "sim7080g" else "AT+QICSGP"
    assert sum(1 for c in b.modem.received if c.startswith(apn_cmd)) == 1


@pytest.mark.parametrize("name", MODELS)
def test_psm_refused_by_the_network_means_power_off(board, name):
    b = board(name, {"network": {"psm": {"grant": False}}})
    res = b.run("timed_up(60000)\nout(psm=link.info()['psm'])\nlink.down(psm=True)\ntime.sleep(100)")
    assert res[1]["psm"] is None
    assert b.power[-1][1] == "off"


def test_bad_config_is_one_clear_line(board):
    b = board("sim7080g")
    code = "try:\n    type(link)(None, {'rat': 'lte'})\nexcept ValueError as e:\n    out(err=str(e))"
    assert b.run(code)[0]["err"] == "link config: rat 'lte' is not one of catm, nbiot, both"


def test_unreachable_endpoint_name(board):
    b = board("bg95", {"dns": {}})
    res = b.run("timed_up(60000)\nout(reply=str(link.send(b'x', 2000)), err=link.last_error)")
    assert res[1]["reply"] == "None" and "565" in res[1]["err"] and "DNS" in res[1]["err"]
