"""The modem models byte for byte under CPython: framing, echo, CME modes, PWRKEY timing, registration over
virtual time, CEREG URCs, PSM entry, power states and scenario validation."""

import modem_util
import pytest
from fieldnode.errors import ConfigError
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.modems import BG77, BG95, BG96, MODEMS, SIM7080G, BG9x, create
from modem_util import Rig


def rig(name, scenario=None):
    return Rig(name, scenario, at_ms=200).watch_power()


def booted(name, scenario=None):
    return modem_util.booted(rig(name, scenario))


def test_table_and_variants():
    assert MODEMS == {"sim7080g": SIM7080G, "bg95": BG95, "bg96": BG96, "bg77": BG77}
    assert all(issubclass(c, BG9x) for c in (BG95, BG96, BG77))
    assert booted("bg96").at("ATI") == b"ATI\r\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n"


def test_boot_banners_echo_and_framing():
    r = rig("sim7080g", {"power": "off"})
    r.m.power_on()
    assert r.wait(3499) == b""  # not ready before the boot time
    assert r.wait(1) == b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
    assert r.at("AT") == b"AT\r\r\nOK\r\n"
    assert r.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert r.at("AT+CGMR") == b"\r\nRevision:1951B17SIM7080\r\n\r\nOK\r\n"
    assert r.at("garbage") == b""  # no AT prefix: not a command (V.250 5.2.1)
    assert r.at("AT+NOSUCH") == b"\r\nERROR\r\n"
    b = booted("bg95")
    assert b.m.read(100) == b""
    assert b.wait(0) == b""


