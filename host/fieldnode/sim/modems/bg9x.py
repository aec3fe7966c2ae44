"""Quectel BG95 / BG96 / BG77 as their AT dialect says: "BG95 Series AT Commands Manual" / "BG96 AT Commands Manual"
(AT+QCFG, AT+QCCID, AT+QPOWD, cited by command title) and the "BG95&BG77&BG600L Series TCP/IP Application Note" /
"BG96 TCP/IP Application Note" (cited as "TCP/IP AN" with its section: 2.3.x commands, 2.4.x URCs, chapter 4
error codes).

``BG9x`` is what the three share; ``BG95`` (the BG95-M3), ``BG96`` and ``BG77`` override only where their own
documents differ: the identity ATI gives, the radios they have (and so the AT+QCFG="nwscanmode"/"nwscanseq" values
they take), the PWRKEY timing of each Hardware Design, the boot URCs and the power profile. The board file's
``modem.type`` picks the class (``fieldnode.parts.MODEMS``).
"""

from . import power
from .base import ATModem

QI_TEXT = {0: "operation successful", 561: "open PDP context failed", 563: "socket identity has been used",
           565: "DNS parse failed", 566: "socket connect failed", 567: "socket has been closed",
           572: "operation not allowed"}


class BG9x(ATModem):
    """The family. Not built on its own: a board file names the module (BG95, BG96 or BG77)."""

    MANUFACTURER = "Quectel"
    BOOT_MS = 4500  # rough: PWRKEY to RDY (the turn-on timing pages of the hardware designs were not reachable)
    PWRKEY_OFF_MS = 650  # BG95&BG96 Compatible Design 4.3.2, BG95 Series / BG77 Hardware Design 3.6.2.1: >= 650 ms
    POWER_DOWN_URC = b"POWERED DOWN"
    # From DTR low until a sleeping module's UART listens: not published for the BG95/BG96/BG77 (their hardware
    # design says only that DTR low wakes the module). Quectel's GSM UART Application Note V1.0, 6.2 DTR, gives
    # "about 600ms" for its GSM modules; taken as a conservative stand-in.
    DTR_WAKE_MS = 600
    APP_RDY = True  # "APP RDY" follows "RDY" at boot
    # AT+QCFG="nwscanseq" <scanseq> codes (AT Commands Manual, AT+QCFG "Configure RAT Searching Sequence", as
    # LooUQ's BG96 driver quotes its table): 00 automatic (LTE Cat M1, then Cat NB1, then GSM), 01 GSM, 02 LTE Cat M1
    # (eMTC), 03 LTE Cat NB1/NB2; a sequence is codes in order, e.g. 020301. RATS: this module's radios in their
    # automatic order. 00, the default, reads back as that order itself, as the modules answer: an EC25 set to 00
    # reads 0301020405 (1NCE's EC25 guide), and a public BG95/BG96 setup script expects 020301 after setting 00.
    RATS = ("02", "03", "01")
    SCANMODES = ("0", "1", "3")  # AT+QCFG="nwscanmode": a BG95-M3 answers the test form with (0,1,3)

    def __init__(self, clock, scenario=None):
        if self.NAME is None:
            raise TypeError("BG9x is the family: build BG95, BG96 or BG77 (fieldnode.sim.modems.create)")
        self.qcfg = {"nwscanmode": "0", "iotopmode": "2", "nwscanseq": "".join(self.RATS), "band": ("0", "0", "0")}
        self.qicsgp = {}
        self.qierr = 0
        super().__init__(clock, scenario)
        self.add_commands({
            "+QCCID": self._qccid, "+QCFG": self._qcfg, "+QICSGP": self._qicsgp, "+QIACT": self._qiact,
            "+QIDEACT": self._qideact, "+QIOPEN": self._qiopen, "+QISEND": self._qisend, "+QIRD": self._qird,
            "+QICLOSE": self._qiclose, "+QISTATE": self._qistate, "+QIGETERROR": self._qigeterror,
            "+QPOWD": self._qpowd, "+QNWINFO": self._qnwinfo, "+QLTS": self._qlts,
            # AT Commands Manual, AT+QSCLK "Enable/Disable Sleep Mode": 0 disable, 1 enable (sleep while DTR high)
            "+QSCLK": lambda k, a, t: self._sleep_clock(k, a, t, "QSCLK"),
        })

    def boot_urcs(self):
        urcs = [b"RDY", *([b"APP RDY"] if self.APP_RDY else []), b"+CFUN: 1"]
        if self.sc.sim_present:
            urcs += [b"+CPIN: READY", b"+QUSIM: 1", b"+QIND: SMS DONE"]
        else:
            urcs.append(b"+CPIN: NOT INSERTED")
        return urcs

    def act(self):
        return 9 if self.qcfg["iotopmode"] == "1" else 7

    def apn_for_data(self):
        return self.qicsgp.get("apn") or self.apn

    # AT Commands Manual, AT+QLTS "Obtain the Latest Time Synchronized Through Network": AT+QLTS[=<mode>], mode 0
    # the latest time synchronized (local), 1 the current GMT time, 2 the current local time; answers
    # +QLTS: "<yyyy/MM/dd,hh:mm:ss±zz>,<dst>", or an empty string when the network has not given the time.
    def _qlts(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+QLTS: (0-2)",))
        if k == "read":
            return self.error(t, 4)
        mode = a[0] if a else "0"
        if mode not in ("0", "1", "2"):
            return self.error(t, 50)
        ms = self.network_time_ms(t, need_update=False)  # the time the network gave, whatever AT+CTZU says
        if ms is None:
            return self.reply(t, ('+QLTS: ""',))
        if mode == "0":
            ms = self.reg_at if self.reg_at is not None else ms
        tz = self.sc.tz
        text = self.clock_text(ms, 0 if mode == "1" else tz, year4=True)
        if mode == "1":
            text = text[:-3] + f"{'-' if tz < 0 else '+'}{abs(tz):02d}"  # GMT time, the zone still given
        self.reply(t, (f'+QLTS: "{text},0"',))

    def _qccid(self, k, a, t):
        if self._sim_error(t):
            return
        self.reply(t, (f"+QCCID: {self.sc.iccid}",))

    def _scanseq_ok(self, seq: str) -> bool:
        """A <scanseq> this module takes: 00 (automatic), or its RATs' codes in some order, each at most once."""
        if seq == "00":
            return True
        codes = [seq[i:i + 2] for i in range(0, len(seq), 2)]
        return (bool(codes) and len(seq) % 2 == 0 and len(set(codes)) == len(codes)
                and all(c in self.RATS for c in codes))

    # AT Commands Manual, AT+QCFG "Extended Configuration Settings": "nwscanmode", "nwscanseq", "iotopmode", "band";
    # AT+QCFG="<name>" reads the setting back as +QCFG: "<name>",<value>
    def _qcfg(self, k, a, t):
        if k != "set" or not a or a[0] not in self.qcfg:
            return self.error(t, 50)
        name = a[0]
        if len(a) == 1:  # query form: AT+QCFG="iotopmode"
            v = self.qcfg[name]
            v = ",".join(v) if isinstance(v, tuple) else v
            return self.reply(t, (f'+QCFG: "{name}",{v}',))
        if name == "band":
            if len(a) < 4:
                return self.error(t, 50)
            try:
                vals = tuple(str(int(x, 16)) and x for x in a[1:4])
            except ValueError:
                return self.error(t, 50)
            self.qcfg["band"] = vals
        elif name == "nwscanseq":
            if not self._scanseq_ok(a[1]):
                return self.error(t, 50)
            self.qcfg[name] = "".join(self.RATS) if a[1] == "00" else a[1]
        else:
            # "nwscanmode": 0 automatic, 1 GSM only, 3 LTE only (SCANMODES: those this module's radios allow);
            # "iotopmode": 0 eMTC, 1 NB-IoT, 2 both
            allowed = {"nwscanmode": self.SCANMODES, "iotopmode": ("0", "1", "2")}[name]
            if a[1] not in allowed:
                return self.error(t, 50)
            self.qcfg[name] = a[1]
        self.reply(t, delay=100)

    # TCP/IP AN 2.3.1 AT+QICSGP=<contextID>,<context_type>,<APN>,<username>,<password>,<authentication>
    def _qicsgp(self, k, a, t):
        if k == "set" and len(a) >= 3 and a[0].isdigit():
            self.qicsgp = {"ctx": int(a[0]), "apn": a[2], "user": a[3] if len(a) > 3 else ""}
            return self.reply(t)
        if k == "set" and len(a) == 1:
            return self.reply(t, (f'+QICSGP: 1,"{self.qicsgp.get("apn", "")}","{self.qicsgp.get("user", "")}","",0',))
        return self.error(t, 50)

    # TCP/IP AN 2.3.2 AT+QIACT: up to 150 s (network); read form +QIACT: <contextID>,<state>,<type>,<IP>
    def _qiact(self, k, a, t):
        if k == "read":
            lines = ['+QIACT: 1,1,1,"10.160.0.17"'] if self.ctx_active else []
            return self.reply(t, lines)
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        if not self.registered(t):
            self.qierr = 561
            return self.reply(t, (), "ERROR", delay=3000)
        if not self.apn_ok():
            self.qierr = 561  # the network rejects the PDN connection (ESM cause 27: missing or unknown APN)
            return self.reply(t, (), "ERROR", delay=2500)
        self.qierr = 0
        due = self.reply(t, delay=1500)
        self.schedule(due, self._activated)

    def _activated(self, now):
        self.set_pdn(True)
        self.traffic(now)

    # TCP/IP AN 2.3.3 AT+QIDEACT: up to 40 s
    def _qideact(self, k, a, t):
        self.set_pdn(False)
        for s in self.sockets.values():
            s.close()
        self.sockets = {}
        self.reply(t, delay=300)

    # TCP/IP AN 2.3.4 AT+QIOPEN=<contextID>,<connectID>,<service_type>,<IP_address>/<domain_name>,<remote_port>
    # [,<local_port>[,<access_mode>]]: OK, then +QIOPEN: <connectID>,<err>
    def _qiopen(self, k, a, t):
        if k != "set" or len(a) < 5 or not a[1].isdigit() or a[2] not in ("TCP", "UDP") or not a[4].isdigit():
            return self.error(t, 50)
        sid = int(a[1])
        due = self.reply(t)
        if sid in self.sockets:
            err = 563
        elif not self.ctx_active or not self.registered(t):
            err = 561
        else:
            fail = self.open_socket(sid, a[2], a[3], int(a[4]))
            err = {None: 0, "dns": 565, "refused": 566}[fail]
        self.qierr = err
        self.traffic(t)
        self.urc(due + (self.sc.rtt_ms if a[2] == "TCP" else 200), f"+QIOPEN: {sid},{err}")

    # TCP/IP AN 2.3.7 AT+QISEND=<connectID>,<send_length>: '>', data, then SEND OK / SEND FAIL / ERROR
    def _qisend(self, k, a, t):
        if k != "set" or len(a) < 2 or not a[0].isdigit() or not a[1].isdigit():
            return self.error(t, 50)
        sid, n = int(a[0]), int(a[1])
        if sid not in self.sockets or not 0 < n <= 1460:
            return self.reply(t, (), "ERROR")
        self.prompt(t, n, lambda data, now, sid=sid: self._sent(sid, data, now))

    def _sent(self, sid, data, now):
        if self.socket_send(sid, data, now):
            self.reply(now, (), "SEND OK", delay=self.sc.rtt_ms // 4)
        else:
            self.reply(now, (), "ERROR", delay=200)

    def on_socket_data(self, sid, now_ms):
        # TCP/IP AN 2.4.2: in buffer access mode one +QIURC: "recv" until the buffer has been read empty
        s = self.sockets.get(sid)
        if s is not None and self.state == "on" and not getattr(s, "announced", False):
            s.announced = True
            self.traffic(now_ms)
            self.emit(f'\r\n+QIURC: "recv",{sid}\r\n'.encode())

    def on_socket_closed(self, sid, now_ms):
        # TCP/IP AN 2.4.1 +QIURC: "closed",<connectID>
        if sid in self.sockets and self.state == "on":
            self.emit(f'\r\n+QIURC: "closed",{sid}\r\n'.encode())

    # TCP/IP AN 2.3.8 AT+QIRD=<connectID>[,<read_length>] -> +QIRD: <read_actual_length><CR><LF><data>
    def _qird(self, k, a, t):
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        s = self.sockets.get(int(a[0]))
        if s is None:
            return self.reply(t, (), "ERROR")
        n = int(a[1]) if len(a) > 1 and a[1].isdigit() else 1500
        data = s.take(min(n, 1500))
        if not s.pending():
            s.announced = False
        self.reply(t, (b"+QIRD: %d\r\n%s" % (len(data), data) if data else b"+QIRD: 0",))

    # TCP/IP AN 2.3.5 AT+QICLOSE=<connectID>: up to 10 s
    def _qiclose(self, k, a, t):
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        s = self.sockets.pop(int(a[0]), None)
        if s is not None:
            s.close()
        self.reply(t, delay=100)

    # TCP/IP AN 2.3.6 AT+QISTATE: +QISTATE: <connectID>,<service_type>,<IP>,<remote_port>,<local_port>,
    # <socket_state>,<contextID>,<serverID>,<access_mode>,<AT_port>
    def _qistate(self, k, a, t):
        self.reply(t, [f'+QISTATE: {sid},"{s.proto}","{s.addr[0]}",{s.addr[1]},0,{4 if s.closed_by_peer else 2},'
                       f'1,0,0,"uart1"' for sid, s in self.sockets.items()])

    # TCP/IP AN, AT+QIGETERROR "Query the Last Error Code"
    def _qigeterror(self, k, a, t):
        self.reply(t, (f"+QIGETERROR: {self.qierr},{QI_TEXT.get(self.qierr, 'unknown error')}",))

    # AT Commands Manual, AT+QPOWD=1 normal power down: OK, then POWERED DOWN
    def _qpowd(self, k, a, t):
        due = self.reply(t)
        self.schedule(due + 300, lambda now: self.power_off(now))

    # AT Commands Manual, AT+QNWINFO "Query Network Information"
    def _qnwinfo(self, k, a, t):
        if not self.registered(t):
            return self.reply(t, ("+QNWINFO: No Service",))
        rat = "NBIoT" if self.act() == 9 else "eMTC"
        self.reply(t, (f'+QNWINFO: "{rat}","44010","LTE BAND 19",6200',))


# -- the three modules ---------------------------------------------------------------------------------------------
# ATI answers: "Quectel / <model> / Revision: <revision>" as modules print it (V.250 I, TS 27.007 +CGMM/+CGMR): the
# BG95-M3 line from a module's own transcript (lukejenkins/cwd, reference/quectel/bg95m3: BG95M3LAR02A03); the
# BG96 and BG77 lines as public driver code and router documentation quote them (BG96MAR02A07M1G, BG77LAR02A04).

class BG95(BG9x):
    """BG95-M3: LTE Cat M1, Cat NB2 and EGPRS, the BG95 variant with GSM (the M1/M2 are LTE only and not modelled):
    a BG95-M3's own AT+QCFG=? answers "nwscanmode",(0,1,3) and "nwscanseq",(00-010203) (lukejenkins/cwd)."""

    NAME = "bg95"
    MODEL = "BG95-M3"
    REVISION = "BG95M3LAR02A03"
    PWRKEY_ON_MS = 500  # turn-on press 500-1000 ms as the firmware's note has it; the HD page was not reachable
    # BG95 Series Hardware Design 3.6.2.1: "Driving PWRKEY low for 650-1500 ms and then release it, the module will
    # execute power-down procedure"; a longer press is no power-down. Its note to 3.6.1: the chipset has the reset
    # function integrated into PWRKEY. The reset press itself is the BG77's (BG77 HD 3.7, 2-3.8 s): the BG95's own
    # reset timing page was not reachable.
    PWRKEY_OFF_MAX_MS = 1500
    PWRKEY_RESET_MS = 2000
    PROFILE = power.PROFILES["bg95"]


class BG96(BG9x):
    """BG96: LTE Cat M1, Cat NB1 and EGPRS (its product description, as Zerynth's BG96 driver documents it). A RESET_N
    pin of its own (PWRKEY does not reset it, ST's BG96 driver after BG96 HD V1.4); no "APP RDY" at boot."""

    NAME = "bg96"
    MODEL = "BG96"
    REVISION = "BG96MAR02A07M1G"
    APP_RDY = False
    # Turn-on: at least 100 ms as the firmware's note has it (ST's BG96 driver, after BG96 HD V1.4, holds 500 ms);
    # the HD page was not reachable. Turn-off: "at least 650ms for BG96", no upper bound (BG95&BG96 Compatible
    # Design 4.3.2).
    PWRKEY_ON_MS = 100
    PROFILE = power.PROFILES["bg96"]


class BG77(BG9x):
    """BG77: LTE Cat M1 and Cat NB2 only, no GSM (its product description, as thingpilot/quectel_bg77 quotes it):
    AT+QCFG takes no GSM RAT."""

    NAME = "bg77"
    MODEL = "BG77"
    REVISION = "BG77LAR02A04"
    RATS = ("02", "03")  # so 00 reads back as 0203 (the BG95's order without GSM; a BG77's own answer not reached)
    SCANMODES = ("0", "3")  # no "1" (GSM only): the module has no GSM radio; its manual's range was not reachable
    PWRKEY_ON_MS = 500  # as the BG95's (the HD turn-on page was not reachable)
    # BG77 Hardware Design 3.6.2.1: power-down "for a duration between 650ms and 1500ms"; 3.7: RESET_N is
    # multiplexed from PWRKEY, "reset by driving RESET_N low for a duration between 2s and 3.8s".
    PWRKEY_OFF_MAX_MS = 1500
    PWRKEY_RESET_MS = 2000
    PROFILE = power.PROFILES["bg77"]
