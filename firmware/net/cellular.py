# What every 3GPP modem does the same way (3GPP TS 27.007 commands), under the link interface (net/link.py).
# A family driver (net/sim7080g.py, net/bg9x.py) subclasses Cellular and supplies power-on timing, network and
# band selection, the data context and the sockets in its own dialect.
#
#     link = SIM7080G(machine.UART(1, 115200), {"apn": "soracom.io"}, pwrkey=machine.Pin(4, machine.Pin.OUT),
#                     dtr=machine.Pin(27, machine.Pin.OUT))
#     if link.up(120000):
#         reply = link.send(record, 5000)
#     link.down(psm=True)
#
# up() is a state machine over what the modem says, not over what this object remembers: after a deep sleep the
# firmware starts from nothing, finds the modem awake in PSM or registered, and skips what is already done
# (a wake from PSM needs no new attach and no new context). Power, DTR and down() are in net/cellpower.py.
import time
from micropython import const

from net import cell3gpp as G
from net import link as L
from net.at import AT, ATError, fields, num
from net.cellpower import Power

_SIM_WAIT = const(10000)  # SIM initialisation after boot: +CME ERROR: 14 "SIM busy" until ready
_REG_POLL = const(2000)  # between AT+CEREG? reads while waiting for registration (URCs end the wait early)


