# AT command engine for cellular modems (SIMCom SIM7080G, Quectel BG95/BG96/BG77).
#
# Usage:
#     at = AT(machine.UART(1, 115200))
#     at.on(b"+CEREG:", handler)             # URCs by prefix, at any time, also mid-command
#     lines = at.cmd(b"AT+CSQ", 300, b"+CSQ:")   # -> [b"+CSQ: 20,99"], raises ATError
#     at.send_data(b"AT+CASEND=0,5", b"hello", 10000)
#     head, data = at.read_data(b"AT+CARECV=0,1460", b"+CARECV:", True, 2000)
#
# Framing follows ITU-T V.250 (section 5.2 command line, 5.7 result codes): a command ends with CR, the modem
# answers "<CR><LF>text<CR><LF>" lines and one final result code. Final results handled: OK, ERROR,
# +CME ERROR: <n> (3GPP TS 27.007 section 9.2), +CMS ERROR: <n> (TS 27.005 section 3.2.5), and the send
# results SEND OK / SEND FAIL (Quectel BG95 TCP/IP Application Note, section 2.3.7 AT+QISEND).
#
# Robustness: echo (ATE1) is recognised and dropped; empty lines, stray bytes and lines that are neither a
# result nor a known URC are counted in `stray`; a line longer than the buffer is discarded up to its end
# (`overflows`); a ready banner (b"RDY" by default) in the middle of a command aborts it with
# ATError("restart") at once instead of waiting for a timeout. No call waits past its timeout or deadline:
# while nothing arrives the engine sleeps `step` ms at a time (no work while waiting).
import time
from micropython import const

_LINE = const(256)
_STEP = const(10)
_CHUNK = const(128)
_PROMPT = const(62)  # '>'
_CR = const(13)
_LF = const(10)
_SP = const(32)
_COMMA = const(44)
_LATE = const(8)


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


def num(line, i=0):
    # The first unsigned integer in `line` at or after index i, or -1 (no allocation).
    n = len(line)
    while i < n and not (48 <= line[i] <= 57):
        i += 1
    if i >= n:
        return -1
    v = 0
    while i < n and 48 <= line[i] <= 57:
        v = v * 10 + line[i] - 48
        i += 1
    return v


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


