# The byte and line level of the AT engine (net/at.py): bytes from the UART in chunks, CR/LF framed lines into one
# preallocated buffer, binary payloads that follow a line (+QIRD) or sit inside it (+CARECV), the '>' data prompt.
# Framing: ITU-T V.250 section 5.7.1, every response line is <CR><LF>text<CR><LF>; the echo of a command line ends
# with its own CR only, so the next line's CR LF ends it. No call reads past its deadline (see _byte).
from micropython import const

_CHUNK = const(128)
_PROMPT = const(62)  # '>'
_CR = const(13)
_LF = const(10)
_SP = const(32)
_COMMA = const(44)
_LATE = const(8)


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


class LineReader:
    def __init__(self, uart, line_max, clock, step):
        self.uart = uart
        self.clock = clock
        self.step = step
        self._line = bytearray(line_max)
        self._view = memoryview(self._line)  # lines are copied out of it once (a bytearray slice would copy twice)
        self._n = 0
        self._skip = False
        self._rx = b""
        self._ri = 0
        self._payload = None
        self._late = 0
        self.overflows = 0
        self.log = None  # callable(direction, bytes) for diagnostics

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
        return bytes(self._view[s:e])

