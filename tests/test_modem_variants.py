"""The three Quectel modules as their own models, and one table of modems for board files, the simulator and the
power figures: a board file that says bg96 or bg77 gets that module, not a BG95. Expected bytes and timings come
from the documents cited in sim/modems/bg9x.py (ATI lines, AT+QCFG ranges, the Hardware Designs' PWRKEY windows),
not from a run."""

import json

import modem_util
import pytest
from fieldnode import boards, parts
from fieldnode.errors import ConfigError
from fieldnode.sim.board import VirtualBoard
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.modems import MODEMS, BG9x, create, power
from modem_util import Rig


def booted(name, scenario=None):
    clock = VirtualClock()  # the model straight from the table, as the virtual board builds it (not create())
    return modem_util.booted(Rig(name, clock=clock, model=MODEMS[name](clock, scenario)), echo_off=True)


def test_one_table_for_board_files_models_and_power_profiles():
    assert boards.MODEMS == set(parts.MODEMS) == set(MODEMS)
    for name, part in parts.MODEMS.items():
        cls = parts.model_class(part)
        assert MODEMS[name] is cls and cls.NAME == name
        assert cls.PROFILE is power.PROFILES[part.power]
    assert power.PROFILES["bg96"].name == "BG96" and power.PROFILES["bg77"].name == "BG77"


