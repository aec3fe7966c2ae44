"""The 3GPP TS 27.007 commands every simulated modem answers the same way: identity (ATI, +CGMI, +CGMM, +CGMR,
+CGSN), errors (+CMEE), the SIM (+CPIN, +CIMI), the network (+CSQ, +CESQ, +CREG/+CGREG/+CEREG and their URCs,
+COPS, +CFUN) and network time (+CTZU, +CCLK). The packet domain and power saving are the layer above
(``packet.py``).

``TS27007`` builds on the radio (``radio.py``): it reads the radio's state and changes it only through the radio's
verbs. A family (``sim7080g.py``, ``bg9x.py``) adds its own commands with ``add_commands`` and overrides what its
manual answers differently (``cgmr``, ``time_update``, ``apn_for_data``).
"""

import time

from .radio import Radio
from .v250 import CMD_MS

# +CME ERROR codes and their verbose text (AT+CMEE=2): 3GPP TS 27.007 section 9.2.1 (general) and 9.2.2 (GPRS and
# EPS), as the spec spells them (lower case but "Incorrect parameters")
CME_TEXT = {0: "phone failure", 1: "no connection to phone", 2: "phone-adaptor link reserved",
            3: "operation not allowed", 4: "operation not supported", 5: "PH-SIM PIN required",
            10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure",
            14: "SIM busy", 15: "SIM wrong", 16: "incorrect password", 17: "SIM PIN2 required",
            18: "SIM PUK2 required", 20: "memory full", 21: "invalid index", 22: "not found", 23: "memory failure",
            30: "no network service", 31: "network timeout", 32: "network not allowed - emergency calls only",
            50: "Incorrect parameters", 100: "unknown", 103: "Illegal MS", 106: "Illegal ME",
            107: "GPRS services not allowed", 111: "PLMN not allowed", 112: "Location area not allowed",
            113: "Roaming not allowed in this location area", 132: "service option not supported",
            133: "requested service option not subscribed", 134: "service option temporarily out of order",
            148: "unspecified GPRS error", 149: "PDP authentication failure", 150: "invalid mobile class"}
# The cell the models camp on, one set of figures for every command that reports it (+CREG/+CEREG, +COPS, +CPSI,
# +QNWINFO, +QCSQ, +CESQ): TAC and cell id as +CEREG's hex strings, the PLMN 440-10 (NTT DOCOMO), LTE band 19.
TAC = "1A2B"
PLMN = "44010"
RSRQ_DB = -10  # reference signal received quality, dB (a good cell)
SINR_DB = 15  # signal to interference and noise, dB
RSRP_BELOW_RSSI_DB = 20  # RSRP is per resource element: about 20 dB below the wideband RSSI on a 1.4 MHz carrier


