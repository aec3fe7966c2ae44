"""Diagnostics: diagnose() on its own, and the host library driving firmware/net/passthrough.py on the MicroPython
runtime against the modem models (each transport exec is one MicroPython process on the hardware bus)."""

import argparse

import pytest
from fieldnode import boards, modem
from fieldnode.cli import modem as cli_modem
from fieldnode.errors import DeviceError, UsageError
from fieldnode.paths import FIRMWARE
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.modems import create
from fieldnode.sim.runtime import run

BOARD = "lowpower-ref"  # SIM7080G on UART 1, PWRKEY on GPIO 4
BG_BOARD = "esp32-devkitc-bg95"  # BG95 on UART 2, PWRKEY on GPIO 4


def levels(findings):
    return [(f.level, f.what) for f in findings]


def test_diagnose_no_sim():
    f = modem.diagnose({"registration": None}, [], ["no SIM card: the modem reports SIM not inserted (+CME ERROR: 10)"])
    assert f[0].level == "error" and "No SIM" in f[0].what and "insert the SIM" in f[0].todo and len(f) == 1


def test_diagnose_denied_names_the_operator():
    f = modem.diagnose({"registration": "denied", "operator": None, "dbm": -80}, ["searching", "denied"], [])
    assert f[0].level == "error" and "refused this SIM" in f[0].what


def test_diagnose_no_coverage_vs_signal_without_registration():
    f = modem.diagnose({"registration": "searching", "dbm": None}, ["searching"], ["not registered before ..."])
    assert f[0].level == "error" and f[0].what.startswith("No coverage")
    f = modem.diagnose({"registration": "searching", "dbm": -95}, ["searching"], [])
    assert "signal (-95 dBm) but the modem is not registered in the SIM's network" in f[0].what
    assert "rat" in f[0].todo


def test_diagnose_apn_refused_and_weak_signal():
    err = 'APN refused: the network did not activate "x.example" (+APP PDP: 0,DEACTIVE); check APN'
    f = modem.diagnose({"registration": "roaming", "dbm": -111, "operator": "NTT DOCOMO"}, ["roaming"], [err])
    kinds = levels(f)
    assert kinds[0][0] == "error" and "APN" in kinds[0][1]
    assert ("warning", "Weak signal: -111 dBm.") in kinds
    assert not any(k == "ok" for k, _ in kinds)


def test_diagnose_all_well():
    info = {"registration": "roaming", "dbm": -83, "operator": "NTT DOCOMO", "up": True,
            "psm": {"active_s": 60, "tau_s": 3600}}
    f = modem.diagnose(info, ["searching", "roaming"], [])
    assert levels(f) == [("ok", "Registered (roaming) on NTT DOCOMO, signal -83 dBm, data connection up.")]


def test_diagnose_psm_not_granted_is_a_warning():
    f = modem.diagnose({"registration": "home", "dbm": -70, "up": True, "psm": None}, ["home"], [])
    assert [x.level for x in f] == ["warning", "ok"]


def test_check_at():
    assert modem.check_at(" AT+CSQ ") == "AT+CSQ"
    with pytest.raises(UsageError, match="not an AT command"):
        modem.check_at("CSQ")
    with pytest.raises(UsageError, match="printable ASCII"):
        modem.check_at("AT+CSQ\x1b")


# -- the library against the firmware passthrough on the MicroPython runtime --------------------------------------
class RuntimeTransport:
    """exec() as mpremote's SerialTransport offers it, each call one MicroPython process on the hardware bus."""

    class ExecError(Exception):
        def __init__(self, err):
            super().__init__(err)
            self.error_output = err

    def __init__(self, bus, path):
        self.bus, self.path, self.calls = bus, path, 0

    def exec(self, code):
        self.calls += 1
        r = run(code, bus=self.bus, extra_path=[self.path] if self.path else (), timeout=60)
        if r.rc:
            raise self.ExecError(r.out + r.err)  # the unix port prints tracebacks on stdout
        return r.out.encode()


@pytest.fixture
def device(compiled):
    made = []

    def make(kind, scenario=None, uart_id=1, path=True):
        clock = VirtualClock()
        m = create(kind, clock, scenario)
        # PWRKEY (GPIO4 on both boards) and lowpower-ref's DTR reach the model, as the virtual board routes them
        dtr = boards.load(BOARD)["modem"]["dtr"]
        bus = HwBus(clock, uart={uart_id: m},
                    on_pin=lambda p, v, t: m.pwrkey(v, t) if p == 4 else m.dtr(v, t) if p == dtr else None)
        made.append(bus)
        return RuntimeTransport(bus, compiled if path else None), m

    yield make
    for b in made:
        b.close()


