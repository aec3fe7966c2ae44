"""The ITU-T V.250 line discipline of a simulated modem: bytes from the MCU become command lines, answers go back
framed and timed on the virtual clock.

``V250`` is the bottom layer of every model (``radio.py`` and ``ts27007.py`` build on it; it knows nothing of
them). It owns:

* the command line: echo (ATE), the S3 terminator and S5 backspace, the ``AT`` prefix, the split of a line into
  name, kind (exec, read ``?``, test ``=?``, set ``=``) and arguments, the lookup in ``self.commands`` (the layers
  above fill it with ``add_commands``) and V.250's ``ERROR`` for a command nobody knows;
* the data phase after a ``>`` prompt (``prompt``: exactly n bytes, then a callback);
* the schedule of replies, URCs and timed events on the virtual clock (``reply``, ``urc``, ``error``,
  ``schedule``), released by ``poll(now_ms)``, which the hardware bus calls before every read and after every sleep;
* the injected faults of the scenario that act on command lines (``cme_error``, ``no_reply``, ``garbage``,
  ``reset``).

It asks the layers above through hooks it declares and they override (no attribute of theirs is touched here):
``uart_listens(data, now)`` (is the module awake and listening), ``uart_sends(payload)`` (may this queued payload
still go out), ``tick(now)`` (after the due events of a poll), ``error(now, code)`` (how an error looks: +CME with
AT+CMEE), ``reset(now)`` (an unexpected restart) and ``reset_on_data(line)`` (a reset fault that fires mid-send).
"""

import re

from ..devices import UARTDevice
from .network import Scenario

CMD_MS = 20  # a simple command's turnaround (rough; no manual gives one)
# V.250 6.2.1-6.2.3: S3 command line termination (CR), S4 response formatting (LF), S5 command line editing (BS).
# The models keep the defaults: ATS3=/ATS4=/ATS5= are not modelled.
S3 = 0x0D
S4 = 0x0A
S5 = 0x08
DEL = 0x7F  # taken as a backspace too, as terminal programs send it
MAX_LINE = 1024  # longer lines are cut (V.250 5.2.1 asks for at least 40 characters; the manuals give no limit)

