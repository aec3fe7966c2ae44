"""Modem transcripts for the URC tests (tests/test_net_transcripts.py): what SIM7080G and BG9x answer to every command
the firmware's drivers send, in their own dialect, and every URC each dialect lists, so that one URC can be placed
anywhere in any answer. The fake modem and the runners are source text (FAKES) that CPython and the MicroPython unix
port both execute, so the same transcripts run against the same firmware under both.

Answers follow the manuals the drivers cite (firmware/net/sim7080g.py, bg9x.py, cellular.py) and the modem models
(host/fieldnode/sim/modems): SIM7080 "SIM7070_SIM7080_SIM7090 Series AT Command Manual" V1.04 ("Manual"), Quectel
"BG95/BG96 AT Commands Manual" and "TCP/IP Application Note" ("TCP/IP AN"), 3GPP TS 27.007 for the standard commands.
"""

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

# The fake modem, the fake clock and the runners: written so that MicroPython runs them too.
FAKES = r'''
import json


class Clock:
    def __init__(self):
        self.t = 0
    def ticks_ms(self):
        return self.t
    def ticks_add(self, a, b):
        return a + b
    def ticks_diff(self, a, b):
        return a - b
    def sleep_ms(self, ms):
        self.t += ms
    def sleep(self, s):
        self.t += int(s * 1000)


def _enc(s):
    return s.encode() if isinstance(s, str) else s


class Modem:
    # Answers from a table (see tests/transcripts.py) on the fake clock. inject = [k, position, urc]: the URC goes
    # into the answer to the k-th command at that position. chunk: bytes per read (0: all that has arrived). Every
    # answer arrives `delay` ms (default 20) after its command; the answer's URCs (after) later.
    def __init__(self, clock, table, inject=None, chunk=0, keep_echo=False):
        self.c = clock
        self.table = table
        self.inject = inject
        self.chunk = chunk
        self.keep_echo = keep_echo
        self.echo = True  # V.250 default E1
        self.inbuf = b""
        self.q = []  # [due, bytes], in due order
        self.buf = b""
        self.k = 0
        self.calls = {}
        self.state = {}
        self.need = 0
        self.data = b""
        self.pending = None
        self.sent = []
        self.last = b""
        self.cut = None
        self.rec = None  # per command, when a list: [bytes it caused, [offset of each position]] (split tests)

    # -- UART side
    def any(self):
        while self.q and self.q[0][0] <= self.c.t:
            self.buf += self.q.pop(0)[1]
        return len(self.buf)

    def read(self, n):
        self.any()
        if self.chunk:
            n = min(n, self.chunk)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def write(self, b):
        b = bytes(b)
        if self.need:
            self.data += b
            if len(self.data) >= self.need:
                self.need = 0
                self._send_done()
            return len(b)
        self.inbuf += b
        while b"\r" in self.inbuf:
            i = self.inbuf.index(b"\r")
            cmd, self.inbuf = self.inbuf[:i], self.inbuf[i + 1:]
            self._command(cmd.decode())
        return len(b)

    # -- modem side
    def _at(self, due, data, k=None, offs=None):
        if k is not None and self.rec is not None:
            r = self.rec[k]
            if offs is not None:
                r[1] = r[1] + [len(r[0]) + o for o in offs]
            r[0] += data
        i = len(self.q)
        while i and self.q[i - 1][0] > due:
            i -= 1
        self.q.insert(i, [due, data])

    def _urc(self, k, pos):
        j = self.inject
        if j is not None and j[0] == k and j[1] == pos:
            if len(j) > 3 and j[3]:
                self.cut = k  # a restart: the rest of this command's answer never comes
            return b"\r\n" + _enc(j[2]) + b"\r\n"
        return b""

    def _lookup(self, cmd):
        if cmd in self.table:
            return cmd
        best = None
        for key in self.table:
            if key[-1:] in "=," and cmd.startswith(key) and (best is None or len(key) > len(best)):
                best = key
        return best

    def _command(self, cmd):
        k = self.k
        self.k += 1
        self.sent.append(cmd)
        if self.rec is not None:
            self.rec.append([b"", []])
        key = self._lookup(cmd)
        e = self.table.get(key) if key is not None else None
        if e is not None and "seq" in e:
            n = self.calls.get(key, 0)
            self.calls[key] = n + 1
            e = e["seq"][min(n, len(e["seq"]) - 1)]
        due = self.c.t + (e.get("delay", 20) if e else 20)
        out = self._urc(k, 0)
        if self._cut(k, due, out):
            return
        out += cmd.encode() + b"\r" if self.echo else b""
        o1 = len(out)
        out += self._urc(k, 1)
        if self._cut(k, due, out):
            return
        if e is None:
            self._finish(k, due, out, [0, o1], "ERROR", ())
            return
        if e.get("prompt"):
            self.need = int(cmd.split(",")[-1])
            self.data = b""
            self.pending = (k, e, due)
            self._at(due, out + b"\r\n> ", k, [0, o1])
            return
        if "when" in e:
            lines = e["lines"] if self.state.get(e["when"]) else e["else"]
        else:
            lines = e.get("lines", [])
        for line in lines:
            out += b"\r\n" + _enc(line) + b"\r\n"
        if "recv" in e:
            d, self.last = self.last, b""
            head = e["recv"] % len(d) if d else e["recv"].split("%")[0] + "0"
            out += b"\r\n" + _enc(head) + d + b"\r\n"
        if "sets" in e:
            self.state[e["sets"]] = True
        if e.get("echo") is False and not self.keep_echo:
            self.echo = False
        self._finish(k, due, out, [0, o1], e.get("final", "OK"), e.get("after", ()))

    def _send_done(self):
        k, e, due = self.pending
        self.last = b"ACK:" + self.data
        self._finish(k, max(due, self.c.t) + 20, b"", [], e.get("final", "OK"), e.get("after", ()))

    def _finish(self, k, due, out, offs, final, after):
        # the answer's end: [URC] final [URC], then the URCs the command causes
        o2 = len(out)
        out += self._urc(k, 2)
        if self._cut(k, due, out):
            return
        out += b"\r\n" + _enc(final) + b"\r\n"
        o3 = len(out)
        out += self._urc(k, 3)
        self._at(due, out, k, offs + [o2, o3])
        if self._cut(k, due, b""):
            return
        for d, line in after:
            self._at(due + d, b"\r\n" + _enc(line) + b"\r\n", k)

    def _cut(self, k, due, out):
        # After an injected restart banner (inject[3]) the rest of the answer never comes: the module rebooted (echo
        # on again, no data context, no data mode).
        if self.cut != k:
            return False
        self.cut = None
        self._at(due, out, k)
        self.echo = True
        self.state = {}
        self.need = 0
        return True


def virtual(clock):
    # The firmware's modules read time from `time`; on the fake clock instead (module globals, as both runtimes allow)
    import sys
    for name in ("net.link", "net.cellular", "net.cellpower", "net.sim7080g", "net.bg9x"):
        try:
            __import__(name)
        except ImportError:  # an older firmware without that module (tests run against it to show a bug)
            continue
        m = sys.modules[name]
        if hasattr(m, "time"):
            m.time = clock


def driver(d):
    # only the dialect's own module, as a board imports it (both would crowd a board-sized heap)
    import sys
    __import__(d["module"])
    return getattr(sys.modules[d["module"]], d["cls"])


def recorder():
    # An AT engine that notes, per command, how the driver called it: [command, resp, data, raw, inline, the prefix
    # expect() armed before it, [prefix, line] of a wait() after it, its result]
    from net.at import AT, ATError

    class Rec(AT):
        def __init__(self, *a, **kw):
            AT.__init__(self, *a, **kw)
            self.calls = []
            self._exp = None

        def expect(self, prefix):
            self._exp = prefix
            AT.expect(self, prefix)

        def _run(self, command, timeout_ms, resp, data, raw, inline, deadline):
            c = [command, resp, data, raw, inline, self._exp, None, None]
            self._exp = None
            self.calls.append(c)
            try:
                r = AT._run(self, command, timeout_ms, resp, data, raw, inline, deadline)
            except ATError as e:
                c[7] = ["err", e.kind]
                raise
            c[7] = ["ok", r, self._payload if raw else None]
            return r

        def wait(self, prefix, timeout_ms, deadline=None):
            r = AT.wait(self, prefix, timeout_ms, deadline)
            if self.calls:
                self.calls[-1][6] = [prefix, r]
            return r

    return Rec


def run_link(d, inject=None, chunk=0, keep_echo=False, record=False):
    # up(), send(), time() and down(psm=False) against the transcript; what came out, as plain data
    from net.at import AT
    cls = driver(d)
    clock = Clock()
    virtual(clock)
    m = Modem(clock, d["table"], inject, chunk, keep_echo)
    if record:
        m.rec = []
    at = (recorder() if record else AT)(m, clock=clock, banners=cls.BANNERS)
    link = cls(m, d["cfg"], at=at)
    out = {}
    out["up"] = link.up(120000)
    out["up_err"] = link.last_error
    out["up_ms"] = clock.t
    r = link.send(b"rec-1", 5000) if out["up"] else None
    out["reply"] = r.decode() if r else None
    out["send_err"] = link.last_error
    out["time"] = link.time() if out["up"] else None
    out["time_err"] = link.last_error
    link.down(psm=False)
    out["down_err"] = link.last_error
    i = link.info()
    for key in ("iccid", "imsi", "imei", "fw", "registration", "operator", "act", "psm", "rssi"):
        out[key] = i[key]
    out["history"] = i["history"]
    out["ms"] = clock.t
    at.poll(0)  # what came after the last command is read by the next one, whenever that is
    out["stray"] = at.stray
    out["restarts"] = at.restarts
    out["sent"] = m.sent
    if record:
        out["calls"] = at.calls
        out["rec"] = m.rec
    return out


class Feed:
    # A UART that releases its chunks [[ms, bytes], ...] from the first write (the command) on.
    def __init__(self, clock, chunks):
        self.c = clock
        self.chunks = chunks
        self.t0 = None
        self.buf = b""

    def write(self, b):
        if self.t0 is None:
            self.t0 = self.c.t
        return len(b)

    def any(self):
        while self.t0 is not None and self.chunks and self.t0 + self.chunks[0][0] <= self.c.t:
            self.buf += self.chunks.pop(0)[1]
        return len(self.buf)

    def read(self, n):
        self.any()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def replay(urcs, banners, call, chunks):
    # One command of a recorded run again, on a fresh engine with the driver's URC registrations (urcs, handlers
    # spied on): what it returned, what the wait after it returned, which URC lines reached which registration.
    from net.at import AT, ATError
    command, resp, data, raw, inline, exp, wait = call[:7]
    clock = Clock()
    at = AT(Feed(clock, chunks), clock=clock, banners=banners)
    seen = []

    def spy(prefix, handler):
        def h(line):
            seen.append([prefix, line])
            if handler is not None:
                handler(line)
        return h

    # the same registrations in the same order (those made with on(), then the known() ones), each one spied on
    at._urcs = [(u[0], spy(u[0], u[1]), u[2]) for u in urcs[0]] + [(p, spy(p, None), None) for t in urcs[1] for p in t]
    if exp is not None:
        at.expect(exp)
    w = None
    try:
        r = at._run(command, 5000, resp, data, raw, inline, None)
        r = ["ok", r, at._payload if raw else None]
        if wait is not None:
            w = [wait[0], at.wait(wait[0], 3000)]
    except ATError as e:
        r = ["err", e.kind]
    at.poll(20)  # what comes after the final result is read by whatever reads next
    return r, w, seen, at.stray
'''