def test_at_passthrough_reaches_the_modem(device):
    t, m = device("sim7080g")
    con = modem.ModemConsole(t, BOARD)
    assert con.at("AT") == ["OK"]  # the URCs that were waiting are shown, apart from the command's reply
    assert con.earlier == ["RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready"]
    assert con.at("AT") == ["OK"]  # echo removed
    assert con.at("AT+CIMI") == ["440103123456789", "OK"]
    assert con.at("AT+CPSI?", 2000)[0].startswith("+CPSI:")
    assert con.at("AT+NOPE") == ["ERROR"]
    assert m.received[-1] == "AT+NOPE"


def test_at_passthrough_shows_garbage_safely_and_times_out(device):
    t, _ = device("bg95", {"faults": [{"kind": "garbage", "match": "AT+CSQ", "data": "\x00\xfe\x1b[2J"},
                                      {"kind": "no_reply", "match": "AT+CGMR"}]}, uart_id=2)
    con = modem.ModemConsole(t, BG_BOARD)
    assert con.at("AT")[-1] == "OK"  # boot URCs drained
    lines = con.at("AT+CSQ")
    # the echo runs into the garbage (no line end between them): shown as sent, control bytes escaped
    assert lines[0] == "AT+CSQ\\x0d\\x00\\xfe\\x1b[2J" and lines[-1] == "OK" and lines[1].startswith("+CSQ: ")
    assert all(ch.isprintable() for ln in lines for ch in ln)
    assert con.at("AT+CGMR", 300) == ["(no final result within 300 ms)"]


@pytest.mark.parametrize("scenario,expect", [
    ({"sim": {"present": False}}, "No SIM card"),
    ({"network": {"registration": "denied"}}, "refused this SIM"),
    ({"network": {"outages": [[0, 10**9]]}}, "No coverage"),
    ({"network": {"registration": "searching"}}, "No coverage"),
    ({"network": {"apn": "other.apn"}}, "refused the data connection (APN)"),
    ({}, "Registered (roaming) on NTT DOCOMO, signal -83 dBm, data connection up."),
])
def test_diagnose_end_to_end(device, scenario, expect):
    t, _ = device("sim7080g", dict(scenario, power="off"))
    facts = modem.ModemConsole(t, BOARD).facts({}, 40000)
    assert facts["imei"] == "866123045678901" and facts["up_ms"] <= 40000
    findings = modem.diagnose(facts, facts["history"], facts["errors"])
    assert any(expect in f.what for f in findings), findings


def test_cli_diagnose_and_commands(device, capsys):
    t, _ = device("bg95", {"network": {"registration": "denied"}}, uart_id=2)
    args = argparse.Namespace(port="x", commands=[], diagnose=True, board=BG_BOARD, apn=None, user=None,
                              password=None, timeout=30.0, json=False)
    assert cli_modem.run(args, transport=t) == 1
    out = capsys.readouterr().out
    assert "ERROR   The network refused this SIM" in out and "history       searching -> denied" in out
    args.diagnose, args.commands = False, ["AT+CEREG?", "AT+QCCID"]
    assert cli_modem.run(args, transport=t) == 0
    out = capsys.readouterr().out
    assert "+QCCID: 8981100000123456789F" in out


def test_board_without_passthrough_says_deploy(device):
    t, _ = device("sim7080g", path=False)
    import fieldnode.sim.runtime as rt

    orig = rt.env_for

    def no_firmware(bus=None, extra_path=(), base=None, **kw):
        e = orig(bus, extra_path, base, **kw)
        e["MICROPYPATH"] = e["MICROPYPATH"].replace(str(FIRMWARE), "/nonexistent")
        return e

    rt.env_for = no_firmware
    try:
        with pytest.raises(DeviceError, match="no net/passthrough.py"):
            modem.ModemConsole(t, BOARD).at("AT")
    finally:
        rt.env_for = orig


def test_board_without_modem_is_refused():
    with pytest.raises(Exception, match="has no modem"):
        modem.ModemConsole(object(), "esp32-c3-devkitm")
