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
# (a wake from PSM needs no new attach and no new context).
#
# UART sleep (only with a dtr pin): the module's own sleep between paging occasions (SIM7080G AT+CSCLK=1, BG9x
# AT+QSCLK=1; SLEEP_ON) is what brings its idle current from several mA down to its DRX/eDRX figure during the PSM
# active time (T3324) and in eDRX. With it on, the module sleeps while DTR is high and its UART then hears nothing;
# DTR low wakes it. So up() first drives DTR low (awake), waits DTR_WAKE_MS and then talks; a module left asleep
# with DTR high by the previous cycle answers like any other. up() turns the sleep on; down() drives DTR high (may
# sleep) and holds that level through the MCU's deep sleep.
import time
from micropython import const

from net import link as L
from net.at import AT, ATError, fields, num

_SIM_WAIT = const(10000)  # SIM initialisation after boot: +CME ERROR: 14 "SIM busy" until ready
_REG_POLL = const(2000)  # between AT+CEREG? reads while waiting for registration (URCs end the wait early)


class Cellular(L.Link):
    MODEL = "cellular"
    BANNERS = (b"RDY",)
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
        self.host, self.port = L.endpoint(self.cfg["endpoint"])
        self.at.on(b"+CEREG:", self._on_cereg)
        for b in self.BANNERS:
            self.at.on(b, self._on_restart)

    # -- URCs ---------------------------------------------------------------------------------------------
    def _on_cereg(self, line):
        f = fields(line, b"+CEREG:")
        try:
            stat = int(f[1]) if len(f) >= 2 and f[1].isdigit() else int(f[0])
        except (ValueError, IndexError):
            return  # a garbled URC is ignored, never fatal
        self.stat = stat
        self._note_reg(stat)

    def _on_restart(self, line):
        self.active = False
        self.sock = False
        self.rx = False

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
            for line in self.at.cmd(b"AT+CFUN?", 1000, b"+CFUN:", dl):
                return line[6:].strip() in (b"0", b"4")
        except ATError as e:
            if e.kind == "restart" or self._left(dl) <= 0:
                raise
        return False

    # -- up -----------------------------------------------------------------------------------------------
    def up(self, deadline_ms):
        dl = time.ticks_add(time.ticks_ms(), deadline_ms)
        self.last_error = None
        try:
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
            if not self._activate(dl):
                return False
            self.active = True
            return True
        except ATError as e:
            if e.kind == "restart":
                return self._fail("modem restarted during setup (%s)" % e)
            if e.kind == "timeout" and self._left(dl) <= 0:
                return self._fail("deadline reached during %s" % e.cmd.decode())
            return self._fail("modem error: %s" % e)

    def _power_on(self, dl):
        if self.at.sync(600 if self.dtr is None else self.DTR_SYNC_MS, dl):
            return True
        if self.pwrkey is None:
            return self.at.sync(max(0, min(self.BOOT_MS, self._left(dl))), dl)
        # PWRKEY: the GPIO drives the key low through the board's transistor while it is high. A press powers a
        # modem that is off on, and wakes one in PSM (hardware design manuals, power-on and PSM wake-up).
        self.pwrkey.value(1)
        time.sleep_ms(max(0, min(self.PWRKEY_MS, self._left(dl))))
        self.pwrkey.value(0)
        return self.at.sync(max(0, min(self.BOOT_MS, self._left(dl))), dl)

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
            state = lines[0][6:].strip() if lines else b""
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
            if least:
                i[key] = _digits(lines, prefix, least)
            elif lines:
                i[key] = lines[-1].decode()

    def _cereg(self, dl):
        # AT+CEREG? read form: +CEREG: <n>,<stat>[,[<tac>],[<ci>],[<AcT>][,<cause_type>,<reject_cause>
        # [,[<Active-Time>],[<Periodic-TAU>]]]] (TS 27.007 section 10.1.22).
        for line in self._cmd(b"AT+CEREG?", 2000, dl, b"+CEREG:"):
            f = fields(line, b"+CEREG:")
            if len(f) >= 2 and f[1].isdigit():
                self.stat = int(f[1])
                self._note_reg(self.stat)
                if len(f) >= 5 and f[4].isdigit():
                    self.act = int(f[4])
                if len(f) >= 9:
                    a, t = L.t3324_s(f[7]), L.t3412_s(f[8])
                    self.psm = {"active_s": a, "tau_s": t, "t3324": f[7], "t3412": f[8]} if a is not None else None
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

    # -- DTR ----------------------------------------------------------------------------------------------
    def _dtr_low(self):
        # Awake: DTR low wakes a module in UART sleep and keeps it awake (SIM7080G: LilyGO's T-SIM7080G sleep
        # examples, "Pulling DTR low in this mode can wake up the module"; BG96/BG77 Hardware Design 3.4.1,
        # "Driving the host DTR to low level will wake up the module"). The pad hold left by down() is released
        # with it (after a deep sleep the ESP32 keeps a held pad at its level until the hold is released).
        if self.dtr is None:
            return
        _drive(self.dtr, 0, False)
        if self.DTR_WAKE_MS:
            time.sleep_ms(self.DTR_WAKE_MS)

    def _dtr_high(self):
        # May sleep: DTR high, held through the MCU's deep sleep. Without the hold the ESP32 lets the pin float in
        # deep sleep (MicroPython esp32 quickref, deep-sleep mode: "Non-RTC GPIO pins will be disconnected by
        # default"), and whatever the board's level converter makes of a floating line decides whether the module
        # sleeps. LilyGO's T-SIM7080G MinimalModemAndEspSleep does the same (gpio_hold_en on DTR high).
        if self.dtr is not None:
            _drive(self.dtr, 1, True)

    # -- down ---------------------------------------------------------------------------------------------
    def down(self, psm=True):
        try:
            self._down(psm)
        finally:
            self._dtr_high()

    def _down(self, psm):
        dl = time.ticks_add(time.ticks_ms(), 15000)
        try:
            if self.sock:
                self._close(dl)
            if psm and self.psm is not None and self.psm["active_s"] is not None:
                # The modem enters PSM by itself when T3324 runs out after the last traffic; nothing to send.
                # Until then it is idle, asleep between paging occasions once DTR is high (UART sleep above).
                self.active = False
                return
            if self.pwrkey is None:
                # No PWRKEY line (M5Stack units on a Grove port): a modem powered off could never be switched on
                # again until the supply is cycled. Turn the radio off instead (AT+CFUN=0, TS 27.007 8.2): the
                # modem keeps answering AT, and up() turns the radio back on.
                self._cmd(b"AT+CFUN=0", 10000, dl)
            else:
                self._power_off(dl)
        except ATError as e:
            self._fail("power down: %s" % e)
            if self.pwrkey is not None:
                # A modem that does not answer is switched off with a long PWRKEY press.
                self.pwrkey.value(1)
                time.sleep_ms(self.PWRKEY_MS * 2)
                self.pwrkey.value(0)
        self.active = False
        self.sock = False

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


def _drive(pin, level, hold):
    # Set the DTR pin's level and its pad hold (MicroPython esp32 Pin.init(..., hold=): the pad keeps its level
    # while held, through deep sleep on an RTC GPIO; other pads also need esp32.gpio_deep_sleep_hold(True)).
    try:
        pin.init(value=level, hold=hold)
    except TypeError:  # a port whose Pin has no pad hold (the host's virtual board): the level alone
        pin.value(level)
        return
    if hold:
        try:
            import esp32

            esp32.gpio_deep_sleep_hold(True)
        except (ImportError, AttributeError):  # not an ESP32, or a chip whose held pads need nothing more
            pass


def _digits(lines, prefix, least):
    # The first run of at least `least` digits in the reply lines (ICCID, IMSI, IMEI); a garbled line is skipped.
    for line in lines:
        if prefix is not None:
            if not line.startswith(prefix):
                continue
            line = line[len(prefix):]
        s = line.strip()
        if len(s) >= least and s.isdigit():
            return s.decode()
        # ICCIDs may end in a hex 'F' filler digit (ITU-T E.118)
        if len(s) >= least and s[:-1].isdigit() and s[-1:] in (b"F", b"f"):
            return s[:-1].decode()
    return None
