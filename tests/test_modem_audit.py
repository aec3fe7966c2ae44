"""The modem models audited against the manuals and TS 27.007, command by command: each test sends one command line
and expects the exact bytes the document gives (the section is cited in the model next to the answer)."""

import pytest
from modem_util import Rig, booted

ALL = ("sim7080g", "bg95", "bg96", "bg77")
QUECTEL = ("bg95", "bg96", "bg77")


def ready(name, scenario=None):
    """Booted, echo off, registered (the default scenario attaches 6 s after boot)."""
    return booted(Rig(name, scenario), after_ms=7000, echo_off=True)


def ok(*lines):
    """Information text and OK as the modules frame them: <CR><LF>line<CR><LF>line...<CR><LF><CR><LF>OK<CR><LF>."""
    return b"\r\n" + b"\r\n".join(ln.encode() for ln in lines) + b"\r\n\r\nOK\r\n"


# -- V.250 ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_basic_commands_with_a_value_and_the_profile(name):
    r = ready(name)  # echo off
    assert r.at("AT&W0") == b"\r\nOK\r\n"  # stores E0 as the user profile
    assert r.at("ATE1") == b"\r\nOK\r\n"
    assert r.at("ATZ0") == b"ATZ0\r\r\nOK\r\n"  # back to the stored profile: echo off again
    assert r.at("AT") == b"\r\nOK\r\n"
    assert r.at("AT&F0") == b"\r\nOK\r\n"  # factory: echo on
    assert r.at("AT") == b"AT\r\r\nOK\r\n"
    assert r.at("ATZ7") == b"ATZ7\r\r\nERROR\r\n"
    r.m.reset(r.clock.now_ms())  # the stored profile survives a restart
    r.wait(r.m.BOOT_MS + 100)
    assert r.at("AT") == b"\r\nOK\r\n"


@pytest.mark.parametrize("name", ALL)
def test_ipr(name):
    r = ready(name)
    assert r.at("AT+IPR?") == ok("+IPR: 115200")
    assert r.at("AT+IPR=?").startswith(b"\r\n+IPR: (0),(9600,")
    assert r.at("AT+IPR=12345") == b"\r\nERROR\r\n"


@pytest.mark.parametrize("name", ALL)
def test_unknown_command_is_plain_error_whatever_cmee(name):
    r = ready(name)
    r.at("AT+CMEE=2")
    assert r.at("AT+NOSUCH?") == b"\r\nERROR\r\n"
    assert r.at("ATX9") == b"\r\nERROR\r\n"


# -- TS 27.007 identity, SIM, errors --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("cmd", ["AT+CGMI=?", "AT+CGMM=?", "AT+CGMR=?", "AT+CGSN=?", "AT+GSN=?", "AT+CIMI=?",
                                 "AT+CPIN=?", "AT+CEDRXRDP=?"])
def test_test_forms_answer_ok(name, cmd):
    assert ready(name).at(cmd) == b"\r\nOK\r\n"


@pytest.mark.parametrize("name", ALL)
def test_cmee_test_and_omitted_value(name):
    r = ready(name)
    assert r.at("AT+CMEE=?") == ok("+CMEE: (0-2)")
    r.at("AT+CMEE=2")
    assert r.at("AT+CMEE=") == b"\r\nOK\r\n"
    assert r.at("AT+CMEE?") == ok("+CMEE: 0")


def test_cme_verbose_text_of_gprs_errors():
    r = ready("bg96", {"faults": [{"kind": "cme_error", "match": "AT+CGATT", "code": 148}]})
    r.at("AT+CMEE=2")
    assert r.at("AT+CGATT?") == b"\r\n+CME ERROR: unspecified GPRS error\r\n"
    r2 = ready("bg96", {"faults": [{"kind": "cme_error", "match": "AT+CGATT", "code": 50}]})
    r2.at("AT+CMEE=2")
    assert r2.at("AT+CGATT?") == b"\r\n+CME ERROR: Incorrect parameters\r\n"


@pytest.mark.parametrize("name", ALL)
def test_csq_test_form(name):
    r = ready(name)
    assert r.at("AT+CSQ=?") == ok("+CSQ: (0-31,99),(0-7,99)")
    assert r.at("AT+CSQ") == ok("+CSQ: 15,99")


@pytest.mark.parametrize("name", ALL)
def test_cesq(name):
    r = ready(name)
    assert r.at("AT+CESQ") == ok("+CESQ: 99,99,255,255,20,38")  # RSRQ -10 dB, RSRP -103 dBm
    assert r.at("AT+CESQ=?") == ok("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)")
    n = ready(name, {"network": {"registration": "searching"}})
    assert n.at("AT+CESQ") == ok("+CESQ: 99,99,255,255,255,255")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("reg", ["CREG", "CGREG"])