class AT:
    def __init__(self, uart, line_max=_LINE, clock=None, banners=(b"RDY",), step=_STEP):
        self.uart = uart
        self.clock = clock or time
        self.banners = banners
        self.step = step
        self._line = bytearray(line_max)
        self._n = 0
        self._skip = False
        self._rx = b""
        self._ri = 0
        self._urcs = []
        self._payload = None
        self._late = 0
        self.stray = 0
        self.overflows = 0
        self.timeouts = 0
        self.restarts = 0
        self.log = None  # callable(direction, bytes) for diagnostics

    # -- URC routing ------------------------------------------------------------------------------------
    def on(self, prefix, handler):
        # handler(line) is called for every line starting with prefix, whenever it arrives. Handlers only
        # record; they must not send commands.
        self._urcs.append((prefix, handler))

    def _dispatch(self, line):
        for prefix, handler in self._urcs:
            if line.startswith(prefix):
                handler(line)
                return True
        return False

    # -- bytes and lines --------------------------------------------------------------------------------
    def _byte(self, deadline):
        # Next received byte, or -1 once the deadline has passed (deadline None: only what has arrived).
        # Past the deadline at most _LATE more chunks are taken, so a modem that never stops talking cannot
        # hold the caller.
        clock = self.clock
        while True:
            if self._ri < len(self._rx):
                b = self._rx[self._ri]
                self._ri += 1
                return b
            left = 0 if deadline is None else clock.ticks_diff(deadline, clock.ticks_ms())
            if left <= 0:
                self._late += 1
                if self._late > _LATE:
                    return -1
            n = self.uart.any()
            if n:
                d = self.uart.read(n if n < _CHUNK else _CHUNK)
                if d:
                    if self.log:
                        self.log("<", d)
                    self._rx = d
                    self._ri = 0
                    continue
            if left <= 0:
                return -1
            clock.sleep_ms(left if left < self.step else self.step)

    def _raw(self, count, deadline):
        # Exactly `count` bytes of binary payload (it may hold CR, LF, anything), or None at the deadline.
        buf = bytearray(count)
        for i in range(count):
            b = self._byte(deadline)
            if b < 0:
                return None
            buf[i] = b
        return bytes(buf)

    def _readline(self, deadline, prompt=False, raw=None, inline=False):
        # One non-empty line without CR/LF and surrounding spaces; b">" for a data prompt when `prompt`;
        # None at the deadline. With `raw`, a line starting with that prefix carries a binary payload of
        # <n> bytes (the first number after the prefix), after the first comma that follows the number when
        # `inline` (+CARECV: <n>,<data>), else after the line's end (+QIRD: <n><CR><LF><data>); the payload
        # is left in self._payload.
        buf = self._line
        cap = len(buf)
        while True:
            b = self._byte(deadline)
            if b < 0:
                return None
            if self._skip:
                if b == _LF:
                    self._skip = False
                continue
            if b == _LF:
                line = self._take()
                if line is None:
                    continue
                if raw is not None and not inline and line.startswith(raw):
                    n = num(line, len(raw))
                    if n > 0:
                        self._payload = self._raw(n, deadline)
                        if self._payload is None:
                            return None
                    else:
                        self._payload = b""
                return line
            if self._n >= cap:
                self._n = 0
                self._skip = True
                self.overflows += 1
                continue
            buf[self._n] = b
            self._n += 1
            if prompt and b == _PROMPT and self._blank(self._n - 1):
                self._n = 0
                return b">"
            if inline and b == _COMMA and raw is not None:
                line = self._peek()
                if line.startswith(raw) and num(line, len(raw)) >= 0 and line.count(b",") == 1:
                    self._n = 0
                    self._payload = self._raw(num(line, len(raw)), deadline)
                    if self._payload is None:
                        return None
                    return line[:-1]

    def _blank(self, end):
        for i in range(end):
            c = self._line[i]
            if c != _SP and c != _CR and c != _LF:
                return False
        return True

    def _peek(self):
        s = 0
        while s < self._n and self._line[s] in (_SP, _CR, _LF):
            s += 1
        return bytes(self._line[s: self._n])

    def _take(self):
        buf = self._line
        s, e = 0, self._n
        self._n = 0
        while s < e and (buf[s] == _SP or buf[s] == _CR or buf[s] == 0):
            s += 1
        while e > s and (buf[e - 1] == _SP or buf[e - 1] == _CR):
            e -= 1
        if s == e:
            return None
        return bytes(buf[s:e])

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
        dl = self._deadline(timeout_ms, deadline)
        self._late = 0
        self.write(command + b"\r")
        lines = []
        want_prompt = data is not None
        while True:
            line = self._readline(dl, want_prompt, raw, inline)
            if line is None:
                self.timeouts += 1
                raise ATError("timeout", -1, command)
            if line == b">":
                want_prompt = False
                self.write(data)
                continue
            if line[:2] == b"AT" or line[:2] == b"at":
                continue  # echo of the command line (ATE1)
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
            if resp is not None and line.startswith(resp):
                lines.append(line)
            elif self._dispatch(line):
                pass
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
            if not self._banner(line) and not self._dispatch(line):
                self.stray += 1

    def wait(self, prefix, timeout_ms, deadline=None):
        # Wait for a line starting with prefix (typically a URC that ends an operation, such as
        # +QIOPEN: or +APP PDP:); other URCs are routed meanwhile. Returns the line or None at the timeout.
        dl = self._deadline(timeout_ms, deadline)
        self._late = 0
        while True:
            line = self._readline(dl)
            if line is None:
                return None
            if line.startswith(prefix):
                self._dispatch(line)
                return line
            if not self._banner(line) and not self._dispatch(line):
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