def test_cme_modes_and_no_sim():
    r = booted("bg95", {"sim": {"present": False}})
    r.at("ATE0")
    assert r.at("AT+CPIN?") == b"\r\nERROR\r\n"
    assert r.at("AT+CMEE=1") == b"\r\nOK\r\n"
    assert r.at("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    r.at("AT+CMEE=2")
    assert r.at("AT+QCCID") == b"\r\n+CME ERROR: SIM not inserted\r\n"


def test_pwrkey_timing():
    r = rig("sim7080g", {"power": "off"})
    t = r.clock.now_ms()
    r.m.pwrkey(1, t)
    r.m.pwrkey(0, t + 500)  # too short to power on
    assert r.m.state == "off"
    r.m.pwrkey(1, t + 600)
    r.m.pwrkey(0, t + 1700)
    assert r.m.state == "booting"
    r.clock.advance(1700 + 3500)
    r.m.poll(r.clock.now_ms())
    assert r.m.state == "on" and r.power == ["off", "idle"]
    now = r.clock.now_ms()
    r.m.pwrkey(1, now)
    r.m.pwrkey(0, now + 1100)  # < 1.2 s: stays on
    assert r.m.state == "on"
    r.m.pwrkey(1, now + 2000)
    r.m.pwrkey(0, now + 3300)
    assert r.m.state == "off" and r.m.read(100).endswith(b"\r\nNORMAL POWER DOWN\r\n") and r.power[-1] == "off"


def test_registration_outage_urcs_and_psm():
    r = booted("sim7080g", {"network": {"attach_ms": 5000, "outages": [[20000, 30000]]}})
    r.at("ATE0")
    r.at("AT+CEREG=1")
    r.at('AT+CPSMS=1,,,"00000110","00000101"')  # TAU 1 h, active time 10 s
    assert r.at("AT+CEREG?") == b"\r\n+CEREG: 1,2\r\n\r\nOK\r\n"
    assert r.wait(5000) == b"\r\n+CEREG: 5\r\n"
    assert r.at("AT+CSQ") == b"\r\n+CSQ: 15,99\r\n\r\nOK\r\n"
    out = r.wait(20000 - (r.clock.now_ms() - r.m.t0))  # the outage begins
    assert out == b"\r\n+CEREG: 2\r\n"
    assert r.at("AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    assert r.wait(10000) == b"\r\n+CEREG: 5\r\n"


def test_psm_entry_and_wake_without_attach():
    r = booted("sim7080g", {"network": {"attach_ms": 1000}})
    r.at("ATE0")
    r.at('AT+CPSMS=1,,,"00000110","00000101"')  # TAU 1 h, active time 10 s
    r.wait(2000)
    # PSM: after RRC inactivity and T3324 (10 s) without activity the modem sleeps and stops answering
    t_psm = r.m.psm_entry_ms()
    assert t_psm is not None and r.m.next_change_ms() <= t_psm
    r.wait(t_psm - r.clock.now_ms())
    assert r.m.state == "psm" and r.power[-1] == "psm"
    r.m.pwrkey(1, r.clock.now_ms())  # the board drives PWRKEY: it wires it, so UART bytes do not wake
    assert r.at("AT", 500) == b""
    r.m.pwrkey(0, r.clock.now_ms() + 200)
    assert r.at("AT+CEREG?", 500) == b"\r\n+CEREG: 0,5\r\n\r\nOK\r\n"  # still registered: no new attach


def test_psm_granted_values_and_cereg4():
    r = booted("bg95", {"network": {"attach_ms": 0, "psm": {"t3412": "00100011", "t3324": "00000010"}}})
    r.at("ATE0")
    r.at("AT+CEREG=4")
    r.at('AT+CPSMS=1,,,"00000110","00011110"')
    assert r.at("AT+CEREG?") == b'\r\n+CEREG: 4,5,"1A2B","01A2D007",7,,,"00000010","00100011"\r\n\r\nOK\r\n'


def test_bg95_socket_dialect(tmp_path):
    import socket

    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(2)
    r = booted("bg95", {"network": {"attach_ms": 0, "rtt_ms": 100},
                        "dns": {"c.example": f"127.0.0.1:{srv.getsockname()[1]}"}})
    r.at("ATE0")
    assert r.at("AT+QIACT=1", 2000) == b"\r\nOK\r\n"
    assert r.at('AT+QIOPEN=1,0,"UDP","c.example",1,0,0', 500) == b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"
    assert r.at("AT+QISEND=0,4", 50) == b"\r\n> "
    r.m.write(b"ping")
    assert r.wait(200) == b"\r\nSEND OK\r\n"
    data, addr = srv.recvfrom(100)
    assert data == b"ping"
    srv.sendto(b"po\r\nng", addr)
    out = b""
    for _ in range(20):
        out += r.wait(50)
        if out:
            break
    assert out == b'\r\n+QIURC: "recv",0\r\n'
    assert r.at("AT+QIRD=0,1500") == b"\r\n+QIRD: 6\r\npo\r\nng\r\n\r\nOK\r\n"
    assert r.at("AT+QIRD=0,1500") == b"\r\n+QIRD: 0\r\n\r\nOK\r\n"
    assert r.at('AT+QIOPEN=1,1,"UDP","nowhere.example",1,0,0', 500) == b"\r\nOK\r\n\r\n+QIOPEN: 1,565\r\n"
    assert r.at("AT+QIGETERROR") == b"\r\n+QIGETERROR: 565,DNS parse failed\r\n\r\nOK\r\n"
    srv.close()


@pytest.mark.parametrize("scenario,key", [
    ({"network": {"registration": "maybe"}}, "network.registration"),
    ({"faults": [{"kind": "explode"}]}, "faults[0].kind"),
    ({"faults": [{"kind": "no_reply", "match": "CSQ"}]}, "faults[0].match"),
    ({"sim": {"imsi": "123"}}, "sim.imsi"),
    ({"network": {"outages": [[10, 5]]}}, "network.outages"),
    ({"network": {"psm": {"t3412": "2h"}}}, "network.psm.t3412"),
    ({"colour": "red"}, "colour"),
])
def test_bad_scenarios_name_the_key(scenario, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        create("sim7080g", VirtualClock(), scenario)