def test_creg_and_cgreg(name, reg):
    r = ready(name)
    assert r.at(f"AT+{reg}?") == ok(f"+{reg}: 0,5")
    assert r.at(f"AT+{reg}=?") == ok(f"+{reg}: (0-2)")
    assert r.at(f"AT+{reg}=2") == b"\r\nOK\r\n"
    assert r.at(f"AT+{reg}?") == ok(f'+{reg}: 2,5,"1A2B","01A2D007",7')
    out = r.at("AT+CFUN=0") + r.wait(500)
    assert f"\r\n+{reg}: 0\r\n".encode() in out  # the URC on the change of <stat>


@pytest.mark.parametrize("name", QUECTEL)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5])
def test_cereg_read_forms(name, n):
    r = ready(name)
    r.at('AT+CPSMS=1,,,"00100011","00000010"')
    assert r.at(f"AT+CEREG={n}") == b"\r\nOK\r\n"
    tail = {0: "", 1: "", 2: ',"1A2B","01A2D007",7', 3: ',"1A2B","01A2D007",7',
            4: ',"1A2B","01A2D007",7,,,"00000010","00100011"', 5: ',"1A2B","01A2D007",7,,,"00000010","00100011"'}[n]
    assert r.at("AT+CEREG?") == ok(f"+CEREG: {n},5{tail}")


def test_sim7080g_cereg_takes_0_to_2_and_4():
    r = ready("sim7080g")
    assert r.at("AT+CEREG=?") == ok("+CEREG: (0-2,4)")
    assert r.at("AT+CEREG=3") == b"\r\nERROR\r\n"
    assert r.at("AT+CEREG=5") == b"\r\nERROR\r\n"
    assert r.at("AT+CEREG=4") == b"\r\nOK\r\n"


@pytest.mark.parametrize("name", ALL)
def test_cops_test_form(name):
    r = ready(name)
    assert r.at("AT+COPS=?", 6000) == ok('+COPS: (2,"NTT DOCOMO","NTT DOCOMO","44010",7),,(0,1,2,3,4),(0,1,2)')


@pytest.mark.parametrize("name", ALL)
def test_cfun_reads_back_4_and_has_a_test_form(name):
    r = ready(name)
    assert r.at("AT+CFUN=4") == b"\r\nOK\r\n"
    assert r.at("AT+CFUN?") == ok("+CFUN: 4")
    assert r.at("AT+CEREG?") == ok("+CEREG: 0,0")
    assert r.at("AT+CFUN=?") == ok("+CFUN: (0,1,4),(0-1)")


# -- packet domain ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_cgdcont_contexts(name):
    r = ready(name)
    assert r.at('AT+CGDCONT=1,"IPV4V6","soracom.io"') == b"\r\nOK\r\n"
    assert r.at('AT+CGDCONT=2,"IP","other"') == b"\r\nOK\r\n"
    assert r.at("AT+CGDCONT?") == ok('+CGDCONT: 1,"IPV4V6","soracom.io","0.0.0.0",0,0',
                                     '+CGDCONT: 2,"IP","","0.0.0.0",0,0')
    assert r.at("AT+CGDCONT=2") == b"\r\nOK\r\n"  # only <cid>: the context is undefined
    assert r.at("AT+CGDCONT?") == ok('+CGDCONT: 1,"IPV4V6","soracom.io","0.0.0.0",0,0')
    assert r.at("AT+CGDCONT=?").startswith(b'\r\n+CGDCONT: (1-1')


@pytest.mark.parametrize("name", ALL)
def test_cgatt_set_and_test(name):
    r = ready(name)
    assert r.at("AT+CGATT=?") == ok("+CGATT: (0,1)")
    assert r.at("AT+CGATT=0", 600) == b"\r\nOK\r\n"
    assert r.at("AT+CGATT?") == ok("+CGATT: 0")
    r.at("AT+CGATT=1", 600)
    r.wait(3000)
    assert r.at("AT+CGATT?") == ok("+CGATT: 1")


@pytest.mark.parametrize("name", ALL)
def test_cgact_and_cgpaddr(name):
    r = ready(name)
    assert r.at("AT+CGACT?") == ok("+CGACT: 1,1")
    assert r.at("AT+CGACT=?") == ok("+CGACT: (0,1)")
    assert r.at("AT+CGPADDR") == ok('+CGPADDR: 1,"10.160.0.17"')
    assert r.at("AT+CGPADDR=1") == ok('+CGPADDR: 1,"10.160.0.17"')
    assert r.at("AT+CGPADDR=?") == ok("+CGPADDR: (1)")
    off = ready(name, {"network": {"registration": "searching"}})
    assert off.at("AT+CGACT?") == ok("+CGACT: 1,0")
    assert off.at("AT+CGPADDR=1") == ok("+CGPADDR: 1")


