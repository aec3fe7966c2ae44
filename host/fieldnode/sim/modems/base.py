"""What every simulated 3GPP modem shares: the V.250 command line, power and PWRKEY, the SIM, registration over
virtual time, PSM with its periodic TAU, idle with DRX or eDRX, the 3GPP TS 27.007 commands, scheduled replies
and injected faults.

A family model (``sim7080g.py``, ``bg9x.py``) adds its own commands to ``self.commands`` and its sockets.
Bytes the MCU writes arrive in ``write()``; replies are queued with a due time on the virtual clock and
released by ``poll(now_ms)``, which the hardware bus calls before every read and after every sleep.

Power states (``power_state``, told to ``on_power``): "off"; "psm"; "tau" (the periodic tracking-area update
burst); "tx"; "connected" (RRC connected, no data); "idle" (registered or not, the module awake: its UART sleep
is off, or the UART was used just now); "idle_drx" / "idle_edrx" (registered, RRC idle, the module asleep between
paging occasions of the DRX cycle / of the granted eDRX cycle's paging time window). ``power_figure(state)`` gives
the current of the states whose figure depends on the network (``modems/power.py``); the board file gives the rest.

UART sleep and DTR: with the family's sleep switch on (SIM7080G AT+CSCLK=1, Quectel AT+QSCLK=1) the module sleeps
while its DTR input is high and the host has left the UART alone, and then does not listen on the UART: bytes sent to
it are lost (``ignored`` counts them) until DTR goes low and the UART is back (``DTR_WAKE_MS``). The board routes the
modem's DTR GPIO, when its board file wires one, to ``dtr(level, now_ms)``; an undriven DTR reads high.
"""

import re
import time

from ..devices import UARTDevice
from . import power
from .network import REGISTRATIONS, HostSocket, Scenario

RRC_INACTIVITY_MS = 10_000  # connected -> idle after this long without traffic (network setting; rough)
TX_MS = 80  # airtime of one small datagram on LTE-M, rough
CMD_MS = 20  # a simple command's turnaround
# With its UART sleep enabled (SIM7080G AT+CSCLK=1, Quectel AT+QSCLK=1) a module sleeps once the host leaves the
# UART alone. The manuals give no delay; the model takes 1 s after the last byte from the host (an assumption).
UART_QUIET_MS = 1000

_link = None


def codings():
    """firmware/net/link.py: the TS 24.008 timer codings (T3412, T3324) and eDRX cycle table the firmware sends
    with AT+CPSMS / AT+CEDRXS, imported once so that the model decodes with the very code that encoded."""
    global _link
    if _link is None:
        from ... import fwbridge

        _link = fwbridge.load("net.link")
    return _link

# +CME ERROR codes (3GPP TS 27.007 section 9.2.1) and their verbose text (AT+CMEE=2)
CME_TEXT = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted", 11: "SIM PIN required",
            13: "SIM failure", 14: "SIM busy", 30: "no network service", 50: "incorrect parameters",
            100: "unknown"}

_CMD_RE = re.compile(r"^(\+[A-Z0-9]+|&[A-Z]|[A-Z])(=\?|\?|=(.*))?$", re.S)


def split_args(s: str) -> list:
    """'1,"a,b",,3' -> ['1', 'a,b', '', '3'] (quotes removed, commas inside quotes kept)."""
    out, cur, q = [], [], False
    for ch in s:
        if ch == '"':
            q = not q
        elif ch == "," and not q:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