@pytest.mark.parametrize("name,ati", [
    ("bg95", b"\r\nQuectel\r\nBG95-M3\r\nRevision: BG95M3LAR02A03\r\n\r\nOK\r\n"),
    ("bg96", b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n"),
    ("bg77", b"\r\nQuectel\r\nBG77\r\nRevision: BG77LAR02A04\r\n\r\nOK\r\n"),
])
def test_the_table_alone_gives_each_module_its_identity(name, ati):
    # MODEMS[type](clock, scenario) is how the virtual board builds its modem: no "model" key in the scenario
    r = booted(name)
    assert r.at("ATI") == ati
    assert r.at("AT+CGMM") == b"\r\n" + ati.split(b"\r\n")[2] + b"\r\n\r\nOK\r\n"


def test_a_bg96_board_file_gets_a_bg96(tmp_path):
    d = json.loads(boards.load("esp32-devkitc-bg95").path.read_text())
    d["name"], d["modem"]["type"] = "devkitc-bg96", "bg96"
    f = tmp_path / "devkitc-bg96.json"
    f.write_text(json.dumps(d))
    b = VirtualBoard(str(f), flash_dir=tmp_path / "flash", scenario={"modem": {"power": "on"}})
    try:
        r = Rig(None, clock=b.clock, model=b.modem)
        r.wait(b.modem.BOOT_MS)
        assert r.at("ATI").endswith(b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n")
        assert b.modem.power_figure("idle_drx")[1].startswith("BG96:")  # its own profile, named as a stand-in
    finally:
        b.close()


def test_boot_urcs_bg96_has_no_app_rdy():
    assert booted("bg96").boot.startswith(b"\r\nRDY\r\n\r\n+CFUN: 1\r\n")
    for name in ("bg95", "bg77"):
        assert booted(name).boot.startswith(b"\r\nRDY\r\n\r\nAPP RDY\r\n\r\n+CFUN: 1\r\n")


def test_bg77_scans_no_gsm():
    r = booted("bg77")
    assert r.at('AT+QCFG="nwscanseq"') == b'\r\n+QCFG: "nwscanseq",0203\r\n\r\nOK\r\n'
    r.at("AT+CMEE=1")
    assert r.at('AT+QCFG="nwscanseq",020301,1') == b"\r\n+CME ERROR: 50\r\n"  # 01 GSM: the BG77 has no GSM
    assert r.at('AT+QCFG="nwscanmode",1,1') == b"\r\n+CME ERROR: 50\r\n"  # GSM only
    assert r.at('AT+QCFG="nwscanseq",0302,1') == b"\r\nOK\r\n"
    assert r.at('AT+QCFG="nwscanseq"') == b'\r\n+QCFG: "nwscanseq",0302\r\n\r\nOK\r\n'
    assert r.at('AT+QCFG="nwscanmode",3,1') == b"\r\nOK\r\n"
    assert r.at('AT+QCFG="nwscanseq",00,1') == b"\r\nOK\r\n"  # automatic reads back as the automatic order
    assert r.at('AT+QCFG="nwscanseq"') == b'\r\n+QCFG: "nwscanseq",0203\r\n\r\nOK\r\n'


@pytest.mark.parametrize("name", ["bg95", "bg96"])
def test_bg95_and_bg96_scan_gsm_too(name):
    r = booted(name)
    r.at("AT+CMEE=1")
    assert r.at('AT+QCFG="nwscanseq"') == b'\r\n+QCFG: "nwscanseq",020301\r\n\r\nOK\r\n'
    assert r.at('AT+QCFG="nwscanseq",010203,1') == b"\r\nOK\r\n"
    assert r.at('AT+QCFG="nwscanmode",1,1') == b"\r\nOK\r\n"
    for bad in ("0202", "04", "0", "02031"):  # a code twice, no such RAT, odd lengths
        assert r.at(f'AT+QCFG="nwscanseq",{bad},1') == b"\r\n+CME ERROR: 50\r\n", bad


def test_pwrkey_windows_of_each_hardware_design():
    # BG96: on with 100 ms; off with >= 650 ms, no upper bound (BG95&BG96 Compatible Design 4.3.2)
    clock = VirtualClock()
    m = MODEMS["bg96"](clock, {"power": "off"})
    m.pwrkey(1, 0)
    m.pwrkey(0, 100)
    assert m.state == "booting"
    clock.advance(100 + m.BOOT_MS)
    m.poll(clock.now_ms())
    m.pwrkey(1, 10_000)
    m.pwrkey(0, 12_500)  # 2.5 s: still a power-down on the BG96
    assert m.state == "off"
    # BG95 / BG77: 100 ms does not turn them on; off only for 650-1500 ms; 2-3.8 s is a reset (PWRKEY is RESET_N)
    for name in ("bg95", "bg77"):
        clock = VirtualClock()
        m = MODEMS[name](clock, {"power": "off"})
        m.pwrkey(1, 0)
        m.pwrkey(0, 100)
        assert m.state == "off", name
        m.pwrkey(1, 200)
        m.pwrkey(0, 800)
        clock.advance(800 + m.BOOT_MS)
        m.poll(clock.now_ms())
        assert m.state == "on", name
        m.read(4096)
        t = clock.now_ms()
        m.pwrkey(1, t)
        m.pwrkey(0, t + 1700)  # past the power-down window, short of a reset: nothing happens
        assert m.state == "on", name
        m.pwrkey(1, t + 2000)
        m.pwrkey(0, t + 4500)  # 2.5 s: a reset, the module boots again
        assert m.state == "booting", name
        clock.advance(t + 4500 + m.BOOT_MS - clock.now_ms())
        m.poll(clock.now_ms())
        assert m.state == "on" and m.read(4096).startswith(b"\r\nRDY\r\n"), name
        t = clock.now_ms()
        m.pwrkey(1, t)
        m.pwrkey(0, t + 1500)  # the upper end of the window still powers down
        assert m.state == "off" and m.read(4096).endswith(b"\r\nPOWERED DOWN\r\n"), name


def test_a_scenario_model_key_only_checks():
    clock = VirtualClock()
    assert create("bg96", clock, {"model": "bg96"}).MODEL == "BG96"
    for name, other in (("bg96", "bg95"), ("bg77", "bg96"), ("sim7080g", "bg95")):
        with pytest.raises(ConfigError, match=f"model '{other}' disagrees with the board's modem '{name}'"):
            create(name, clock, {"model": other})
    with pytest.raises(TypeError, match="family"):
        BG9x(clock)
