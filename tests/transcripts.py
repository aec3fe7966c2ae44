"""Modem transcripts for the URC tests (tests/test_net_transcripts.py): what SIM7080G and BG9x answer to every command
the firmware's drivers send, in their own dialect, and every URC each dialect lists, so that one URC can be placed
anywhere in any answer. The fake modem and the runners (tests/transcript_fakes.py) run under CPython and the
MicroPython unix port alike, so the same transcripts run against the same firmware under both.

Answers follow the manuals the drivers cite (firmware/net/sim7080g.py, bg9x.py, cellular.py) and the modem models
(host/fieldnode/sim/modems): SIM7080 "SIM7070_SIM7080_SIM7090 Series AT Command Manual" V1.04 ("Manual"), Quectel
"BG95/BG96 AT Commands Manual" and "TCP/IP Application Note" ("TCP/IP AN"), 3GPP TS 27.007 for the standard commands.
"""

from pathlib import Path

# Positions of an injected URC within one command's exchange (what the fake modem sends back for it)
BEFORE, ECHOED, ANSWERED, AFTER = 0, 1, 2, 3
POSITIONS = {BEFORE: "before the echo", ECHOED: "between echo and answer", ANSWERED: "between answer and final",
             AFTER: "after the final"}

CFG = {"transport": "udp", "psm": {"tau_s": 3600, "active_s": 60}}

# Registration read forms (TS 27.007 10.1.22, AT+CEREG=4): <n>,<stat>,<tac>,<ci>,<AcT>,<cause_type>,<reject_cause>,
# <Active-Time>,<Periodic-TAU>; the timers are the ones the network granted (60 s active time, 1 h TAU).
_SEARCHING = ["+CEREG: 4,2"]  # read twice: the driver then polls with its +CEREG wait (net/cellular.py _register)
_ROAMING = ['+CEREG: 4,5,"1A2B","01A2D101",7,,,"00011110","00000110"']
IDENT = {"iccid": "8981100000123456789", "imsi": "440103123456789", "imei": "866123045678901"}

# command (exact, or a prefix ending in '=' or ',') -> answer:
#   lines      information response lines (bare text or +XXX: ...)
#   final      the final result code (default OK)
#   after      [[ms, line], ...] URCs the command causes, after its final result
#   seq        a list of answers taken in turn (the last repeats)
#   sets/when  a state flag this command sets / the answer ("lines", "else") depends on
#   prompt     '>' then the data (its length is the last number of the command), then final and after
#   recv       the payload line's head, "%d" for the length: the data comes back as b"ACK:" + what was sent
SIM7080 = {
    "AT": {}, "ATE0": {"echo": False}, "AT+CMEE=1": {},
    "AT+CFUN?": {"lines": ["+CFUN: 1"]}, "AT+CFUN=0": {}, "AT+CFUN=1": {},
    "AT+CCID": {"lines": [IDENT["iccid"]]},  # Manual, AT+CCID: the ICCID on a line of its own
    "AT+CIMI": {"lines": [IDENT["imsi"]]},  # TS 27.007 5.6
    "AT+GSN": {"lines": [IDENT["imei"]]},  # TS 27.007 5.4
    "AT+CGMR": {"lines": ["Revision:1951B17SIM7080"]},  # Manual, AT+CGMR: "Revision:<revision>"
    "AT+CPIN?": {"lines": ["+CPIN: READY"]},  # TS 27.007 8.3
    "AT+CEREG=4": {}, "AT+CEREG?": {"seq": [{"lines": _SEARCHING}, {"lines": _SEARCHING}, {"lines": _ROAMING}]},
    "AT+CNMP=38": {}, "AT+CMNB=1": {},  # Manual, AT+CNMP / AT+CMNB
    'AT+CGDCONT=1,"IP","soracom.io"': {},
    'AT+CNCFG=0,1,"soracom.io","sora","sora",3': {},  # Manual, AT+CNCFG
    "AT+CLTS=1": {},  # Manual, AT+CLTS
    'AT+CPSMS=1,,,"00000110","00011110"': {},  # TS 27.007 7.38
    "AT+CSQ": {"lines": ["+CSQ: 20,99"]}, "AT+COPS?": {"lines": ['+COPS: 0,0,"NTT DOCOMO",7']},
    # Manual, AT+CNACT: the read form lists every <pdpidx>; AT+CNACT=0,1 answers OK, then +APP PDP: 0,ACTIVE
    "AT+CNACT?": {"when": "active", "lines": ['+CNACT: 0,1,"10.160.0.17"', '+CNACT: 1,0,"0.0.0.0"'],
                  "else": ['+CNACT: 0,0,"0.0.0.0"', '+CNACT: 1,0,"0.0.0.0"']},
    "AT+CNACT=0,1": {"sets": "active", "after": [[1200, "+APP PDP: 0,ACTIVE"]]},
    # Manual, AT+CAOPEN: +CAOPEN: <cid>,<result> before the OK
    'AT+CAOPEN=0,0,"UDP","uni.soracom.io",23080': {"lines": ["+CAOPEN: 0,0"], "delay": 150},
    # Manual, AT+CASEND: '>', <datalen> bytes, OK; the reply is announced with +CADATAIND: <cid>
    "AT+CASEND=0,": {"prompt": True, "after": [[100, "+CADATAIND: 0"]]},
    "AT+CARECV=0,1460": {"recv": "+CARECV: %d,", "inline": True},  # Manual, AT+CARECV: +CARECV: <len>,<data>
    "AT+CACLOSE=0": {},
    "AT+CCLK?": {"lines": ['+CCLK: "24/05/01,12:00:00+36"']},  # TS 27.007 8.15, local time and zone
}