_CMD_RE = re.compile(r"^(\+[A-Z0-9]+|&[A-Z]|[A-Z])(=\?|\?|=(.*))?$", re.S)
# V.250 5.3.1 basic syntax: a letter (or & and a letter) and an optional decimal <value>: ATZ0, AT&F0, AT&W0, ATI0
_BASIC_RE = re.compile(r"^(&[A-Z]|[A-Z])([0-9]{1,3})$")
# V.250 6.2.10 +IPR: the fixed rates the models take (0: autobaud, SIM7080G Manual AT+IPR). The virtual UART has no
# bit rate, so a rate is stored and read back only. The manuals' exact test-form lists were not reached: the list
# here is V.250's shape, (autodetectable rates),(fixed-only rates), with the rates both families document.
IPR_RATES = (0, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
IPR_DEFAULT = 115200


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


class V250(UARTDevice):
    """The command line and its timing. ``self.sc`` is the validated scenario every layer reads (this one: its
    faults)."""

    def __init__(self, clock, scenario: dict | None = None):
        super().__init__(clock)
        self.sc = Scenario(scenario)
        self.commands = {}  # name ("+CSQ", "I", "&W") -> handler(kind, args, now)
        self.received = []  # command lines as received, for tests and diagnostics
        self._line = bytearray()
        self._data_need = 0
        self._data_buf = bytearray()
        self._data_cb = None
        self._sched = []  # [due_ms, seq, payload(bytes) | callable(due_ms)]
        self._seq = 0
        self.busy_until = 0  # virtual ms before which the module answers nothing new (replies queue behind it)
        self.echo = True
        self.saved_echo = True  # the profile AT&W stores and ATZ restores (V.250 6.1.1 Z, 6.1.2 &F; &W)
        self.ipr = IPR_DEFAULT
        self._reset_pending = False
        self.add_commands({"Z": self._z, "&F": self._f, "&W": self._w, "+IPR": self._ipr})

    def _reset_state(self):
        """The state a restart clears; each layer above extends this with its own."""
        self.echo = self.saved_echo  # V.250 6.2.4 E: E1 the factory default; a restart loads the stored profile
        self._reset_pending = False
        # a half-typed line and an unfinished data phase die with the module: after a restart the host's next bytes
        # are a new command line, not the rest of a send
        self._line = bytearray()
        self._data_need, self._data_buf, self._data_cb = 0, bytearray(), None

    def add_commands(self, table: dict):
        """Register handlers(kind, args, now) by command name; a later layer's entry replaces an earlier one."""
        self.commands.update(table)

    # -- hooks the layers above override ---------------------------------------------------------------------
    def uart_listens(self, data: bytes, now_ms: int) -> bool:
        """Whether the module takes these bytes from the host now (the radio layer: not when off or asleep)."""
        return True

    def uart_sends(self, payload: bytes) -> bool:
        """Whether a queued payload that comes due still goes out (the radio layer: not once powered off)."""
        return True

    def tick(self, now_ms: int):
        """Runs on every poll after the due events (the radio layer: TAU, PSM entry, power state)."""

    def reset(self, now_ms: int):
        """An unexpected restart: everything queued is lost (the radio layer then boots the module again)."""
        self._sched = []
        self.busy_until = now_ms

    def reset_on_data(self, line: str) -> bool:
        """True when this command's reset fault should fire after its data is received (mid-send)."""
        return False

    # -- the schedule ----------------------------------------------------------------------------------------
    def schedule(self, due: int, what):
        """Bytes to send, or callable(due_ms) to run, at virtual ms ``due`` (in order of due time, then of
        scheduling)."""
        self._seq += 1
        self._sched.append([due, self._seq, what])

    def cancel_timers(self):
        """Drop the timed callables (the module's own timers die with its power); queued bytes stay."""
        self._sched = [e for e in self._sched if not callable(e[2])]

    def hold(self, until_ms: int):
        """The module takes until ``until_ms`` before it answers anything new (boot, wake)."""
        self.busy_until = until_ms

    def next_change_ms(self):
        """The earliest scheduled event (the radio layer adds its own times), or None."""
        return min((e[0] for e in self._sched), default=None)

    def reply(self, now_ms: int, lines=(), final="OK", delay=CMD_MS):
        """Queue information text lines and a final result code, V.250 framed, after the modem's turnaround."""
        due = max(now_ms, self.busy_until) + delay
        self.busy_until = due
        # V.250 5.7.1: information text is <CR><LF>text<CR><LF>; lines of one response follow each other
        body = [ln.encode("latin-1") if isinstance(ln, str) else ln for ln in lines]
        out = b"\r\n" + b"\r\n".join(body) + b"\r\n" if body else b""
        if final:
            out += b"\r\n" + final.encode() + b"\r\n"
        self.schedule(due, out)
        return due

    def urc(self, due: int, text):
        self.schedule(due, b"\r\n" + (text.encode("latin-1") if isinstance(text, str) else text) + b"\r\n")

    def error(self, now_ms: int, code: int = 100, delay=CMD_MS):
        """A failed command: V.250's ERROR (the TS 27.007 layer gives +CME ERROR when AT+CMEE asks for it)."""
        return self.reply(now_ms, (), "ERROR", delay)

    def prompt(self, now_ms: int, n: int, cb, delay=CMD_MS):
        """'>' then collect exactly n bytes for cb(data, now_ms)."""
        due = max(now_ms, self.busy_until) + delay
        self.busy_until = due
        self.schedule(due, b"\r\n> ")
        self._data_need, self._data_buf, self._data_cb = n, bytearray(), cb

    # -- the UART --------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        now = self.now_ms()
        self.poll(now)
        if not self.uart_listens(data, now):
            return
        for b in data:
            if self._data_need:
                self._data_buf.append(b)
                if len(self._data_buf) >= self._data_need:
                    cb, buf = self._data_cb, bytes(self._data_buf)
                    self._data_need, self._data_buf, self._data_cb = 0, bytearray(), None
                    if self._reset_pending:
                        self._reset_pending = False  # the reset fault armed for this send fires now
                        self.reset(now)
                    else:
                        cb(buf, now)
                continue
            if b == S3:
                line = self._line.decode("latin-1")
                self._line = bytearray()
                if self.echo:
                    self.emit(line.encode("latin-1") + b"\r")
                self._command(line.strip(), now)
            elif b == S4:
                continue
            elif b in (S5, DEL):
                self._line = self._line[:-1]
            elif len(self._line) < MAX_LINE:
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
            elif self.uart_sends(what):
                self.emit(what)
        self.tick(now_ms)

    # -- the command line ------------------------------------------------------------------------------------
    def _command(self, line: str, now: int):
        if not line:
            return
        self.received.append(line)
        if line[:2].upper() != "AT":
            return  # V.250 5.2.1: everything up to the "AT" prefix is ignored; no prefix, no command
        if self._faulted(line, now):
            return
        body = line[2:]
        if body == "":
            self.reply(now)
            return
        if body[0] in "Ee" and body[1:] in ("", "0", "1"):
            self.echo = body[1:] == "1"
            self.reply(now)
            return
        b = _BASIC_RE.match(body.upper())
        if b is not None:
            h = self.commands.get(b.group(1))
            if h is None:
                return self.reply(now, (), "ERROR")
            return h("exec", [b.group(2)], now)
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

    # -- V.250 profile and interface commands ----------------------------------------------------------------
    def _profile_arg_ok(self, k, a) -> bool:
        # ATZ[<value>], AT&F[<value>], AT&W[<n>]: only profile 0 (BG96 AT Commands Manual 2.x "ATZ", "AT&F",
        # "AT&W": <value> 0; SIM7080G Manual "ATZ", "AT&F", "AT&W" the same)
        return k == "exec" and a in ([], ["0"])

    def _z(self, k, a, t):
        # V.250 6.1.1 Z: reset to the stored profile (here echo; the layers above keep the rest in NV)
        if not self._profile_arg_ok(k, a):
            return self.reply(t, (), "ERROR")
        self.echo = self.saved_echo
        self.reply(t)

    def _f(self, k, a, t):
        # V.250 6.1.2 &F: the factory configuration (echo on)
        if not self._profile_arg_ok(k, a):
            return self.reply(t, (), "ERROR")
        self.echo = True
        self.reply(t)

    def _w(self, k, a, t):
        # AT&W: store the current configuration as the user profile (BG96 AT Commands Manual "AT&W")
        if not self._profile_arg_ok(k, a):
            return self.reply(t, (), "ERROR")
        self.saved_echo = self.echo
        self.reply(t)

    def _ipr(self, k, a, t):
        # V.250 6.2.10 +IPR: read +IPR: <rate>; test +IPR: (list of autodetectable rates),(list of fixed rates)
        if k == "read":
            return self.reply(t, (f"+IPR: {self.ipr}",))
        if k == "test":
            return self.reply(t, (f"+IPR: (0),({','.join(str(r) for r in IPR_RATES[1:])})",))
        if k == "set" and a and a[0].isdigit() and int(a[0]) in IPR_RATES:
            self.ipr = int(a[0])
            return self.reply(t)
        return self.error(t, 50)

    def _faulted(self, line: str, now: int) -> bool:
        """Apply the scenario's line faults to this command; True when it is not to be executed."""
        f = self.sc.fault("garbage", line)
        if f is not None:
            self.schedule(max(now, self.busy_until) + 1, f.data.encode("latin-1"))
        if self.sc.fault("no_reply", line):
            return True
        f = self.sc.fault("cme_error", line)
        if f is not None:
            self.error(now, f.code)
            return True
        if self.sc.fault("reset", line):
            if self.reset_on_data(line):
                self._reset_pending = True  # the data phase of this command restarts the modem
            else:
                self.reset(now)
                return True
        return False