class TS27007(Radio):
    NAME = None  # the board file's modem.type this model stands for (the scenario's "model" must agree)
    MODEL = "modem"
    MANUFACTURER = "Generic"
    REVISION = "1.0"

    def __init__(self, clock, scenario: dict | None = None):
        super().__init__(clock, scenario)
        if self.sc.model is not None and self.NAME is not None and self.sc.model != self.NAME:
            from ...errors import ConfigError

            raise ConfigError(f"modem scenario: model {self.sc.model!r} disagrees with the board's modem "
                              f"{self.NAME!r}", "drop \"model\" from the scenario: the board file's modem.type "
                              "chooses the model")
        c = {
            "I": lambda k, a, t: self.reply(t, (self.MANUFACTURER, self.MODEL.upper(),
                                                f"Revision: {self.REVISION}")),
            # TS 27.007 5.1-5.4 (+CGMI, +CGMM, +CGMR, +CGSN) and V.250 6.1.4 (+GSN): the execution form answers
            # the text; the test form only OK
            "+CGMI": self._ident(lambda: self.MANUFACTURER),
            "+CGMM": self._ident(lambda: self.MODEL.upper()),
            "+CGMR": self._ident(self.cgmr),
            "+GSN": self._ident(lambda: self.sc.imei),
            "+CGSN": self._ident(lambda: self.sc.imei),
            "+CMEE": self._cmee,
            # TS 27.007 8.3: read +CPIN: READY | SIM PIN ...; the test form answers OK; others +CME ERROR 3
            "+CPIN": self._sim_ident(lambda: "+CPIN: SIM PIN" if self.sc.pin_locked else "+CPIN: READY", "read", 3),
            "+CIMI": self._sim_ident(lambda: self.sc.imsi),  # TS 27.007 5.6: execution answers <IMSI>
            "+CSQ": self._csq,
            "+CESQ": self._cesq,
            "+CREG": lambda k, a, t: self._xreg(k, a, t, "CREG"),
            "+CGREG": lambda k, a, t: self._xreg(k, a, t, "CGREG"),
            "+CEREG": self._cereg,
            "+COPS": self._cops,
            "+CFUN": self._cfun,
            "+CTZU": self._ctzu,
            "+CCLK": self._cclk,
        }
        self.add_commands(c)

    def _reset_state(self):
        super()._reset_state()
        self.cmee = 0
        self.cereg_n = 0
        self.xreg_n = {"CREG": 0, "CGREG": 0}  # TS 27.007 7.2 +CREG / 10.1.20 +CGREG <n>
        self._last_xstat = 0
        self.ctzu = 0  # TS 27.007 8.40 +CTZU: automatic time zone update from NITZ, off until asked for
        self.apn = None
        self._last_stat = 0

    # -- what the lower layers ask -------------------------------------------------------------------------
    def error(self, now_ms: int, code: int = 100, delay=CMD_MS):
        # TS 27.007 9.1 +CMEE: 0 plain ERROR, 1 numeric +CME ERROR: <err>, 2 verbose
        if self.cmee == 1:
            return self.reply(now_ms, (), f"+CME ERROR: {code}", delay)
        if self.cmee == 2:
            return self.reply(now_ms, (), f"+CME ERROR: {CME_TEXT.get(code, 'unknown')}", delay)
        return super().error(now_ms, code, delay)

    def awake_tick(self, now_ms: int):
        # TS 27.007 10.1.22: with AT+CEREG=n (n >= 1) every change of <stat> is announced as +CEREG: <stat>...
        super().awake_tick(now_ms)
        st = self.stat(now_ms)
        if st != self._last_stat:
            self._last_stat = st
            if self.cereg_n:
                self.emit(b"\r\n" + self.cereg_line(now_ms, urc=True).encode() + b"\r\n")
        # TS 27.007 7.2 / 10.1.20: +CREG: <stat> and +CGREG: <stat> the same way, each with its own <n>
        if st != self._last_xstat:
            self._last_xstat = st
            for name, n in self.xreg_n.items():
                if n:
                    self.emit(b"\r\n" + self.xreg_line(name, now_ms, urc=True).encode() + b"\r\n")

    # -- what a family overrides -----------------------------------------------------------------------------
    def cgmr(self) -> str:
        return self.REVISION

    def apn_for_data(self):
        """The APN the data connection uses: AT+CGDCONT's, unless the family has its own command for it."""
        return self.apn

    def rssi_csq(self, now_ms: int) -> int:
        """+CSQ <rssi> (TS 27.007 section 8.5): (dBm + 113) / 2, 0..31; 99 when not known (no coverage)."""
        if self.state != "on" or self.sc.in_outage(self.rel(now_ms)) or self.sc.registration == "searching":
            return 99
        return max(0, min(31, (self.sc.rssi_dbm + 113) // 2))

    # -- network time --------------------------------------------------------------------------------------
    def time_update(self) -> bool:
        """Whether the modem takes its clock from NITZ (TS 27.007 8.40 +CTZU=1; a family may add its own)."""
        return self.ctzu == 1

    def network_time_ms(self, now_ms: int, need_update: bool = True):
        """UTC ms of the modem's clock as set from the network, or None: NITZ arrives with the registration
        (TS 24.301 EMM INFORMATION), only when the network sends it and time update is on. Once set, the modem's
        clock keeps running (the simulator's virtual time) until the modem loses power or restarts."""
        if not self.sc.nitz or (need_update and not self.time_update()):
            return None
        if not (self.registered_once or self.registered(now_ms)):
            return None
        return now_ms

    @staticmethod
    def clock_text(utc_ms: int, tz: int, year4: bool = False) -> str:
        """'yy/MM/dd,hh:mm:ss±zz' in local time (UTC + tz quarter hours), TS 27.007 8.15 <time>."""
        t = time.gmtime(utc_ms // 1000 + tz * 900)
        y = f"{t.tm_year:04d}" if year4 else f"{t.tm_year % 100:02d}"
        return (f"{y}/{t.tm_mon:02d}/{t.tm_mday:02d},{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
                f"{'-' if tz < 0 else '+'}{abs(tz):02d}")

    def _ctzu(self, k, a, t):
        # TS 27.007 8.40: AT+CTZU=<onoff> (0 disable, 1 enable automatic time zone update via NITZ); read
        # +CTZU: <onoff>
        return self._setting(k, a, t, "CTZU", ("0", "1"), "+CTZU: (0,1)")

    def _cclk(self, k, a, t):
        # TS 27.007 8.15: AT+CCLK? -> +CCLK: "yy/MM/dd,hh:mm:ss±zz", local time and the zone in quarter hours.
        # Without network time the model answers +CME ERROR (30 no network service before registration, 3 when
        # the network never sent NITZ or time update is off) rather than a made-up clock.
        if k == "read":
            ms = self.network_time_ms(t)
            if ms is None:
                return self.error(t, 30 if not (self.registered_once or self.registered(t)) else 3)
            return self.reply(t, (f'+CCLK: "{self.clock_text(ms, self.sc.tz)}"',))
        if k == "test":
            return self.reply(t)
        return self.error(t, 4)  # setting the modem's clock by hand is not modelled

    # -- the SIM and errors ----------------------------------------------------------------------------------
    def _sim_error(self, t) -> bool:
        if not self.sc.sim_present:
            self.error(t, 10)  # TS 27.007 9.2.1: 10 SIM not inserted
            return True
        return False

    def _ident(self, text):
        """An identity command (TS 27.007 5.1-5.4): execution answers text(), test answers OK, others ERROR."""
        def h(k, a, t):
            if k == "exec":
                return self.reply(t, (text(),))
            if k == "test":
                return self.reply(t)
            return self.error(t, 4)
        return h

    def _setting(self, k, a, t, name, allowed, test, delay=CMD_MS):
        """A numeric setting kept in self.<name in lower case>: AT+NAME=<v> with <v> one of allowed (an empty <v>,
        where allowed, is 0), read +NAME: <v>, test answers test; anything else +CME ERROR 50. The standard's
        (+CMEE, +CTZU) and the families' own (AT+CLTS, AT+CNMP, AT+CMNB) all take this shape."""
        if k == "set" and a and a[0] in allowed:
            setattr(self, name.lower(), int(a[0] or "0"))
            return self.reply(t, delay=delay)
        if k == "read":
            return self.reply(t, (f"+{name}: {getattr(self, name.lower())}",))
        if k == "test":
            return self.reply(t, (test,))
        return self.error(t, 50)

    def _cmee(self, k, a, t):
        # TS 27.007 9.1: AT+CMEE=[<n>] (omitted: 0), read +CMEE: <n>, test +CMEE: (0-2)
        return self._setting(k, a, t, "CMEE", ("0", "1", "2", ""), "+CMEE: (0-2)")

    def _sim_ident(self, text, form="exec", other_error=4):
        """A command that reads the SIM (TS 27.007 5.6 +CIMI, 8.3 +CPIN?, the families' ICCID commands): its
        ``form`` answers text(), +CME ERROR 10 without a SIM; the test form OK; others +CME ERROR ``other_error``."""
        def h(k, a, t):
            if k == "test":
                return self.reply(t)
            if k != form:
                return self.error(t, other_error)
            if self._sim_error(t):
                return
            self.reply(t, (text(),))
        return h

    # -- signal ----------------------------------------------------------------------------------------------
    def in_service(self, now_ms: int) -> bool:
        return self.rssi_csq(now_ms) != 99

    def rsrp_dbm(self) -> int:
        return self.sc.rssi_dbm - RSRP_BELOW_RSSI_DB

    def _csq(self, k, a, t):
        # TS 27.007 8.5: execution +CSQ: <rssi>,<ber> (ber 99: not known, as LTE modules answer); test
        # +CSQ: (0-31,99),(0-7,99)
        if k == "exec":
            return self.reply(t, (f"+CSQ: {self.rssi_csq(t)},99",))
        if k == "test":
            return self.reply(t, ("+CSQ: (0-31,99),(0-7,99)",))
        return self.error(t, 4)

    def _cesq(self, k, a, t):
        # TS 27.007 8.69: +CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>; on E-UTRAN the GSM and UMTS fields are
        # "not known" (99, 99, 255, 255); rsrq (RSRQ + 20) x 2 (0..34), rsrp RSRP + 141 (0..97), 255 not known.
        # Neither family's manual reached lists +CESQ: answered as the specification gives it.
        if k == "test":
            return self.reply(t, ("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)",))
        if k != "exec":
            return self.error(t, 4)
        if not self.in_service(t):
            return self.reply(t, ("+CESQ: 99,99,255,255,255,255",))
        rsrq = max(0, min(34, (RSRQ_DB + 20) * 2))
        rsrp = max(0, min(97, self.rsrp_dbm() + 141))
        self.reply(t, (f"+CESQ: 99,99,255,255,{rsrq},{rsrp}",))

    # -- the network -----------------------------------------------------------------------------------------
    def _cell_fields(self) -> str:
        """',<tac>,<ci>,<AcT>' of the cell camped on, as +CEREG (n >= 2) and +CREG/+CGREG (n = 2) append them."""
        return f',"{TAC}","01A2D0{self.act():02X}",{self.act()}'

    def cereg_line(self, t: int, urc: bool) -> str:
        st = self.stat(t)
        head = "+CEREG: " if urc else f"+CEREG: {self.cereg_n},"
        s = f"{head}{st}"
        if self.cereg_n >= 2 and st in (1, 5):
            s += self._cell_fields()
            g = self.psm_granted()
            if self.cereg_n >= 4 and g is not None:
                s += f',,,"{g[1]}","{g[0]}"'
        return s

    CEREG_N = ("0", "1", "2", "3", "4", "5")  # the <n> this module takes (TS 27.007 10.1.22: 0-5)
    CEREG_TEST = "+CEREG: (0-5)"

    def _cereg(self, k, a, t):
        if k == "set":
            if not a or a[0] not in self.CEREG_N + ("",):
                return self.error(t, 50)
            self.cereg_n = int(a[0] or "0")  # AT+CEREG=[<n>]: omitted is 0
            self._last_stat = self.stat(t)
            return self.reply(t)
        if k == "read":
            return self.reply(t, (self.cereg_line(t, urc=False),))
        if k == "test":
            return self.reply(t, (self.CEREG_TEST,))
        return self.error(t, 4)

    def xreg_line(self, name: str, t: int, urc: bool) -> str:
        """+CREG (TS 27.007 7.2) / +CGREG (10.1.20): <stat> mirrors the EPS registration, as an LTE-only module
        answers (a BG96 on LTE-M reads +CREG: 0,5 roaming, as its transcripts show); with <n>=2 and registered,
        <lac> (the TAC), <ci> and <AcT>."""
        n = self.xreg_n[name]
        st = self.stat(t)
        s = f"+{name}: {st}" if urc else f"+{name}: {n},{st}"
        if n >= 2 and st in (1, 5):
            s += self._cell_fields()
        return s

    def _xreg(self, k, a, t, name):
        if k == "set":
            if not a or a[0] not in ("0", "1", "2", ""):
                return self.error(t, 50)
            self.xreg_n[name] = int(a[0] or "0")
            self._last_xstat = self.stat(t)
            return self.reply(t)
        if k == "read":
            return self.reply(t, (self.xreg_line(name, t, urc=False),))
        if k == "test":
            return self.reply(t, (f"+{name}: (0-2)",))  # BG96 AT Commands Manual +CREG test, as its transcript gives
        return self.error(t, 4)

    def _cops(self, k, a, t):
        # TS 27.007 7.3: read +COPS: <mode>[,<format>,<oper>[,<AcT>]]; test +COPS: [list of (<stat>,long <oper>,
        # short <oper>,numeric <oper>[,<AcT>])s][,,(list of <mode>s),(list of <format>s)], as a BG96 answers it:
        # +COPS: (1,"SMART","SMART","51503",0),...,,(0,1,2,3,4),(0,1,2) (BG96 AT Commands Manual +COPS, as its
        # transcript gives it); <stat> 2 is the current operator. The scan takes seconds (up to 180 s in the manual).
        if k == "read":
            if self.registered(t):
                return self.reply(t, (f'+COPS: 0,0,"{self.sc.operator}",{self.act()}',), delay=50)
            return self.reply(t, ("+COPS: 0",), delay=50)
        if k == "test":
            op = self.sc.operator
            cells = f'(2,"{op}","{op}","{PLMN}",{self.act()}),' if self.in_service(t) else ""
            return self.reply(t, (f"+COPS: {cells},(0,1,2,3,4),(0,1,2)",), delay=5000)
        if k == "set":
            return self.reply(t, delay=200)
        return self.error(t, 4)

    CFUN_TEST = "+CFUN: (0,1,4),(0-1)"  # BG96 AT Commands Manual +CFUN test form; not reached for the SIM7080G

    def _cfun(self, k, a, t):
        # TS 27.007 8.2: AT+CFUN=<fun>[,<rst>], <fun> 0 minimum, 1 full, 4 RF off (read back as set); <rst> 1 resets
        if k == "set" and a and a[0] in ("0", "1", "4") and (len(a) < 2 or a[1] in ("0", "1")):
            if len(a) > 1 and a[1] == "1":
                self.reply(t, delay=200)
                return self.schedule(self.busy_until, self.reset)
            self.set_cfun(int(a[0]), t)
            return self.reply(t, delay=200)
        if k == "read":
            return self.reply(t, (f"+CFUN: {self.cfun}",))
        if k == "test":
            return self.reply(t, (self.CFUN_TEST,))
        return self.error(t, 50)

    def _sleep_clock(self, k, a, t, name):
        # The family's UART sleep switch (SIM7080G AT+CSCLK, Quectel AT+QSCLK): 0 never sleep (the default after
        # every start), 1 sleep while DTR is high. A board that does not wire DTR leaves it high: with 1, that
        # module sleeps whenever the host leaves the UART alone, and then no longer listens (radio.py).
        if k == "set" and a and a[0] in ("0", "1"):
            self.set_uart_sleep(int(a[0]))
            return self.reply(t)
        if k == "read":
            return self.reply(t, (f"+{name}: {self.sclk}",))
        if k == "test":
            return self.reply(t, (f"+{name}: (0,1)",))
        return self.error(t, 50)
