# AT command engine for cellular modems (SIMCom SIM7080G, Quectel BG95/BG96/BG77).
#
# Usage:
#     at = AT(machine.UART(1, 115200))
#     at.on(b"+CEREG:", handler)             # URCs by prefix, at any time, also mid-command
#     at.on(b"SMS Ready")                    # a URC the dialect lists that nothing needs: never taken for an answer
#     lines = at.cmd(b"AT+CSQ", 300, b"+CSQ:")   # -> [b"+CSQ: 20,99"], raises ATError
#     at.expect(b"+QIOPEN: 0,")              # an event that ends an operation: latched from now on, wherever it
#     at.cmd(b'AT+QIOPEN=1,0,...', 1000)     # arrives (before, inside or after the command's answer) ...
#     line = at.wait(b"+QIOPEN: 0,", 150000) # ... and wait() returns it at once if it came early
#     at.send_data(b"AT+CASEND=0,5", b"hello", 10000)
#     head, data = at.read_data(b"AT+CARECV=0,1460", b"+CARECV:", True, 2000)
#
# Framing follows ITU-T V.250 (section 5.2 command line, 5.7 result codes): a command ends with CR, the modem
# answers "<CR><LF>text<CR><LF>" lines and one final result code. Final results handled: OK, ERROR,
# +CME ERROR: <n> (3GPP TS 27.007 section 9.2), +CMS ERROR: <n> (TS 27.005 section 3.2.5), and the send
# results SEND OK / SEND FAIL (Quectel BG95 TCP/IP Application Note, section 2.3.7 AT+QISEND).
#
# Which line belongs to whom (a URC may arrive before the echo, between echo and answer, between answer and final
# result, after it, split across reads at any byte): a line is a command's answer only while that command runs, only
# after its echo when there is one (lines before the echo were sent before the modem took the command), and only if
# it is not a URC the dialect registered with on(). A registered URC whose prefix is also the command's answer
# prefix (+CPIN:, +CFUN:, +CEREG:) goes to the command unless the registration's test says the line has the URC's
# form (+CEREG: <stat>,... against the read form +CEREG: <n>,<stat>,..., TS 27.007 section 10.1.22). An event that
# a driver will wait for is armed with expect() before the command that causes it and latched wherever it arrives.
#
# Robustness: echo (ATE1) is recognised and dropped; empty lines, stray bytes and lines that are neither a
# result nor a known URC are counted in `stray`; a line longer than the buffer is discarded up to its end
# (`overflows`); a ready banner (b"RDY" by default) in the middle of a command aborts it with
# ATError("restart") at once instead of waiting for a timeout. No call waits past its timeout or deadline:
# while nothing arrives the engine sleeps `step` ms at a time (no work while waiting).
import time
from micropython import const

from net.atline import LineReader, num  # noqa: F401  (num is part of this module's interface)

_LINE = const(256)
_STEP = const(10)
_KNOWN = (b"", None, None)  # what _urc() answers for a URC registered with known()


class ATError(Exception):
    # kind: "error", "cme", "cms", "timeout", "restart", "send fail"; code: the +CME/+CMS number or -1
    def __init__(self, kind, code=-1, cmd=b""):
        super().__init__(kind, code)
        self.kind = kind
        self.code = code
        self.cmd = cmd

    def __str__(self):
        c = self.cmd.decode() if isinstance(self.cmd, (bytes, bytearray)) else str(self.cmd)
        if self.kind in ("cme", "cms"):
            return "%s: +%s ERROR: %d" % (c, self.kind.upper(), self.code)
        return "%s: %s" % (c, self.kind)


def fields(line, prefix):
    # b'+CSQ: 20,99' -> ['20', '99']; quotes removed. For parsing replies after they are accepted.
    s = line[len(prefix):].decode().strip()
    out = []
    for f in s.split(","):
        f = f.strip()
        if len(f) >= 2 and f[0] == '"' and f[-1] == '"':
            f = f[1:-1]
        out.append(f)
    return out