class Cellular(Power, L.Link):
    MODEL = "cellular"
    BANNERS = (b"RDY",)
    URCS = ()  # the family's URCs that need no handler (net/cell3gpp.py URCS has the common ones)
    PWRKEY_MS = 1000  # press length to power on / wake from PSM
    BOOT_MS = 10000  # from PWRKEY release until the UART answers AT
    CCID = b"AT+CCID"
    CCID_PREFIX = None
    RECV_URC = b""  # the URC that announces received data
    # Automatic time zone update from NITZ (TS 27.007 section 8.40): the network's time reaches the modem's clock
    TIME_UPDATE = b"AT+CTZU=1"
    SLEEP_ON = None  # the family's command that lets the module sleep while DTR is high (see the top of this file)
    DTR_WAKE_MS = 0  # after DTR goes low, before the first command
    DTR_SYNC_MS = 600  # how long the first AT after DTR low may go unanswered before the modem counts as off

    def __init__(self, uart, cfg=None, pwrkey=None, at=None, dtr=None):
        L.Link.__init__(self, cfg)
        self.at = at or AT(uart, banners=self.BANNERS)
        self.pwrkey = pwrkey
        self.dtr = dtr
        self.ident = {"iccid": None, "imsi": None, "imei": None, "fw": None}
        self.stat = None
        self.rssi = 99
        self.operator = None
        self.act = None
        self.psm = None
        self.active = False
        self.sock = False
        self.rx = False
        self.lost = 0  # data context losses seen (+APP PDP: ...,DEACTIVE, +QIURC: "pdpdeact"), see up()
        self.host, self.port = L.endpoint(self.cfg["endpoint"])
        at = self.at
        # +CEREG: both the URC and the read form of AT+CEREG? start so: the test tells them apart (net/cell3gpp.py)
        at.on(b"+CEREG:", self._on_cereg, G.cereg_urc)
        for b in self.BANNERS:
            at.on(b, self._on_restart)
        at.known(G.URCS)
        at.known(self.URCS)

    # -- URCs ---------------------------------------------------------------------------------------------
    def _on_cereg(self, line):
        # Either form (a read answer that came after its command's timeout is routed here too)
        r = G.cereg(line)
        if r is not None:
            self._reg(r)

    def _reg(self, r):
        stat, act, a, t = r
        self.stat = stat
        self._note_reg(stat)
        if act is not None:
            self.act = act
        if a is not None:
            s = L.t3324_s(a)
            self.psm = {"active_s": s, "tau_s": L.t3412_s(t), "t3324": a, "t3412": t} if s is not None else None

    def _on_restart(self, line):
        self.active = False
        self.sock = False
        self.rx = False

    def _lost_context(self):
        # The network or the module deactivated the data context: the socket went with it.
        self.active = False
        self.sock = False
        self.lost += 1

    # -- helpers ------------------------------------------------------------------------------------------
    def _left(self, dl):
        return time.ticks_diff(dl, time.ticks_ms())

    def _cmd(self, command, timeout_ms, dl, resp=None):
        # One retry when the answer went missing (a lost reply is the commonest modem fault), deadline allowing.
        try:
            return self.at.cmd(command, timeout_ms, resp, dl)
        except ATError as e:
            if e.kind != "timeout" or self._left(dl) <= 0:
                raise
        return self.at.cmd(command, timeout_ms, resp, dl)

    def _try(self, command, timeout_ms, dl):
        # A setting the modem may not support: failure is recorded, not fatal.
        try:
            self.at.cmd(command, timeout_ms, None, dl)
            return True
        except ATError as e:
            if e.kind == "restart" or self._left(dl) <= 0:
                raise
            return False

    def _radio_off(self, dl):
        # AT+CFUN? answers +CFUN: <fun> (TS 27.007 8.2); 0 minimum functionality, 4 RF off
        try:
            lines = self.at.cmd(b"AT+CFUN?", 1000, b"+CFUN:", dl)
            # the last: a boot URC "+CFUN: 1" may have come first (same prefix, same form)
            return bool(lines) and lines[-1][6:].strip() in (b"0", b"4")
        except ATError as e:
            if e.kind == "restart" or self._left(dl) <= 0:
                raise
        return False

    # -- up -----------------------------------------------------------------------------------------------
    def up(self, deadline_ms):
        dl = time.ticks_add(time.ticks_ms(), deadline_ms)
        self.last_error = None
        for attempt in range(2):
            try:
                return self._up(dl)
            except ATError as e:
                if e.kind == "restart":
                    if not attempt and self._left(dl) > 0:
                        # The module rebooted mid-setup (RDY after the first answered AT, a brown-out at the first
                        # transmission): it has forgotten everything, so start over once.
                        continue
                    return self._fail("modem restarted during setup (%s)" % e)
                if e.kind == "timeout" and self._left(dl) <= 0:
                    return self._fail("deadline reached during %s" % e.cmd.decode())
                return self._fail("modem error: %s" % e)

    def _up(self, dl):
        self._dtr_low()
        if not self._power_on(dl):
            return self._fail("modem does not answer AT: check power, PWRKEY wiring and the UART pins")
        self._try(b"ATE0", 300, dl)
        self._try(b"AT+CMEE=1", 300, dl)
        if self.dtr is not None and self.SLEEP_ON:
            # UART sleep on, now that the modem answers: it takes effect only while DTR is high, i.e. after
            # down(). Sent on every up(): the modules start with it off (a restart clears it). Without a dtr
            # pin it is never sent: nothing could wake the module, whose DTR input would sit high (not
            # driven; BG96 Hardware Design 3.4.1 lets the module sleep with DTR "high level or ... open"), and
            # once asleep its UART would never answer again.
            self._try(self.SLEEP_ON, 300, dl)
        if self.pwrkey is None and self._radio_off(dl):
            # down() left the radio off with AT+CFUN=0 (see there); full functionality again (TS 27.007 8.2;
            # the manuals give CFUN up to 10 s)
            self._try(b"AT+CFUN=1", 10000, dl)
        self._identity(dl)  # IMEI and firmware answer even without a SIM: diagnostics want them
        if not self._sim(dl):
            return False
        self._identity(dl)  # what the SIM could not say before it was ready
        if not self._registered(dl):
            self._configure(dl)
            if not self._register(dl):
                return False
        elif self.psm is None and self.cfg["psm"] is not None:
            # Registered on its own before we configured it (a modem that powers up with the board): PSM was
            # never asked for, and without it down() would have to switch the radio off. Ask now; the network
            # answers with the next tracking-area update, and +CEREG (mode 4) reports what it granted.
            self._psm_request(dl)
            try:
                self._cereg(dl)
            except ATError as e:
                if e.kind == "restart":
                    raise
        self._signal(dl)
        lost = self.lost
        if not self._activate(dl):
            return False
        if self.lost != lost and not self._activate(dl):
            # a deactivation URC came while the context was being checked or activated: it may be the newer
            # news, so ask again (the read form answers at once when the context is still up)
            return False
        self.active = True
        return True

    def _sim(self, dl):
        # AT+CPIN? (3GPP TS 27.007 section 8.3); +CME ERROR 10 SIM not inserted, 13 SIM failure, 14 SIM busy
        # (section 9.2.1).
        end = time.ticks_add(time.ticks_ms(), min(_SIM_WAIT, max(0, self._left(dl))))
        while True:
            try:
                lines = self._cmd(b"AT+CPIN?", 5000, dl, b"+CPIN:")
            except ATError as e:
                if e.kind == "cme" and e.code == 10:
                    return self._fail("no SIM card: the modem reports SIM not inserted (+CME ERROR: 10)")
                if e.kind == "cme" and e.code == 13:
                    return self._fail("SIM failure (+CME ERROR: 13): reseat or replace the SIM")
                if e.kind in ("timeout", "restart") or time.ticks_diff(end, time.ticks_ms()) <= 0:
                    raise
                time.sleep_ms(500)
                continue
            # the last: a boot URC "+CPIN: READY" may have come first (same prefix, same form, older news)
            state = lines[-1][6:].strip() if lines else b""
            if state == b"READY":
                return True
            if time.ticks_diff(end, time.ticks_ms()) <= 0:
                return self._fail("SIM not ready: +CPIN: %s (a PIN-locked SIM needs its PIN removed)" % state.decode())
            time.sleep_ms(500)

    def _identity(self, dl):
        # Identities are read once per boot of the firmware (cheap, and what diagnostics need first). A missing
        # or garbled answer leaves the field None; it is not worth failing the uplink for.
        i = self.ident
        for key, command, prefix, least in (("iccid", self.CCID, self.CCID_PREFIX, 18),
                                            ("imsi", b"AT+CIMI", None, 14),  # TS 27.007 section 5.6
                                            ("imei", b"AT+GSN", None, 15),  # TS 27.007 section 5.4 (+CGSN)
                                            ("fw", b"AT+CGMR", None, 0)):  # TS 27.007 section 5.3
            if i[key] is not None:
                continue
            try:
                lines = self._cmd(command, 2000, dl)
            except ATError as e:
                if e.kind == "restart" or self._left(dl) <= 0:
                    raise
                continue
            # only this command's lines: the URCs the dialect lists never reach them (SMS Ready is no revision)
            i[key] = G.digits(lines, prefix, least) if least else G.text(lines, b"+CGMR:")

    def _cereg(self, dl):
        # AT+CEREG? read form: +CEREG: <n>,<stat>[,[<tac>],[<ci>],[<AcT>][,<cause_type>,<reject_cause>
        # [,[<Active-Time>],[<Periodic-TAU>]]]] (TS 27.007 section 10.1.22).
        # The engine hands over only read-form lines: a URC +CEREG: <stat>,"<tac>",... in the middle of the
        # answer goes to _on_cereg (its <tac> may look like a number, "1234", never a <stat>).
        for line in self._cmd(b"AT+CEREG?", 2000, dl, b"+CEREG:"):
            r = G.cereg(line)
            if r is not None:
                self._reg(r)
                return self.stat
        return self.stat

    def _registered(self, dl):
        if not self._try(b"AT+CEREG=4", 300, dl):
            self._try(b"AT+CEREG=2", 300, dl)
        try:
            return self._cereg(dl) in (1, 5)
        except ATError as e:
            if e.kind == "restart":
                raise
            return False

    def _register(self, dl):
        stat = self.stat
        while True:
            try:
                stat = self._cereg(dl)
                if stat in (1, 5):
                    return True
                if stat == 3:
                    return self._fail("registration denied by the network (+CEREG: 3): the SIM is not allowed here "
                                      "(inactive subscription, or roaming not allowed)")
                self._signal(dl)
            except ATError as e:
                if e.kind == "restart":
                    raise
                stat = self.stat  # a lost or garbled answer: ask again, deadline allowing
            left = self._left(dl)
            if left <= 0:
                return self._fail("not registered before the deadline: %s, signal %s" % (
                    L.REG_NAMES.get(stat, "unknown"), "none" if self.rssi == 99 else "%d dBm" % L.csq_dbm(self.rssi)))
            if self.stat in (1, 5) and self.stat != stat:
                continue  # a +CEREG URC during AT+CSQ/AT+COPS? said registered: read it back now, no wait
            self.at.wait(b"+CEREG:", min(_REG_POLL, left), dl)

    def _signal(self, dl):
        try:
            lines = self._cmd(b"AT+CSQ", 1000, dl, b"+CSQ:")  # TS 27.007 section 8.5
            self.rssi = num(lines[0], 5) if lines else 99
            lines = self._cmd(b"AT+COPS?", 3000, dl, b"+COPS:")  # TS 27.007 section 7.3
            f = fields(lines[0], b"+COPS:") if lines else []
            self.operator = f[2] if len(f) >= 3 else None
        except ATError as e:
            if e.kind in ("timeout", "restart"):
                raise

    def _psm_request(self, dl):
        # AT+CPSMS=1,,,"<T3412>","<T3324>" (TS 27.007 section 7.38; timer coding TS 24.008 10.5.7.4a/10.5.7.3)
        p = self.cfg["psm"]
        if p is None:
            self._try(b"AT+CPSMS=0", 1000, dl)
        else:
            self._try(b'AT+CPSMS=1,,,"%s","%s"' % (L.t3412(p["tau_s"]).encode(), L.t3324(p["active_s"]).encode()),
                      1000, dl)
        e = self.cfg["edrx"]
        if e is not None:
            nb = self.cfg["rat"] == "nbiot"
            self._try(b'AT+CEDRXS=1,%d,"%s"' % (5 if nb else 4, L.edrx(e, nb).encode()), 1000, dl)

    # -- send ---------------------------------------------------------------------------------------------
    def send(self, data, reply_timeout_ms=5000):
        if not self.active:
            self._fail("link is down: call up() first (or again after a modem restart)")
            return None
        dl = time.ticks_add(time.ticks_ms(), reply_timeout_ms + 20000)
        try:
            for attempt in range(2):
                if not self.sock and not self._open(dl):
                    return None
                self.rx = False
                try:
                    self._send(data, dl)
                    break
                except ATError as e:
                    if e.kind in ("timeout", "restart") or attempt or self.sock:
                        raise
                    # the network closed the socket (URC seen): open again once
            return self._reply(reply_timeout_ms)
        except ATError as e:
            if e.kind == "restart":
                self._fail("modem restarted during send: the datagram may be lost; call up() again")
            else:
                self._fail("send failed: %s" % e)
            return None

    def _reply(self, timeout_ms):
        end = time.ticks_add(time.ticks_ms(), timeout_ms)
        while not self.rx:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0 or not self.sock:
                return None
            self.at.wait(self.RECV_URC, left)
        self.rx = False
        return self._recv(time.ticks_add(time.ticks_ms(), 5000))

    # -- network time ----------------------------------------------------------------------------------------
    def time(self, timeout_ms=3000):
        # Network time (NITZ, delivered with the registration) as Unix seconds UTC, or None when the modem has
        # none: not registered, the network never sent it, or the modem's clock still reads its default.
        if self.stat not in (1, 5):
            return None
        dl = time.ticks_add(time.ticks_ms(), timeout_ms)
        try:
            self._try(self.TIME_UPDATE, 300, dl)
            return self._network_time(dl)
        except ATError as e:
            self._fail("network time: %s" % e)
            return None

    def _network_time(self, dl):
        # AT+CCLK? -> +CCLK: "yy/MM/dd,hh:mm:ss±zz" (TS 27.007 section 8.15); +CME ERROR when it has no time
        try:
            lines = self._cmd(b"AT+CCLK?", 1000, dl, b"+CCLK:")
        except ATError as e:
            if e.kind in ("timeout", "restart"):
                raise
            return None
        return L.clock_s(lines[0][6:]) if lines else None

    def info(self):
        d = L.Link.info(self)
        d.update(self.ident)
        d["model"] = self.MODEL
        d["rssi"] = self.rssi
        d["dbm"] = L.csq_dbm(self.rssi)
        d["registration"] = L.REG_NAMES.get(self.stat, "unknown") if self.stat is not None else None
        d["operator"] = self.operator
        d["act"] = self.act
        d["psm"] = self.psm
        d["last_error"] = self.last_error
        d["active"] = self.active
        return d

    # -- supplied by the family driver ---------------------------------------------------------------------
    def _configure(self, dl):
        raise NotImplementedError

    def _activate(self, dl):
        raise NotImplementedError

    def _open(self, dl):
        raise NotImplementedError

    def _send(self, data, dl):
        raise NotImplementedError

    def _recv(self, dl):
        raise NotImplementedError

    def _close(self, dl):
        raise NotImplementedError

    def _power_off(self, dl):
        raise NotImplementedError