BG9X = {
    "AT": {}, "ATE0": {"echo": False}, "AT+CMEE=1": {},
    "AT+CFUN?": {"lines": ["+CFUN: 1"]}, "AT+CFUN=0": {}, "AT+CFUN=1": {},
    "AT+QCCID": {"lines": ["+QCCID: " + IDENT["iccid"]]},  # AT Commands Manual, AT+QCCID
    "AT+CIMI": {"lines": [IDENT["imsi"]]}, "AT+GSN": {"lines": [IDENT["imei"]]},
    "AT+CGMR": {"lines": ["BG95M3LAR02A03"]},  # AT Commands Manual, AT+CGMR: the revision on its own line
    "AT+CPIN?": {"lines": ["+CPIN: READY"]},
    "AT+CEREG=4": {}, "AT+CEREG?": {"seq": [{"lines": _SEARCHING}, {"lines": _SEARCHING}, {"lines": _ROAMING}]},
    'AT+QCFG="nwscanmode",3,1': {}, 'AT+QCFG="iotopmode",0,1': {},
    'AT+CGDCONT=1,"IP","soracom.io"': {},
    'AT+QICSGP=1,1,"soracom.io","sora","sora",3': {},  # TCP/IP AN 2.3.1
    "AT+CTZU=1": {},  # TS 27.007 8.40
    'AT+CPSMS=1,,,"00000110","00011110"': {},
    "AT+CSQ": {"lines": ["+CSQ: 20,99"]}, "AT+COPS?": {"lines": ['+COPS: 0,0,"NTT DOCOMO",8']},
    # TCP/IP AN 2.3.2: +QIACT: <contextID>,<state>,<type>,<IP> for each active context; AT+QIACT=1 OK when active
    "AT+QIACT?": {"when": "active", "lines": ['+QIACT: 1,1,1,"10.160.0.17"'], "else": []},
    "AT+QIACT=1": {"sets": "active", "delay": 1500},
    # TCP/IP AN 2.3.4: OK, then +QIOPEN: <connectID>,<err>
    'AT+QIOPEN=1,0,"UDP","uni.soracom.io",23080,0,0': {"after": [[200, "+QIOPEN: 0,0"]]},
    # TCP/IP AN 2.3.7: '>', the bytes, SEND OK; 2.4.2: +QIURC: "recv",<connectID>
    "AT+QISEND=0,": {"prompt": True, "final": "SEND OK", "after": [[100, '+QIURC: "recv",0']]},
    "AT+QIRD=0,1500": {"recv": "+QIRD: %d\r\n", "inline": False},  # TCP/IP AN 2.3.8
    "AT+QICLOSE=0": {},
    "AT+QLTS=1": {"lines": ['+QLTS: "2024/05/01,03:00:00+36,0"']},  # AT Commands Manual, AT+QLTS
}