@pytest.mark.parametrize("name", ALL)
def test_cpsms_test_and_timers_kept_with_mode_0(name):
    r = ready(name)
    assert r.at("AT+CPSMS=?") == ok('+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")')
    r.at('AT+CPSMS=1,,,"00101100","00001010"')
    r.at("AT+CPSMS=0")
    assert r.at("AT+CPSMS?") == ok('+CPSMS: 0,,,"00101100","00001010"')
    r.at("AT+CPSMS=2")
    assert r.at("AT+CPSMS?") == ok("+CPSMS: 0,,,,")


@pytest.mark.parametrize("name", ALL)
def test_cedrxs_read_empty_test_form_and_cedrxp(name):
    r = ready(name)
    assert r.at("AT+CEDRXS?") == b"\r\nOK\r\n"  # eDRX off: no +CEDRXS line at all (TS 27.007 7.40)
    assert r.at("AT+CEDRXS=?") == ok('+CEDRXS: (0-3),(4,5),("0000"-"1111")')
    assert r.at('AT+CEDRXS=1,9,"0101"') == b"\r\nERROR\r\n"
    out = r.at('AT+CEDRXS=2,4,"0101"')
    assert out.startswith(b"\r\nOK\r\n") and b'\r\n+CEDRXP: 4,"0101","0101","0001"\r\n' in out + r.wait(100)


# -- SIM7080G -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd, answer", [
    ("AT+CNACT=?", "+CNACT: (0-3),(0-2)"), ("AT+CNMP=?", "+CNMP: (2,13,38,51)"), ("AT+CMNB=?", "+CMNB: (1-3)"),
    ("AT+CNCFG=?", "+CNCFG: (0-3),(0-4),150,127,127,(0-3)"), ("AT+CPOWD=?", "+CPOWD: (0,1)"),
    ("AT+CGDCONT=?", '+CGDCONT: (1-15),"IP",,,(0-2),(0-4),(0)'),
])
def test_sim7080g_test_forms(cmd, answer):
    assert ready("sim7080g").at(cmd) == ok(answer)


@pytest.mark.parametrize("cmd", ["AT+CPSI=?", "AT+CCID=?", "AT+CASTATE=?"])
def test_sim7080g_test_forms_ok(cmd):
    assert ready("sim7080g").at(cmd) == b"\r\nOK\r\n"


def test_sim7080g_cncfg_read():
    r = ready("sim7080g")
    assert r.at('AT+CNCFG=0,1,"soracom.io","sora","sora",3') == b"\r\nOK\r\n"
    assert r.at("AT+CNCFG?") == ok('+CNCFG: 0,1,"soracom.io","sora","sora",3', '+CNCFG: 1,0,"","","",0',
                                   '+CNCFG: 2,0,"","","",0', '+CNCFG: 3,0,"","","",0')


def test_sim7080g_cbandcfg_reads_the_bands_after_a_start():
    r = ready("sim7080g")
    assert r.at("AT+CBANDCFG?") == ok('+CBANDCFG: "CAT-M",1,2,3,4,5,8,12,13,14,18,19,20,25,26,27,28,66,85',
                                      '+CBANDCFG: "NB-IOT",1,2,3,4,5,8,12,13,18,19,20,25,26,28,66,71,85')
    assert r.at('AT+CBANDCFG="CAT-M",8,19') == b"\r\nOK\r\n"
    assert r.at('AT+CBANDCFG="CAT-M",71') == b"\r\nERROR\r\n"  # B71 is NB-IoT only on the SIM7080G


def test_sim7080g_cnact_auto_activation():
    r = ready("sim7080g")
    assert r.at("AT+CNACT=0,2", 2000) == b"\r\nOK\r\n\r\n+APP PDP: 0,ACTIVE\r\n"


def test_sim7080g_cpowd_0_powers_off_without_urc():
    r = ready("sim7080g")
    assert r.at("AT+CPOWD=0", 500) == b""
    assert r.m.state == "off"


# -- Quectel ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", QUECTEL)
@pytest.mark.parametrize("cmd, answer", [
    ("AT+QIACT=?", "+QIACT: (1-16)"), ("AT+QIDEACT=?", "+QIDEACT: (1-16)"), ("AT+QPOWD=?", "+QPOWD: (0,1)"),
    ("AT+QICLOSE=?", "+QICLOSE: (0-11),(0-65535)"), ("AT+CTZU=?", "+CTZU: (0,1,3)"),
    ("AT+QICSGP=?", "+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)"),
    ("AT+QIOPEN=?", '+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE","<IP_address>/<domain_name>",'
                    '<remote_port>,<local_port>,(0-2)'),
])
def test_quectel_test_forms(name, cmd, answer):
    assert ready(name).at(cmd) == ok(answer)


