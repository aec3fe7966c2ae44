"""The module and its radio: power states, PWRKEY, DTR and UART sleep, the SIM and registration over virtual time,
PSM with its periodic TAU, idle with DRX or eDRX, coverage outages, and the power state told to the board.

``Radio`` builds on the line discipline (``v250.py``) and answers its hooks: the UART listens only while the
module is on and awake (``uart_listens``), queued bytes die with the power (``uart_sends``), and every poll runs
the radio's own clock (``tick``: periodic TAU, PSM entry, power state). The TS 27.007 layer above changes the
radio's state only through the verbs below (``set_cfun``, ``set_attach``, ``request_psm``, ``request_edrx``,
``set_uart_sleep``, ``set_pdn``, ``traffic``, ``transmitted``) and hears from it through ``boot_urcs``,
``awake_tick`` and ``power_lost``.

Power states (``power_state``, told to ``on_power``): "off"; "psm"; "tau" (the periodic tracking-area update
burst); "tx"; "connected" (RRC connected, no data); "idle" (registered or not, the module awake: its UART sleep
is off, or the UART was used just now); "idle_drx" / "idle_edrx" (registered, RRC idle, the module asleep between
paging occasions of the DRX cycle / of the granted eDRX cycle's paging time window). ``power_figure(state)`` gives
the current of the states whose figure depends on the network (``modems/power.py``); the board file gives the rest.
UART sleep and DTR: see ``uart_asleep`` and ``dtr``.
"""

from . import power
from .network import REGISTRATIONS
from .power import codings
from .v250 import V250

RRC_INACTIVITY_MS = 10_000  # connected -> idle after this long without traffic (network setting; rough)
TX_MS = 80  # airtime of one small datagram on LTE-M, rough
# With its UART sleep enabled (SIM7080G AT+CSCLK=1, Quectel AT+QSCLK=1) a module sleeps once the host leaves the
# UART alone. The manuals give no delay; the model takes 1 s after the last byte from the host (an assumption).
UART_QUIET_MS = 1000