class AT(LineReader):
    def __init__(self, uart, line_max=_LINE, clock=None, banners=(b"RDY",), step=_STEP):
        LineReader.__init__(self, uart, line_max, clock or time, step)
        self.banners = banners
        self._urcs = []  # (prefix, handler or None, test or None), see on()
        self._known = []  # tuples of prefixes, see known()
        self._want = None  # prefix armed by expect()
        self._got = None  # the first line that matched it
        self._reboot = False  # a banner seen outside a command, for the next command to report
        self._used = False  # a command has been sent
        self.stray = 0
        self.timeouts = 0
        self.restarts = 0

    # -- URC routing ------------------------------------------------------------------------------------
    def on(self, prefix, handler=None, test=None):
        # A URC by prefix. handler(line) is called for every such line, whenever it arrives (handlers only record;
        # they must not send commands); None: a URC the dialect lists that nothing needs, recognised so that it is
        # never taken for a command's answer. test(line) -> True when a line that also starts like the running
        # command's answer has the URC's form. The first registration whose prefix matches a line takes it.
        self._urcs.append((prefix, handler, test))

    def known(self, prefixes):
        # Many URCs that nothing needs at once (a tuple of prefixes, kept by reference: no RAM per URC), after the
        # registrations made with on().
        self._known.append(prefixes)

    def _urc(self, line):
        for u in self._urcs:
            if line.startswith(u[0]):
                return u
        for t in self._known:
            for p in t:
                if line.startswith(p):
                    return _KNOWN
        return None

    def _dispatch(self, line):
        u = self._urc(line)
        if u is None:
            return False
        if u[1] is not None:
            u[1](line)
        return True

    def expect(self, prefix):
        # Arm the latch: the first line starting with prefix from now on is kept for wait(), wherever it arrives.
        # What had already arrived is routed first (poll): it came before the command that causes the event.
        self.poll(0)
        self._want = prefix
        self._got = None

    def _latch(self, line):
        w = self._want
        if w is not None and self._got is None and line.startswith(w):
            self._got = line

    # -- commands ---------------------------------------------------------------------------------------
    def write(self, data):
        if self.log:
            self.log(">", data)
        self.uart.write(data)

    def cmd(self, command, timeout_ms=1000, resp=None, deadline=None):
        # Run one command; return its intermediate lines (those starting with `resp`, or every line that is
        # not a URC when resp is None). Raises ATError on ERROR, +CME/+CMS ERROR, timeout or restart.
        return self._run(command, timeout_ms, resp, None, None, False, deadline)

    def send_data(self, command, data, timeout_ms, resp=None, deadline=None):
        # A command that answers with a '>' prompt, then takes len(data) bytes (AT+CASEND, AT+QISEND).
        return self._run(command, timeout_ms, resp, data, None, False, deadline)

    def read_data(self, command, prefix, inline, timeout_ms, deadline=None):
        # A command whose answer carries binary data (AT+CARECV, AT+QIRD): returns (header line, data).
        self._payload = b""
        lines = self._run(command, timeout_ms, prefix, None, prefix, inline, deadline)
        return (lines[0] if lines else None), self._payload

    def _deadline(self, timeout_ms, deadline):
        c = self.clock
        d = c.ticks_add(c.ticks_ms(), timeout_ms)
        if deadline is not None and c.ticks_diff(deadline, d) < 0:
            d = deadline
        return d

    def _run(self, command, timeout_ms, resp, data, raw, inline, deadline):
        self.poll(0)  # URCs that arrived while idle belong to no command
        if self._reboot:
            # a banner came since the last command (after its final result, or while idle): whatever the caller
            # is doing assumes a modem state that is gone, so this command is not sent
            self._reboot = False
            raise ATError("restart", -1, command)
        dl = self._deadline(timeout_ms, deadline)
        self._late = 0
        self._used = True
        self.write(command + b"\r")
        lines = []
        want_prompt = data is not None
        while True:
            line = self._readline(dl, want_prompt, raw, inline)
            if line is None:
                self.timeouts += 1
                raise ATError("timeout", -1, command)
            if want_prompt and line == b">":
                want_prompt = False
                self.write(data)
                continue
            self._latch(line)
            if line.startswith(b"AT") or line.startswith(b"at"):
                # echo of the command line (ATE1); what came before this command's own echo is not its answer:
                # the modem sent it before it took the command, so it is a URC (of the answer's prefix: +CPIN:)
                if line == command and lines:
                    for x in lines:
                        if not self._dispatch(x):
                            self.stray += 1
                    lines = []
                continue
            if line == b"OK" or line == b"SEND OK":
                return lines
            if line == b"ERROR":
                raise ATError("error", -1, command)
            if line.startswith(b"+CME ERROR:"):
                raise ATError("cme", num(line, 11), command)
            if line.startswith(b"+CMS ERROR:"):
                raise ATError("cms", num(line, 11), command)
            if line == b"SEND FAIL":
                raise ATError("send fail", -1, command)
            if self._banner(line):
                raise ATError("restart", -1, command)
            u = self._urc(line)
            if resp is not None and line.startswith(resp) and (u is None or u[2] is None or not u[2](line)):
                lines.append(line)  # the answer (a URC of the same prefix but not of the URC's form is the answer)
            elif u is not None:
                if u[1] is not None:
                    u[1](line)
            elif resp is None:
                lines.append(line)
            else:
                self.stray += 1

    def _banner(self, line):
        for b in self.banners:
            if line == b:
                self.restarts += 1
                self._dispatch(line)
                return True
        return False

    def poll(self, timeout_ms=0):
        # Route URCs that arrive within timeout_ms (0: only what is already received), then return.
        c = self.clock
        dl = c.ticks_add(c.ticks_ms(), timeout_ms) if timeout_ms > 0 else None
        self._late = 0
        while True:
            line = self._readline(dl)
            if line is None:
                return
            self._route(line)

    def _route(self, line):
        # A line outside any command: the latch, then a restart banner or a URC; anything else is stray.
        self._latch(line)
        if self._banner(line):
            # before this engine's first command there was no modem state to lose (the module's boot banner)
            self._reboot = self._used
        elif not self._dispatch(line):
            self.stray += 1

    def wait(self, prefix, timeout_ms, deadline=None):
        # Wait for a line starting with prefix (typically a URC that ends an operation, such as +QIOPEN: or
        # +APP PDP:); other URCs are routed meanwhile. Returns the line or None at the timeout; raises
        # ATError("restart") on a banner that is not the prefix (a restarted modem will never send it). When
        # expect(prefix) armed the latch and the line has already come (before or inside the command's answer),
        # it is returned at once. The latch is disarmed on return.
        got = self._got
        self._want = self._got = None
        if got is not None and got.startswith(prefix):
            return got
        if self._reboot and prefix not in self.banners:
            self._reboot = False
            raise ATError("restart", -1, prefix)
        dl = self._deadline(timeout_ms, deadline)
        self._late = 0
        while True:
            line = self._readline(dl)
            if line is None:
                return None
            if line.startswith(prefix):
                self._dispatch(line)
                return line
            if self._banner(line):
                raise ATError("restart", -1, prefix)
            if not self._dispatch(line):
                self.stray += 1

    def sync(self, timeout_ms=1000, deadline=None):
        # True when the modem answers a bare AT with OK within timeout_ms (retrying every 300 ms).
        dl = self._deadline(timeout_ms, deadline)
        c = self.clock
        while True:
            left = c.ticks_diff(dl, c.ticks_ms())
            if left <= 0:
                return False
            try:
                self.cmd(b"AT", left if left < 300 else 300)
                return True
            except ATError:
                pass
