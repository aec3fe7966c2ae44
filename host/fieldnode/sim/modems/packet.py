"""The 3GPP TS 27.007 packet-domain and power-saving commands every simulated modem answers the same way: the PDP
contexts (+CGDCONT, +CGACT, +CGPADDR), the attach (+CGATT), PSM (+CPSMS) and eDRX (+CEDRXS with its +CEDRXP URC,
+CEDRXRDP).

``Packet`` builds on the standard commands (``ts27007.py``) and changes the radio only through its verbs
(``set_attach``, ``request_psm``, ``request_edrx``). A family overrides the test forms its manual gives
(``CGDCONT_TEST``) and the address its data connection gets (``PDP_ADDR``).
"""

from .ts27007 import TS27007

PDP_TYPES = ("IP", "IPV6", "IPV4V6", "PPP", "Non-IP")  # TS 27.007 10.1.1 <PDP_type>
DEFAULT_TIMER = "00100001"  # the model's T3412/T3324 when AT+CPSMS=1 gives none (no manual gives a default)


class Packet(TS27007):
    PDP_ADDR = "10.160.0.17"  # the address the network assigns to the default bearer (one for every model)
    # TS 27.007 10.1.1 test form: one line per PDP type, +CGDCONT: (range of <cid>s),<PDP_type>,,,(list of
    # <d_comp>s),(list of <h_comp>s)...; the family gives its own ranges.
    CGDCONT_TEST = ('+CGDCONT: (1-15),"IP",,,(0-2),(0-4)',)

    def _reset_state(self):
        super()._reset_state()
        self.contexts = {1: "IP"}  # <cid> -> <PDP_type>; cid 1, the default bearer, is defined at boot
        self.psm_timers = None  # the last (T3412, T3324) AT+CPSMS gave, read back even with PSM off (mode 0)
        self.edrx_mode = 0
        self._cedrxp_sent = False

    def __init__(self, clock, scenario=None):
        super().__init__(clock, scenario)
        self.add_commands({
            "+CGDCONT": self._cgdcont, "+CGACT": self._cgact, "+CGPADDR": self._cgpaddr, "+CGATT": self._cgatt,
            "+CPSMS": self._cpsms, "+CEDRXS": self._cedrxs, "+CEDRXRDP": self._cedrxrdp,
        })

    def awake_tick(self, now_ms: int):
        super().awake_tick(now_ms)
        # TS 27.007 7.40: with AT+CEDRXS=2 the MT reports the eDRX parameters the network gives, +CEDRXP:
        # <AcT-type>[,<Requested_eDRX_value>[,<NW-provided_eDRX_value>[,<Paging_time_window>]]], when they come
        # (here: with the attach, once until the next request)
        if self.edrx_mode == 2 and not self._cedrxp_sent and self.registered(now_ms) and self.edrx_granted():
            self._cedrxp_sent = True
            self.emit(f"\r\n+CEDRXP: {self._edrx_fields()}\r\n".encode())

    # -- PDP contexts ----------------------------------------------------------------------------------------
    def bearer_up(self, now_ms: int) -> bool:
        """The default bearer (cid 1) is up: on LTE it comes with the attach (TS 23.401 5.3.2)."""
        return self.registered(now_ms) and 1 in self.contexts

    def _cgdcont(self, k, a, t):
        # TS 27.007 10.1.1: AT+CGDCONT=<cid>[,<PDP_type>[,<APN>...]]; only <cid> undefines the context; read one
        # line per defined context, +CGDCONT: <cid>,<PDP_type>,<APN>,<PDP_addr>,<d_comp>,<h_comp>
        if k == "set":
            if not a or not a[0].isdigit() or not 1 <= int(a[0]) <= 15:
                return self.error(t, 50)
            cid = int(a[0])
            if len(a) == 1:
                self.contexts.pop(cid, None)
                if cid == 1:
                    self.apn = None
                return self.reply(t)
            if a[1].upper() not in [p.upper() for p in PDP_TYPES]:
                return self.error(t, 50)
            self.contexts[cid] = next(p for p in PDP_TYPES if p.upper() == a[1].upper())
            if cid == 1:
                self.apn = a[2] if len(a) > 2 else ""
            return self.reply(t)
        if k == "read":
            lines = [f'+CGDCONT: {cid},"{pt}","{(self.apn or "") if cid == 1 else ""}","0.0.0.0",0,0'
                     for cid, pt in sorted(self.contexts.items())]
            return self.reply(t, lines)
        if k == "test":
            return self.reply(t, self.CGDCONT_TEST)
        return self.error(t, 4)

    def _cgact(self, k, a, t):
        # TS 27.007 10.1.10: read one line per defined context, +CGACT: <cid>,<state>; test +CGACT: (0,1);
        # AT+CGACT=<state>[,<cid>]: the default bearer follows the attach, so activation needs the registration
        if k == "read":
            up = self.bearer_up(t)
            return self.reply(t, [f"+CGACT: {cid},{1 if up and cid == 1 else 0}" for cid in sorted(self.contexts)])
        if k == "test":
            return self.reply(t, ("+CGACT: (0,1)",))
        if k == "set" and a and a[0] in ("0", "1"):
            if a[0] == "1" and not self.registered(t):
                return self.error(t, 30)
            return self.reply(t, delay=300)
        return self.error(t, 50)

    def _cgpaddr(self, k, a, t):
        # TS 27.007 10.1.14: AT+CGPADDR[=<cid>[,<cid>...]] -> +CGPADDR: <cid>[,<PDP_addr>] per context, the address
        # a string ("10.225.154.84" as a SORACOM transcript of AT+CGPADDR=1 gives it); test +CGPADDR: (<cid>s)
        if k == "test":
            return self.reply(t, ("+CGPADDR: (" + ",".join(str(c) for c in sorted(self.contexts)) + ")",))
        if k not in ("exec", "set"):
            return self.error(t, 4)
        cids = sorted(self.contexts)
        if k == "set":
            if not all(x.isdigit() for x in a):
                return self.error(t, 50)
            cids = [int(x) for x in a]
        lines = []
        for cid in cids:
            up = cid == 1 and self.bearer_up(t)
            lines.append(f'+CGPADDR: {cid},"{self.PDP_ADDR}"' if up else f"+CGPADDR: {cid}")
        self.reply(t, lines)

    def _cgatt(self, k, a, t):
        # TS 27.007 10.1.9: read +CGATT: <state>; test +CGATT: (0,1); set attaches or detaches
        if k == "read":
            return self.reply(t, (f"+CGATT: {1 if self.registered(t) else 0}",))
        if k == "test":
            return self.reply(t, ("+CGATT: (0,1)",))
        if k == "set" and a and a[0] in ("0", "1"):
            self.set_attach(a[0] == "1", t)
            return self.reply(t, delay=500)
        return self.error(t, 50)

    # -- power saving --------------------------------------------------------------------------------------
    def _cpsms(self, k, a, t):
        # TS 27.007 7.38: AT+CPSMS=<mode>[,<RAU>,<GPRS-READY>,<TAU>,<Active-Time>]; 0 PSM off (the timers kept),
        # 2 PSM off and the parameters discarded. Read +CPSMS: <mode>,[<RAU>],[<GPRS-READY>],[<TAU>],[<Active>]
        if k == "set":
            if not a or a[0] not in ("0", "1", "2", ""):
                return self.error(t, 50)
            if a[0] == "1":
                tau = a[3] if len(a) > 3 and a[3] else (self.psm_timers or (DEFAULT_TIMER,))[0]
                act = a[4] if len(a) > 4 and a[4] else (self.psm_timers or (None, DEFAULT_TIMER))[1]
                if len(tau) != 8 or len(act) != 8 or tau.strip("01") or act.strip("01"):
                    return self.error(t, 50)
                self.psm_timers = (tau, act)
                self.request_psm(self.psm_timers)
            else:
                if a[0] == "2":
                    self.psm_timers = None
                self.request_psm(None)
            return self.reply(t)
        if k == "read":
            mode = 0 if self.psm_req is None else 1
            if self.psm_timers is None:
                return self.reply(t, (f"+CPSMS: {mode},,,,",))
            return self.reply(t, (f'+CPSMS: {mode},,,"{self.psm_timers[0]}","{self.psm_timers[1]}"',))
        if k == "test":
            # TS 27.007 7.38 test form, as modules print it: +CPSMS: (0-2),,,("00000000"-"11111111"),(...)
            return self.reply(t, ('+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")',))
        return self.error(t, 4)

    def _cedrxs(self, k, a, t):
        # TS 27.007 7.40: AT+CEDRXS=<mode>,<AcT-type>,<Requested_eDRX_value>; mode 0 off, 1 on, 2 on with the
        # +CEDRXP URC, 3 off and the parameters discarded. Read: one +CEDRXS: <AcT-type>,<value> line per AcT with
        # eDRX on, none at all when it is off; test +CEDRXS: (0-3),(4,5),("0000"-"1111") (4 WB-S1, 5 NB-S1)
        if k == "set":
            if not a or a[0] not in ("0", "1", "2", "3"):
                return self.error(t, 50)
            if a[0] in ("1", "2") and (len(a) < 3 or a[1] not in ("4", "5") or len(a[2]) != 4 or a[2].strip("01")):
                return self.error(t, 50)
            self.edrx_mode = int(a[0]) if a[0] in ("1", "2") else 0
            self._cedrxp_sent = False
            self.request_edrx(tuple(a[1:3]) if a[0] in ("1", "2") else None)
            return self.reply(t)
        if k == "read":
            if not self.edrx_req:
                return self.reply(t)
            return self.reply(t, (f'+CEDRXS: {self.edrx_req[0]},"{self.edrx_req[1]}"',))
        if k == "test":
            return self.reply(t, ('+CEDRXS: (0-3),(4,5),("0000"-"1111")',))
        return self.error(t, 4)

    def _edrx_fields(self) -> str:
        nw = self.sc.edrx_cycle or self.edrx_req[1]
        return f'{self.edrx_req[0]},"{self.edrx_req[1]}","{nw}","{self.sc.edrx_ptw}"'

    def _cedrxrdp(self, k, a, t):
        # TS 27.007 7.41: +CEDRXRDP: <AcT-type>[,<Requested_eDRX_value>[,<NW-provided_eDRX_value>
        # [,<Paging_time_window>]]]; AcT-type 0: eDRX not in use. The test form answers OK.
        if k == "test":
            return self.reply(t)
        if k != "exec":
            return self.error(t, 4)
        if not self.edrx_req or not self.registered(t) or self.edrx_granted() is None:
            return self.reply(t, ("+CEDRXRDP: 0",))
        self.reply(t, (f"+CEDRXRDP: {self._edrx_fields()}",))