@pytest.mark.parametrize("name", QUECTEL)
@pytest.mark.parametrize("cmd", ["AT+QCCID=?", "AT+QISTATE=?", "AT+QNWINFO=?"])
def test_quectel_test_forms_ok(name, cmd):
    assert ready(name).at(cmd) == b"\r\nOK\r\n"


def test_qcfg_test_form_bg96():
    assert ready("bg96").at("AT+QCFG=?") == ok(
        '+QCFG: "nwscanmode",(0,1,3),(0,1)', '+QCFG: "nwscanseq",(00-010203),(0,1)',
        '+QCFG: "band",(0-F),(0-7FFFFFFFFFFFFFFF),(0-7FFFFFFFFFFFFFFF),(0,1)', '+QCFG: "iotopmode",(0-2)',
        '+QCFG: "psm/urc",(0,1)')


@pytest.mark.parametrize("name", QUECTEL)
def test_qcfg_band_reads_hex_and_0_keeps(name):
    r = ready(name)
    assert r.at('AT+QCFG="band"') == ok('+QCFG: "band",0xf,0x100002000000000f0e189f,0x10004200000000090e189f')
    assert r.at('AT+QCFG="band",0,80000,0,1') == b"\r\nOK\r\n"
    assert r.at('AT+QCFG="band"') == ok('+QCFG: "band",0xf,0x80000,0x10004200000000090e189f')


@pytest.mark.parametrize("name", QUECTEL)
def test_qcfg_psm_urc(name):
    r = ready(name)
    assert r.at('AT+QCFG="psm/urc"') == ok('+QCFG: "psm/urc",0')
    assert r.at('AT+QCFG="psm/urc",1') == b"\r\nOK\r\n"
    assert r.at('AT+QCFG="psm/urc"') == ok('+QCFG: "psm/urc",1')
    r.at('AT+CPSMS=1,,,"00100011","00000001"')  # T3324 2 s
    assert b"\r\nPSM POWER DOWN\r\n" in r.wait(15000)


@pytest.mark.parametrize("name", QUECTEL)
def test_qicsgp_query_forms(name):
    r = ready(name)
    assert r.at("AT+QICSGP=2") == ok('+QICSGP: 0,"","","",0')
    r.at('AT+QICSGP=1,1,"soracom.io","sora","sora",3')
    assert r.at("AT+QICSGP=1") == ok('+QICSGP: 1,"soracom.io","sora","sora",3')


@pytest.mark.parametrize("name", QUECTEL)
def test_qcsq_and_qnwinfo(name):
    r = ready(name)
    assert r.at("AT+QCSQ") == ok('+QCSQ: "eMTC",-83,-103,175,-10')
    assert r.at("AT+QNWINFO") == ok('+QNWINFO: "eMTC","44010","LTE BAND 19",6200')
    assert ready(name, {"network": {"registration": "searching"}}).at("AT+QCSQ") == ok('+QCSQ: "NOSERVICE"')


@pytest.mark.parametrize("name", QUECTEL)
def test_qgmr(name):
    r = ready(name)
    assert r.at("AT+QGMR") == ok(f"{r.m.REVISION}_01.012.01.012")


@pytest.mark.parametrize("name", QUECTEL)
def test_qpsms_in_seconds(name):
    r = ready(name)
    r.at('AT+CPSMS=1,,,"00101100","00001010"')
    assert r.at("AT+QPSMS?") == ok('+QPSMS: 1,,,"43200","20"')


@pytest.mark.parametrize("name", QUECTEL)
def test_qpowd_test_form_does_not_power_off(name):
    r = ready(name)
    r.at("AT+QPOWD=?")
    assert r.m.state == "on"
    assert r.at("AT+QPOWD=0", 500).startswith(b"\r\nOK\r\n")
    assert r.m.state == "off"


def test_quectel_send_and_read_query_forms(tmp_path):
    import socket

    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    try:
        r = ready("bg96")
        r.at('AT+QICSGP=1,1,"soracom.io","","",0')
        r.at("AT+QIACT=1", 2000)
        r.at(f'AT+QIOPEN=1,0,"UDP","127.0.0.1",{port},0,0', 1000)
        r.at("AT+QISEND=0,5")
        r.m.write(b"hello")
        r.wait(500)
        assert r.at("AT+QISEND=0,0") == ok("+QISEND: 5,5,0")
        data, addr = srv.recvfrom(100)
        srv.sendto(b"abc", addr)
        r.wait(500)
        assert r.at("AT+QIRD=0,0") == ok("+QIRD: 3,0,3")
        r.at("AT+QIRD=0,1500")
        assert r.at("AT+QIRD=0,0") == ok("+QIRD: 3,3,0")
        assert r.at("AT+QISTATE=1,5") == b"\r\nOK\r\n"
        assert r.at("AT+QISTATE=1,0").startswith(b'\r\n+QISTATE: 0,"UDP","127.0.0.1"')
    finally:
        srv.close()