class ATModem(UARTDevice):
    MODEL = "modem"
    MANUFACTURER = "Generic"
    REVISION = "1.0"
    BOOT_MS = 4000  # power-on until the UART answers
    PWRKEY_ON_MS = 1000  # shortest press that powers on (or wakes from PSM)
    PWRKEY_OFF_MS = 1200  # shortest press that powers off
    BOOT_URCS = (b"RDY",)
    POWER_DOWN_URC = b"NORMAL POWER DOWN"
    PROFILE = None  # modems/power.py: what the module draws in idle and for a TAU (None: no such figures)
    DTR_WAKE_MS = 50  # from DTR low until a sleeping module's UART listens again (family figure, see there)

    def __init__(self, clock, scenario: dict | None = None):
        super().__init__(clock)
        self.sc = Scenario(scenario)
        self.t0 = self.now_ms()
        self._on_power = None
        self.power_state = None
        self.state = "off"  # off | booting | on | psm
        self.commands = {}
        self.received = []  # command lines as received, for tests and diagnostics
        self._line = bytearray()
        self._data_need = 0
        self._data_buf = bytearray()
        self._data_cb = None
        self._sched = []  # [due_ms, seq, payload(bytes) | callable]
        self._seq = 0
        self.busy_until = 0
        self._pressed_at = None
        self.pwrkey_used = False
        # The DTR line as the host drives it. Not driven (no board wiring, or the MCU not yet up) it reads high:
        # BG96 Hardware Design 3.4.1 asks for DTR "held in high level or keep it open" for sleep, i.e. open is high.
        self.dtr_level = 1
        self.dtr_at = self.t0  # virtual ms of the last DTR change
        self.uart_back_at = 0  # virtual ms when the UART listens again after DTR went low on a sleeping module
        self.ignored = 0  # bytes the host sent while the module's UART slept (lost, as on the module)
        self._reset_state()
        self._add_3gpp()
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

    # -- state ----------------------------------------------------------------------------------------------
    def _reset_state(self):
        self.echo = True  # V.250 default E1
        self.cmee = 0
        self.cereg_n = 0
        self.cfun = 1
        self.ctzu = 0  # TS 27.007 8.40 +CTZU: automatic time zone update from NITZ, off until asked for
        self.apn = None
        self.psm_req = None  # (t3412, t3324) as requested with AT+CPSMS
        self.edrx_req = None  # (AcT-type, eDRX value) as requested with AT+CEDRXS
        self.sclk = 0  # UART sleep (family command); 0 after every start, as on the modules
        self.tau_until = 0  # virtual ms when the current periodic TAU burst ends
        self.taus = []  # virtual ms of each periodic TAU, for tests and diagnostics
        self.reg_at = None  # virtual ms when the attach completes
        self.registered_once = False
        self.ctx_active = False
        self.last_traffic = -10**12
        self.last_activity = self.now_ms() if self.clock else 0
        self.tx_until = 0
        self.reset_pending = False
        self._last_stat = 0
        self._close_all()
        self.sockets = {}

    def _close_all(self):
        for s in getattr(self, "sockets", {}).values():
            s.close()

    def rel(self, now_ms: int) -> int:
        return now_ms - self.t0

    def stat(self, now_ms: int) -> int:
        """+CEREG <stat> now (3GPP TS 27.007 section 10.1.22)."""
        if self.state not in ("on", "psm") or not self.cfun or not self.sc.sim_present or self.sc.pin_locked:
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

    def rssi_csq(self, now_ms: int) -> int:
        """+CSQ <rssi> (TS 27.007 section 8.5): (dBm + 113) / 2, 0..31; 99 when not known (no coverage)."""
        if self.state != "on" or self.sc.in_outage(self.rel(now_ms)) or self.sc.registration == "searching":
            return 99
        return max(0, min(31, (self.sc.rssi_dbm + 113) // 2))

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

    # -- power ----------------------------------------------------------------------------------------------
    def _boot(self, now_ms: int, delay=None):
        self._reset_state()
        self.state = "booting"
        self.busy_until = now_ms + (self.BOOT_MS if delay is None else delay)
        self._at(self.busy_until, self._booted)

    def _booted(self, now_ms: int):
        self.state = "on"
        if self.sc.sim_present and self.sc.registration != "searching":
            self.reg_at = now_ms + self.sc.attach_ms
            if self.sc.in_outage(self.rel(self.reg_at)):
                self.reg_at = self.t0 + self.sc.outage_end(self.rel(self.reg_at))
        self.last_activity = now_ms
        for u in self.boot_urcs():
            self.emit(b"\r\n" + u + b"\r\n")

    def boot_urcs(self):
        return list(self.BOOT_URCS)

    def power_off(self, now_ms: int | None = None, urc: bool = True):
        if urc and self.state in ("on", "booting"):
            self.emit(b"\r\n" + self.POWER_DOWN_URC + b"\r\n")
        self._close_all()
        self.sockets = {}
        self.state = "off"
        self._sched = [e for e in self._sched if not callable(e[2])]
        self._update_power(self.now_ms() if now_ms is None else now_ms)

    def power_on(self, now_ms: int | None = None):
        if self.state == "off":
            self._boot(self.now_ms() if now_ms is None else now_ms)

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
        if self.state == "off" and held >= self.PWRKEY_ON_MS:
            self._boot(now_ms)
        elif self.state == "psm" and held >= self.PWRKEY_ON_MS // 10:
            self._wake(now_ms)
        elif self.state in ("on", "booting") and held >= self.PWRKEY_OFF_MS:
            self.power_off(now_ms)
        self._update_power(now_ms)

    def _wake(self, now_ms: int):
        # Leaving PSM keeps the registration and the PDN connection: no new attach (TS 23.682 4.5.4 / TS 24.301).
        self.state = "on"
        self.last_activity = now_ms
        self.busy_until = max(self.busy_until, now_ms + 100)

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
        radio access technology), from the module's figures (modems/power.py); (None, None) for the states the
        board file gives."""
        prof = self.PROFILE
        if prof is None:
            return None, None
        nb = self.act() == 9
        drx = self.sc.drx_ms
        if state == "idle_drx":
            return prof.drx_ma(drx), prof.idle_source(f"DRX {drx} ms")
        if state == "idle_edrx":
            g = self.edrx_granted()
            if g is None:
                return prof.drx_ma(drx), prof.idle_source(f"DRX {drx} ms")
            return (prof.edrx_ma(g[0], g[1], drx),
                    prof.idle_source(f"eDRX {g[0]} ms, PTW {g[1]} ms, DRX {drx} ms"))
        if state == "tau":
            ms, mc = prof.tau(nb)
            return mc / (ms / 1000.0), prof.tau_source(nb)
        return None, None

    def tau_burst(self):
        """(ms, mC) of one periodic TAU of this module on its current radio access technology."""
        return self.PROFILE.tau(self.act() == 9) if self.PROFILE else (0, 0.0)

    def _update_power(self, now_ms: int):
        s = self._power_now(now_ms)
        if s != self.power_state:
            self.power_state = s
            if self._on_power:
                self._on_power(s)

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
        cands = [e[0] for e in self._sched]
        quiet = self._quiet_since() + UART_QUIET_MS if self.sclk and self.dtr_level else None
        for t in (self.tx_until, self.last_traffic + RRC_INACTIVITY_MS, self.psm_entry_ms(), self.reg_at,
                  self.tau_due_ms(), self.tau_until, quiet, self.uart_back_at):
            if t is not None and t > self.now_ms():
                cands.append(t)
        return min(cands) if cands else None

    # -- the UART -------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        now = self.now_ms()
        self.poll(now)
        if self.state == "psm" and not self.pwrkey_used and self.sc.pwrkey_wired is not True:
            self._wake(now)  # boards without PWRKEY wiring: any UART activity wakes (a simplification)
            return
        if self.state != "on":
            return  # powered off, booting or asleep: the UART does not listen
        if self.uart_asleep(now):
            self.ignored += len(data)  # the module sleeps with DTR high: its UART does not listen (module docstring)
            return
        self.last_activity = now
        for b in data:
            if self._data_need:
                self._data_buf.append(b)
                if len(self._data_buf) >= self._data_need:
                    cb, buf = self._data_cb, bytes(self._data_buf)
                    self._data_need, self._data_buf, self._data_cb = 0, bytearray(), None
                    cb(buf, now)
                continue
            if b == 0x0D:  # V.250 S3: the command line ends with CR
                line = self._line.decode("latin-1")
                self._line = bytearray()
                if self.echo:
                    self.emit(line.encode("latin-1") + b"\r")
                self._command(line.strip(), now)
            elif b == 0x0A:
                continue
            elif b in (0x08, 0x7F):  # V.250 S5 backspace
                self._line = self._line[:-1]
            elif len(self._line) < 1024:
                self._line.append(b)

    def poll(self, now_ms: int) -> None:
        # Replies and timed events that are due, in order
        while self._sched:
            self._sched.sort(key=lambda e: (e[0], e[1]))
            due, _, what = self._sched[0]
            if due > now_ms:
                break
            self._sched.pop(0)
            if callable(what):
                what(due)
            elif self.state in ("on", "booting") or what.startswith(b"\r\n" + self.POWER_DOWN_URC):
                self.emit(what)
        self._periodic_tau(now_ms)
        if self.state == "on":
            self._net_poll(now_ms)
            st = self.stat(now_ms)
            if st != self._last_stat:
                self._last_stat = st
                if self.cereg_n:
                    self.emit(b"\r\n" + self.cereg_line(now_ms, urc=True).encode() + b"\r\n")
            t = self.psm_entry_ms()
            if t is not None and now_ms >= t and self.registered(now_ms):
                self.state = "psm"
        self._update_power(now_ms)

    def _net_poll(self, now_ms: int):
        for sid, s in list(self.sockets.items()):
            if s.poll(wait=True):
                self._at(now_ms + self.sc.rtt_ms, lambda t, sid=sid: self.on_socket_data(sid, t))
            if s.closed_by_peer and not getattr(s, "reported", False):
                s.reported = True
                self._at(now_ms + self.sc.rtt_ms, lambda t, sid=sid: self.on_socket_closed(sid, t))

    def on_socket_data(self, sid, now_ms):
        """Announce received data (family dialect)."""

    def on_socket_closed(self, sid, now_ms):
        """Announce a socket closed by the network (family dialect)."""

    # -- replies --------------------------------------------------------------------------------------------
    def _at(self, due: int, what):
        self._seq += 1
        self._sched.append([due, self._seq, what])

    def reply(self, now_ms: int, lines=(), final="OK", delay=CMD_MS):
        """Queue information text lines and a final result code, V.250 framed, after the modem's turnaround."""
        due = max(now_ms, self.busy_until) + delay
        self.busy_until = due
        # V.250 5.7.1: information text is <CR><LF>text<CR><LF>; lines of one response follow each other
        body = [ln.encode("latin-1") if isinstance(ln, str) else ln for ln in lines]
        out = b"\r\n" + b"\r\n".join(body) + b"\r\n" if body else b""
        if final:
            out += b"\r\n" + final.encode() + b"\r\n"
        self._at(due, out)
        return due

    def urc(self, due: int, text):
        self._at(due, b"\r\n" + (text.encode("latin-1") if isinstance(text, str) else text) + b"\r\n")

    def error(self, now_ms: int, code: int = 100, delay=CMD_MS):
        if self.cmee == 1:
            return self.reply(now_ms, (), f"+CME ERROR: {code}", delay)
        if self.cmee == 2:
            return self.reply(now_ms, (), f"+CME ERROR: {CME_TEXT.get(code, 'unknown')}", delay)
        return self.reply(now_ms, (), "ERROR", delay)

    def prompt(self, now_ms: int, n: int, cb, delay=CMD_MS):
        """'>' then collect exactly n bytes for cb(data, now_ms)."""
        due = max(now_ms, self.busy_until) + delay
        self.busy_until = due
        self._at(due, b"\r\n> ")
        self._data_need, self._data_buf, self._data_cb = n, bytearray(), cb

    # -- commands -------------------------------------------------------------------------------------------
    def _command(self, line: str, now: int):
        if not line:
            return
        self.received.append(line)
        if line[:2].upper() != "AT":
            return  # V.250 5.2.1: everything up to the "AT" prefix is ignored; no prefix, no command
        f = self.sc.fault("garbage", line)
        if f is not None:
            self._at(max(now, self.busy_until) + 1, f.data.encode("latin-1"))
        if self.sc.fault("no_reply", line):
            return
        f = self.sc.fault("cme_error", line)
        if f is not None:
            self.error(now, f.code)
            return
        if self.sc.fault("reset", line):
            if self.reset_on_data(line):
                self.reset_pending = True  # the data phase of this command restarts the modem
            else:
                self.reset(now)
                return
        body = line[2:]
        if body == "":
            self.reply(now)
            return
        if body[0] in "Ee" and body[1:] in ("", "0", "1"):
            self.echo = body[1:] == "1"
            self.reply(now)
            return
        m = _CMD_RE.match(body.upper() if '"' not in body else body[: body.find('"')].upper() + body[body.find('"'):])
        if not m:
            self.reply(now, (), "ERROR")
            return
        name, tail, args = m.group(1), m.group(2) or "", m.group(3)
        kind = "test" if tail == "=?" else "read" if tail == "?" else "set" if tail.startswith("=") else "exec"
        h = self.commands.get(name)
        if h is None:
            self.reply(now, (), "ERROR")  # unknown command: V.250 ERROR, not +CME
            return
        h(kind, split_args(args) if args is not None else [], now)

    def reset_on_data(self, line: str) -> bool:
        """True when this command's reset fault should fire after its data is received (mid-send)."""
        return False

    def reset(self, now: int):
        """An unexpected restart: all state lost, the boot URCs again after the boot time."""
        self._sched = []
        self.busy_until = now
        self._boot(now)
        self._update_power(now)

    def _add_3gpp(self):
        c = self.commands
        c["I"] = lambda k, a, t: self.reply(t, (self.MANUFACTURER, self.MODEL.upper(), f"Revision: {self.REVISION}"))
        c["&W"] = lambda k, a, t: self.reply(t)
        c["+CGMI"] = lambda k, a, t: self.reply(t, (self.MANUFACTURER,))
        c["+CGMM"] = lambda k, a, t: self.reply(t, (self.MODEL.upper(),))
        c["+CGMR"] = lambda k, a, t: self.reply(t, (self.cgmr(),))
        c["+GSN"] = c["+CGSN"] = lambda k, a, t: self.reply(t, (self.sc.imei,))
        c["+CMEE"] = self._cmee
        c["+CPIN"] = self._cpin
        c["+CIMI"] = self._cimi
        c["+CSQ"] = lambda k, a, t: self.reply(t, (f"+CSQ: {self.rssi_csq(t)},99",))
        c["+CEREG"] = self._cereg
        c["+COPS"] = self._cops
        c["+CPSMS"] = self._cpsms
        c["+CEDRXS"] = self._cedrxs
        c["+CEDRXRDP"] = self._cedrxrdp
        c["+CGDCONT"] = self._cgdcont
        c["+CFUN"] = self._cfun
        c["+CGATT"] = lambda k, a, t: self.reply(t, (f"+CGATT: {1 if self.registered(t) else 0}",))
        c["+CTZU"] = self._ctzu
        c["+CCLK"] = self._cclk

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

    def cgmr(self) -> str:
        return self.REVISION

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

    def act(self) -> int:
        return 7  # TS 27.007 <AcT> 7 E-UTRAN (CAT-M reports this); 9 E-UTRAN NB-S1

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
                self.psm_req = (tau, act)
            else:
                self.psm_req = None
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
            self.edrx_req = tuple(a[1:3]) if a[0] in ("1", "2") and len(a) >= 3 else None
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
        # module sleeps whenever the host leaves the UART alone, and then no longer listens (dtr(), uart_asleep()).
        if k == "set" and a and a[0] in ("0", "1"):
            self.sclk = int(a[0])
            return self.reply(t)
        if k == "read":
            return self.reply(t, (f"+{name}: {self.sclk}",))
        if k == "test":
            return self.reply(t, (f"+{name}: (0,1)",))
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

    def _cfun(self, k, a, t):
        if k == "set" and a and a[0] in ("0", "1", "4"):
            self.cfun = 1 if a[0] == "1" else 0
            if self.cfun and self.reg_at is not None:
                self.reg_at = max(self.reg_at, t + 2000)
            return self.reply(t, delay=200)
        if k == "read":
            return self.reply(t, (f"+CFUN: {self.cfun}",))
        return self.error(t, 50)

    # -- sockets --------------------------------------------------------------------------------------------
    def apn_ok(self) -> bool:
        return self.sc.apn is None or self.sc.apn == self.apn_for_data()

    def apn_for_data(self):
        return self.apn

    def open_socket(self, sid, proto: str, host: str, port: int):
        """Open a real socket for the modem's socket ``sid``; return None or 'dns' / 'refused'."""
        addr = self.sc.resolve(host, port)
        if addr is None:
            return "dns"
        try:
            self.sockets[sid] = HostSocket(proto, addr)
        except OSError:
            return "refused"
        return None

    def socket_send(self, sid, data: bytes, now: int) -> bool:
        s = self.sockets.get(sid)
        if s is None or not self.registered(now) or not self.ctx_active:
            return False
        ok = s.send(data)
        self.last_traffic = now
        self.tx_until = now + TX_MS
        for fl in self.sc.faults:
            if fl.kind == "socket_closed" and (fl.times is None or fl.times > 0):
                fl.after_sends -= 1
                if fl.after_sends <= 0:
                    if fl.times is not None:
                        fl.times -= 1
                    s.close()  # the network drops the connection after this send: no reply comes back
                    s.closed_by_peer = True
        return ok
