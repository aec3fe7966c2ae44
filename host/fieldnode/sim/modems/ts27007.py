"""The 3GPP TS 27.007 commands every simulated modem answers the same way: identity (ATI, +CGMI, +CGMM, +CGMR,
+CGSN), errors (+CMEE), the SIM (+CPIN, +CIMI), the network (+CSQ, +CEREG and its URC, +COPS, +CGATT, +CFUN), the
power-saving requests (+CPSMS, +CEDRXS, +CEDRXRDP), the PDP context (+CGDCONT) and network time (+CTZU, +CCLK).

``TS27007`` builds on the radio (``radio.py``): it reads the radio's state and changes it only through the radio's
verbs. A family (``sim7080g.py``, ``bg9x.py``) adds its own commands with ``add_commands`` and overrides what its
manual answers differently (``cgmr``, ``time_update``, ``apn_for_data``).
"""

import time

from .radio import Radio
from .v250 import CMD_MS

# +CME ERROR codes (3GPP TS 27.007 section 9.2.1) and their verbose text (AT+CMEE=2)
CME_TEXT = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted", 11: "SIM PIN required",
            13: "SIM failure", 14: "SIM busy", 30: "no network service", 50: "incorrect parameters",
            100: "unknown"}


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
            "&W": lambda k, a, t: self.reply(t),
            "+CGMI": lambda k, a, t: self.reply(t, (self.MANUFACTURER,)),
            "+CGMM": lambda k, a, t: self.reply(t, (self.MODEL.upper(),)),
            "+CGMR": lambda k, a, t: self.reply(t, (self.cgmr(),)),
            "+CMEE": self._cmee,
            "+CPIN": self._cpin,
            "+CIMI": self._cimi,
            "+CSQ": lambda k, a, t: self.reply(t, (f"+CSQ: {self.rssi_csq(t)},99",)),
            "+CEREG": self._cereg,
            "+COPS": self._cops,
            "+CPSMS": self._cpsms,
            "+CEDRXS": self._cedrxs,
            "+CEDRXRDP": self._cedrxrdp,
            "+CGDCONT": self._cgdcont,
            "+CFUN": self._cfun,
            "+CGATT": lambda k, a, t: self.reply(t, (f"+CGATT: {1 if self.registered(t) else 0}",)),
            "+CTZU": self._ctzu,
            "+CCLK": self._cclk,
        }
        c["+GSN"] = c["+CGSN"] = lambda k, a, t: self.reply(t, (self.sc.imei,))
        self.add_commands(c)

    def _reset_state(self):
        super()._reset_state()
        self.cmee = 0
        self.cereg_n = 0
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
        if k == "set" and a and a[0] in ("0", "1"):
            self.ctzu = int(a[0])
            return self.reply(t)
        if k == "read":
            return self.reply(t, (f"+CTZU: {self.ctzu}",))
        if k == "test":
            return self.reply(t, ("+CTZU: (0,1)",))
        return self.error(t, 50)

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

    def _cmee(self, k, a, t):
        if k == "set" and a and a[0] in ("0", "1", "2"):
            self.cmee = int(a[0])
            return self.reply(t)
        if k == "read":
            return self.reply(t, (f"+CMEE: {self.cmee}",))
        return self.error(t, 50)

    def _cpin(self, k, a, t):
        # TS 27.007 8.3: +CPIN: READY | SIM PIN ...
        if k != "read":
            return self.error(t, 3)
        if self._sim_error(t):
            return
        self.reply(t, ("+CPIN: SIM PIN" if self.sc.pin_locked else "+CPIN: READY",))

    def _cimi(self, k, a, t):
        if self._sim_error(t):
            return
        self.reply(t, (self.sc.imsi,))

    # -- the network -----------------------------------------------------------------------------------------
    def cereg_line(self, t: int, urc: bool) -> str:
        st = self.stat(t)
        head = "+CEREG: " if urc else f"+CEREG: {self.cereg_n},"
        s = f"{head}{st}"
        if self.cereg_n >= 2 and st in (1, 5):
            s += f',"1A2B","01A2D0{self.act():02X}",{self.act()}'
            g = self.psm_granted()
            if self.cereg_n >= 4 and g is not None:
                s += f',,,"{g[1]}","{g[0]}"'
        return s

    def _cereg(self, k, a, t):
        if k == "set":
            if not a or a[0] not in ("0", "1", "2", "3", "4", "5"):
                return self.error(t, 50)
            self.cereg_n = int(a[0])
            self._last_stat = self.stat(t)
            return self.reply(t)
        if k == "read":
            return self.reply(t, (self.cereg_line(t, urc=False),))
        if k == "test":
            return self.reply(t, ("+CEREG: (0-5)",))
        return self.error(t, 4)

    def _cops(self, k, a, t):
        if k == "read":
            if self.registered(t):
                return self.reply(t, (f'+COPS: 0,0,"{self.sc.operator}",{self.act()}',), delay=50)
            return self.reply(t, ("+COPS: 0",), delay=50)
        if k == "set":
            return self.reply(t, delay=200)
        return self.error(t, 4)

    def _cfun(self, k, a, t):
        if k == "set" and a and a[0] in ("0", "1", "4"):
            self.set_cfun(a[0] == "1", t)
            return self.reply(t, delay=200)
        if k == "read":
            return self.reply(t, (f"+CFUN: {self.cfun}",))
        return self.error(t, 50)

    def _cgdcont(self, k, a, t):
        if k == "set":
            if len(a) < 3 or a[0] != "1":
                return self.error(t, 50)
            self.apn = a[2]
            return self.reply(t)
        if k == "read":
            return self.reply(t, (f'+CGDCONT: 1,"IP","{self.apn or ""}","0.0.0.0",0,0',))
        return self.error(t, 4)

    # -- power saving --------------------------------------------------------------------------------------
    def _cpsms(self, k, a, t):
        # TS 27.007 7.38: AT+CPSMS=<mode>[,<RAU>,<GPRS-READY>,<TAU>,<Active-Time>]
        if k == "set":
            if not a or a[0] not in ("0", "1", "2"):
                return self.error(t, 50)
            if a[0] == "1":
                tau = a[3] if len(a) > 3 and a[3] else "00100001"
                act = a[4] if len(a) > 4 and a[4] else "00100001"
                if len(tau) != 8 or len(act) != 8 or tau.strip("01") or act.strip("01"):
                    return self.error(t, 50)
                self.request_psm((tau, act))
            else:
                self.request_psm(None)
            return self.reply(t)
        if k == "read":
            if self.psm_req is None:
                return self.reply(t, ("+CPSMS: 0,,,,",))
            return self.reply(t, (f'+CPSMS: 1,,,"{self.psm_req[0]}","{self.psm_req[1]}"',))
        return self.error(t, 4)

    def _cedrxs(self, k, a, t):
        # TS 27.007 7.40: AT+CEDRXS=<mode>,<AcT-type>,<Requested_eDRX_value>
        if k == "set":
            if not a or a[0] not in ("0", "1", "2", "3"):
                return self.error(t, 50)
            self.request_edrx(tuple(a[1:3]) if a[0] in ("1", "2") and len(a) >= 3 else None)
            return self.reply(t)
        if k == "read":
            if not self.edrx_req:
                return self.reply(t, ("+CEDRXS: ",))
            return self.reply(t, (f'+CEDRXS: {self.edrx_req[0]},"{self.edrx_req[1]}"',))
        return self.error(t, 4)

    def _cedrxrdp(self, k, a, t):
        # TS 27.007 7.41: +CEDRXRDP: <AcT-type>[,<Requested_eDRX_value>[,<NW-provided_eDRX_value>
        # [,<Paging_time_window>]]]; AcT-type 0: eDRX not in use
        if k != "exec":
            return self.error(t, 4)
        if not self.edrx_req or not self.registered(t) or self.edrx_granted() is None:
            return self.reply(t, ("+CEDRXRDP: 0",))
        nw = self.sc.edrx_cycle or self.edrx_req[1]
        self.reply(t, (f'+CEDRXRDP: {self.edrx_req[0]},"{self.edrx_req[1]}","{nw}","{self.sc.edrx_ptw}"',))

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