# URCs that carry nothing for the driver in this transcript (the state they report is the one the transcript is
# in): placed anywhere, they must change nothing but be routed. Sources: firmware/net/cell3gpp.py, sim7080g.py and
# bg9x.py (URCS and handlers, with their citations).
COMMON_URCS = [
    "+CPIN: READY", "+CFUN: 1", "+CREG: 5", "+CGREG: 5", "+CGEV: ME PDN ACT 1", "+CTZV: +36",
    '+CTZE: "+36",0,"2024/05/01,12:00:00"', '+CEDRXP: 4,"0010","0010","0001"', "+CSCON: 0", '+CMTI: "SM",1',
    # the registration the transcript ends in, with a tracking-area code that looks decimal (TS 27.007 10.1.22:
    # <tac> is a string in hexadecimal); it must never be read as a <stat>
    '+CEREG: 5,"1234","01A2D101",7',
]
SIM7080_URCS = COMMON_URCS + [
    "SMS Ready", "Call Ready", '*PSUTTZ: 2024,5,1,3,0,0,"+36",0', "DST: 0", '*PSNWID: "440","10","DOCOMO",0',
    '+CPSMSTATUS: "EXIT PSM"', "ENTER PSM", "EXIT PSM", '+CNTP: 1,"2024/05/01,03:00:00"', '+SMSUB: "t/1","hi"',
    "+SMSTATE: 0", '+CAURC: "recv",3,5', "UNDER-VOLTAGE WARNNING", "OVER-VOLTAGE WARNNING",
    # handled URCs about another connection or context, or saying what is already so
    "+CADATAIND: 3", "+CASTATE: 3,0", "+APP PDP: 1,DEACTIVE", "+APP PDP: 0,ACTIVE",
]
BG9X_URCS = COMMON_URCS + [
    "APP RDY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE", '+QIND: "csq",20,99', "+QPSMTIMER: 3600,60",
    "PSM POWER DOWN", '+QNTP: 0,"2024/05/01,03:00:00+36"', '+QMTRECV: 0,1,"t/1","hi"', "+QMTSTAT: 0,1",
    '+QIURC: "incoming full"', '+QIURC: "dnsgip",0,1,600', '+QIURC: "closed",3', '+QIURC: "recv",3',
    '+QIURC: "pdpdeact",2', "+QIOPEN: 3,0", '+QIURC: "recv",0',
]
SIM7080_BANNERS = ["RDY", "NORMAL POWER DOWN", "UNDER-VOLTAGE POWER DOWN", "OVER-VOLTAGE POWER DOWN"]
BG9X_BANNERS = ["RDY", "POWERED DOWN"]

DIALECTS = {
    "sim7080g": {"module": "net.sim7080g", "cls": "SIM7080G", "table": SIM7080, "urcs": SIM7080_URCS,
                 "banners": SIM7080_BANNERS, "fw": "Revision:1951B17SIM7080", "act": 7, "cfg": CFG},
    "bg9x": {"module": "net.bg9x", "cls": "BG9x", "table": BG9X, "urcs": BG9X_URCS, "banners": BG9X_BANNERS,
             "fw": "BG95M3LAR02A03", "act": 8, "cfg": CFG},
}

# The fake modem, the fake clock and the runners (MicroPython runs them too): tests/transcript_fakes.py
FAKES_PATH = Path(__file__).with_name("transcript_fakes.py")
FAKES = FAKES_PATH.read_text()

# What a run's outcome is made of (tests compare it with the clean run's)
OUTCOME = ("up", "up_err", "reply", "send_err", "time", "time_err", "down_err", "iccid", "imsi", "imei", "fw",
           "registration", "operator", "act", "psm", "rssi")
# A URC costs its bytes and nothing else: no command waits longer for it. What it may cost at most on the fake clock
# is one engine step (10 ms) for each read that ends inside it.
SLACK_MS = 30
_BASE: dict = {}


def base(name):
    """The clean run of a dialect (no URC), recorded: what the other runs are compared with."""
    if name not in _BASE:
        from transcript_fakes import run_link

        _BASE[name] = run_link(DIALECTS[name], record=True)
    return _BASE[name]


def index(name, command, nth=-1):
    """Which command of the clean run (the nth time it is sent) is `command`."""
    return [i for i, c in enumerate(base(name)["sent"]) if c == command][nth]


def table(name, command, **change):
    """The dialect with one command answered differently (the same answer in another order the manual allows)."""
    d = dict(DIALECTS[name])
    d["table"] = dict(d["table"])
    d["table"][command] = {**d["table"][command], **change}
    return d