class Radio(V250):
    BOOT_MS = 4000  # power-on until the UART answers
    PWRKEY_ON_MS = 1000  # shortest press that powers on (or wakes from PSM)
    PWRKEY_OFF_MS = 1200  # shortest press that powers off
    PWRKEY_OFF_MAX_MS = None  # longest press that still powers off (None: no upper bound)
    PWRKEY_RESET_MS = None  # a press at least this long restarts a running module (None: no such function)
    BOOT_URCS = (b"RDY",)
    POWER_DOWN_URC = b"NORMAL POWER DOWN"
    PROFILE = None  # modems/power.py: what the module draws in idle and for a TAU (None: no such figures)
    DTR_WAKE_MS = 50  # from DTR low until a sleeping module's UART listens again (family figure, see there)

    def __init__(self, clock, scenario: dict | None = None):
        super().__init__(clock, scenario)
        self.t0 = self.now_ms()
        self._on_power = None
        self.power_state = None
        self.state = "off"  # off | booting | on | psm
        self._pressed_at = None
        self.pwrkey_used = False
        # The DTR line as the host drives it. Not driven (no board wiring, or the MCU not yet up) it reads high:
        # BG96 Hardware Design 3.4.1 asks for DTR "held in high level or keep it open" for sleep, i.e. open is high.
        self.dtr_level = 1
        self.dtr_at = self.t0  # virtual ms of the last DTR change
        self.uart_back_at = 0  # virtual ms when the UART listens again after DTR went low on a sleeping module
        self.ignored = 0  # bytes the host sent while the module's UART slept (lost, as on the module)
        # The layers above set their fixed state before this runs and their per-start state in _reset_state.
        self._reset_state()
        if self.sc.power_on:
            self._boot(self.t0, delay=0)
        self._update_power(self.t0)

    @property
    def on_power(self):
        return self._on_power

    @on_power.setter
    def on_power(self, cb):
        """callable(state): told the current state at once, then every change."""
        self._on_power = cb
        if cb is not None and self.power_state is not None:
            cb(self.power_state)

    def _reset_state(self):
        super()._reset_state()
        self.cfun = 1
        self.detached = False  # AT+CGATT=0
        self.psm_req = None  # (t3412, t3324) as requested with AT+CPSMS
        self.edrx_req = None  # (AcT-type, eDRX value) as requested with AT+CEDRXS
        self.sclk = 0  # UART sleep (family command); 0 after every start, as on the modules
        self.tau_until = 0  # virtual ms when the current periodic TAU burst ends
        self.taus = []  # virtual ms of each periodic TAU, for tests and diagnostics
        self.reg_at = None  # virtual ms when the attach completes
        self.registered_once = False
        self.ctx_active = False  # a PDN connection (PDP context) is up
        self.last_traffic = -10**12
        self.last_activity = self.now_ms() if self.clock else 0  # the host's last byte, the boot or the PSM wake
        self.tx_until = 0

    # -- the verbs the layers above use ----------------------------------------------------------------------
    def set_cfun(self, fun: int, now_ms: int):
        """AT+CFUN=<fun> (TS 27.007 8.2): 1 full functionality, 0 minimum, 4 RF off (kept as set: +CFUN? reads it);
        back to full, the registration takes a moment again."""
        self.cfun = fun
        if fun == 1 and self.reg_at is not None:
            self.reg_at = max(self.reg_at, now_ms + 2000)

    def set_attach(self, attached: bool, now_ms: int):
        """AT+CGATT=<state> (TS 27.007 10.1.9): detach from / attach to the packet domain (on LTE, the EPS attach:
        detached, the module is not registered; attached again, the attach takes a moment)."""
        self.detached = not attached
        if attached and self.reg_at is not None:
            self.reg_at = max(self.reg_at, now_ms + 2000)

    def request_psm(self, timers):
        """(T3412, T3324) bit strings as AT+CPSMS requests them, or None: no PSM."""
        self.psm_req = timers

    def request_edrx(self, req):
        """(AcT-type, eDRX value) as AT+CEDRXS requests them, or None: no eDRX."""
        self.edrx_req = req

    def set_uart_sleep(self, on: int):
        """The family's UART sleep switch (AT+CSCLK / AT+QSCLK): 1 sleep while DTR is high."""
        self.sclk = on

    def set_pdn(self, active: bool):
        self.ctx_active = bool(active)

    def traffic(self, now_ms: int):
        """Data or signalling on the radio just now: RRC connected until RRC_INACTIVITY_MS later."""
        self.last_traffic = now_ms

    def transmitted(self, now_ms: int):
        """One datagram sent: transmitting for TX_MS, then connected."""
        self.last_traffic = now_ms
        self.tx_until = now_ms + TX_MS

    # -- hooks for the layers above --------------------------------------------------------------------------
    def boot_urcs(self):
        return list(self.BOOT_URCS)

    def awake_tick(self, now_ms: int):
        """Runs on every poll while the module is on (the layers above: sockets, registration URCs)."""

    def power_lost(self):
        """The module lost its power (the data layer closes its sockets)."""

    def act(self) -> int:
        return 7  # TS 27.007 <AcT> 7 E-UTRAN (CAT-M reports this); 9 E-UTRAN NB-S1

    # -- registration ----------------------------------------------------------------------------------------
    def rel(self, now_ms: int) -> int:
        return now_ms - self.t0

    def stat(self, now_ms: int) -> int:
        """+CEREG <stat> now (3GPP TS 27.007 section 10.1.22)."""
        if (self.state not in ("on", "psm") or self.cfun != 1 or self.detached or not self.sc.sim_present
                or self.sc.pin_locked):
            return 0
        reg = self.sc.registration
        if reg == "searching" or self.reg_at is None:
            return 2
        if self.sc.in_outage(self.rel(now_ms)) and self.state != "psm":
            return 2
        if now_ms < self.reg_at:
            return 2
        if reg == "denied":
            return 3
        self.registered_once = True
        return REGISTRATIONS[reg]

    def registered(self, now_ms: int) -> bool:
        return self.stat(now_ms) in (1, 5)

    def psm_granted(self):
        """(t3412, t3324) the network grants, or None."""
        if self.psm_req is None or not self.sc.psm_grant:
            return None
        return (self.sc.psm_t3412 or self.psm_req[0], self.sc.psm_t3324 or self.psm_req[1])

    def psm_timers_s(self):
        """(T3412, T3324) granted, in seconds (None: deactivated), decoded as the firmware encodes them; or None
        when PSM is not granted."""
        g = self.psm_granted()
        if g is None:
            return None
        link = codings()
        return link.t3412_s(g[0]), link.t3324_s(g[1])

    def edrx_granted(self):
        """(cycle_ms, ptw_ms) of the eDRX the network grants, or None. The network answers the value the UE asked
        for with AT+CEDRXS (TS 27.007 7.40), or its own, and always sets the paging time window itself (TS 24.008
        10.5.5.32; TS 23.682 4.5.13.1). The request is taken as sent with the attach or the next TAU."""
        if not self.edrx_req or not self.sc.edrx_grant:
            return None
        nb = self.act() == 9
        if self.edrx_req[0] != ("5" if nb else "4"):
            return None  # asked for the other radio access technology (AcT-type 4 WB-S1, 5 NB-S1)
        cycle = codings().edrx_ms(self.sc.edrx_cycle or self.edrx_req[1])
        ptw = power.ptw_ms(self.sc.edrx_ptw, nb)
        if cycle is None or ptw is None:
            return None
        return cycle, ptw

    # -- power -----------------------------------------------------------------------------------------------
    def _boot(self, now_ms: int, delay=None):
        self._reset_state()
        self.state = "booting"
        self.hold(now_ms + (self.BOOT_MS if delay is None else delay))
        self.schedule(self.busy_until, self._booted)

    def _booted(self, now_ms: int):
        self.state = "on"
        if self.sc.sim_present and self.sc.registration != "searching":
            self.reg_at = now_ms + self.sc.attach_ms
            if self.sc.in_outage(self.rel(self.reg_at)):
                self.reg_at = self.t0 + self.sc.outage_end(self.rel(self.reg_at))
        self.last_activity = now_ms
        for u in self.boot_urcs():
            self.emit(b"\r\n" + u + b"\r\n")

    def power_off(self, now_ms: int | None = None, urc: bool = True):
        if urc and self.state in ("on", "booting"):
            self.emit(b"\r\n" + self.POWER_DOWN_URC + b"\r\n")
        self.power_lost()
        self.state = "off"
        self.cancel_timers()
        self._update_power(self.now_ms() if now_ms is None else now_ms)

    def power_on(self, now_ms: int | None = None):
        if self.state == "off":
            self._boot(self.now_ms() if now_ms is None else now_ms)

    def reset(self, now_ms: int):
        """An unexpected restart: all state lost, the boot URCs again after the boot time."""
        super().reset(now_ms)
        self._boot(now_ms)
        self._update_power(now_ms)

    def pwrkey(self, level: int, now_ms: int):
        """The PWRKEY line as the board's GPIO drives it: 1 = key pressed (pulled low through the transistor)."""
        self.pwrkey_used = True
        if level and self._pressed_at is None:
            self._pressed_at = now_ms
            return
        if level or self._pressed_at is None:
            return
        held = now_ms - self._pressed_at
        self._pressed_at = None
        running = self.state in ("on", "booting")
        if self.state == "off" and held >= self.PWRKEY_ON_MS:
            self._boot(now_ms)
        elif self.state == "psm" and held >= self.PWRKEY_ON_MS // 10:
            self._wake(now_ms)
        elif running and self.PWRKEY_RESET_MS is not None and held >= self.PWRKEY_RESET_MS:
            self.reset(now_ms)
        elif running and held >= self.PWRKEY_OFF_MS and (self.PWRKEY_OFF_MAX_MS is None
                                                         or held <= self.PWRKEY_OFF_MAX_MS):
            self.power_off(now_ms)
        self._update_power(now_ms)

    def _wake(self, now_ms: int):
        # Leaving PSM keeps the registration and the PDN connection: no new attach (TS 23.682 4.5.4 / TS 24.301).
        self.state = "on"
        self.last_activity = now_ms
        self.hold(max(self.busy_until, now_ms + 100))

    def _power_now(self, now_ms: int) -> str:
        if self.state == "off":
            return "off"
        if self.state == "psm":
            return "psm"
        if now_ms < self.tx_until:
            return "tx"
        if now_ms < self.tau_until:
            return "tau"
        if self.ctx_active and now_ms - self.last_traffic < RRC_INACTIVITY_MS:
            return "connected"
        if self._asleep(now_ms):
            return "idle_edrx" if self.edrx_granted() else "idle_drx"
        return "idle"

    def _asleep(self, now_ms: int) -> bool:
        """Idle and asleep between paging occasions: registered, RRC idle, UART sleep enabled, DTR high and the host
        quiet. Without UART sleep the module stays awake whatever the DRX cycle (SIM7000 Series Hardware Design V1.09
        5.3.2: with AT+CSCLK=0 the module never enters sleep mode; eDRX alone leaves it at its idle current,
        botletics/SIM7000-LTE-Shield#253)."""
        if self.PROFILE is None:
            return False
        return self.uart_asleep(now_ms) and self.registered(now_ms)

    def _quiet_since(self) -> int:
        # the host's last byte or DTR's last change, whichever is later: both keep the module awake (SIM800-family
        # hardware design: "data on serial port" is an interrupt that keeps it from sleeping)
        return max(self.last_activity, self.dtr_at)

    def uart_asleep(self, now_ms: int) -> bool:
        """The module sleeps and its UART does not listen: sleep enabled (AT+CSCLK=1 / AT+QSCLK=1), DTR high, and
        UART_QUIET_MS without a byte from the host or a DTR change; or DTR went low on a sleeping module less than
        DTR_WAKE_MS ago (the UART is not back yet)."""
        if not self.sclk or self.state != "on":
            return False
        if not self.dtr_level:
            return now_ms < self.uart_back_at
        return now_ms - self._quiet_since() >= UART_QUIET_MS

    def dtr(self, level: int, now_ms: int):
        """The DTR line as the board's GPIO drives it (1 high: the module may sleep; 0 low: it wakes and stays
        awake). SIM7080G (LilyGO's T-SIM7080G MinimalModemSleepMode example, after AT+CSCLK=1): DTR high, the module
        sleeps and the serial port cannot communicate; DTR low wakes it. BG96/BG77 Hardware Design 3.4.1 (UART
        application): DTR high or open with AT+QSCLK=1 lets it sleep; "Driving the host DTR to low level will wake
        up the module"."""
        self.poll(now_ms)
        level = 1 if level else 0
        if level == self.dtr_level:
            return
        if not level and self.uart_asleep(now_ms):
            self.uart_back_at = now_ms + self.DTR_WAKE_MS
        self.dtr_level = level
        self.dtr_at = now_ms
        self._update_power(now_ms)

    def power_figure(self, state: str):
        """(mA, source) of a state whose current depends on the network (the DRX cycle, the granted eDRX, the
        radio access technology), from the module's figures; (None, None) for the states the board file gives."""
        if self.PROFILE is None:
            return None, None
        return power.figure(self.PROFILE, state, self.act() == 9, self.sc.drx_ms, self.edrx_granted())

    def tau_burst(self):
        """(ms, mC) of one periodic TAU of this module on its current radio access technology."""
        return self.PROFILE.tau(self.act() == 9) if self.PROFILE else (0, 0.0)

    def _update_power(self, now_ms: int):
        s = self._power_now(now_ms)
        if s != self.power_state:
            self.power_state = s
            if self._on_power:
                self._on_power(s)

    # -- NAS timers ------------------------------------------------------------------------------------------
    def nas_idle_since(self):
        """Virtual ms since when the modem is in EMM-IDLE: the end of its last connection (the attach, data
        traffic, a TAU). T3412 and T3324 start there (TS 24.301 5.3.5 and 5.3.11)."""
        return max(self.reg_at, self.last_traffic + RRC_INACTIVITY_MS, self.tau_until)

    def tau_due_ms(self):
        """Virtual ms of the next periodic TAU (T3412 granted with PSM runs out), or None."""
        if self.state not in ("on", "psm") or self.reg_at is None or self.sc.registration not in ("home", "roaming"):
            return None
        t = self.psm_timers_s()
        if t is None or not t[0]:
            return None  # no PSM (the network's own T3412 without PSM is not modelled), or T3412 deactivated
        return self.nas_idle_since() + t[0] * 1000

    def _periodic_tau(self, now_ms: int):
        """T3412 ran out: the modem leaves PSM if it is there (TS 23.682 4.5.4), does a periodic TAU (TS 24.301
        5.5.3.2: a short connected burst; without pending data the network releases it at once, TS 24.301
        5.5.3.2.4), then stays reachable for T3324 before PSM again. After a long skip, every TAU that fell in it."""
        ms = self.tau_burst()[0]
        while ms:
            t = self.tau_due_ms()
            if t is None or t > now_ms:
                return
            self.state = "on"
            self.tau_until = t + ms
            self.taus.append(t)

    def psm_entry_ms(self):
        """Virtual ms when the modem will enter PSM on its own, or None."""
        t = self.psm_timers_s()
        if t is None or self.state != "on" or self.reg_at is None or self.sc.registration == "denied":
            return None
        active = t[1]
        if active is None:
            return None
        quiet = max(self.nas_idle_since(), self.last_activity)
        return quiet + active * 1000

    def next_change_ms(self):
        """The next virtual ms at which this model changes by itself (reply due, power state, periodic TAU), or
        None: a board that skips time (deep sleep) should poll() at that time so the energy timeline is exact."""
        first = super().next_change_ms()  # the line discipline's next reply or timed event
        cands = [] if first is None else [first]
        quiet = self._quiet_since() + UART_QUIET_MS if self.sclk and self.dtr_level else None
        for t in (self.tx_until, self.last_traffic + RRC_INACTIVITY_MS, self.psm_entry_ms(), self.reg_at,
                  self.tau_due_ms(), self.tau_until, quiet, self.uart_back_at):
            if t is not None and t > self.now_ms():
                cands.append(t)
        return min(cands) if cands else None

    # -- the line discipline's hooks -------------------------------------------------------------------------
    def uart_listens(self, data: bytes, now_ms: int) -> bool:
        if self.state == "psm" and not self.pwrkey_used and self.sc.pwrkey_wired is not True:
            self._wake(now_ms)  # boards without PWRKEY wiring: any UART activity wakes (a simplification)
            return False
        if self.state != "on":
            return False  # powered off, booting or asleep: the UART does not listen
        if self.uart_asleep(now_ms):
            self.ignored += len(data)  # the module sleeps with DTR high: its UART does not listen (uart_asleep)
            return False
        self.last_activity = now_ms
        return True

    def uart_sends(self, payload: bytes) -> bool:
        return self.state in ("on", "booting") or payload.startswith(b"\r\n" + self.POWER_DOWN_URC)

    def tick(self, now_ms: int):
        self._periodic_tau(now_ms)
        if self.state == "on":
            self.awake_tick(now_ms)
            t = self.psm_entry_ms()
            if t is not None and now_ms >= t and self.registered(now_ms):
                self.state = "psm"
        self._update_power(now_ms)
