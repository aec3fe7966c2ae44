"""The AT engine (firmware/net/at.py) against a scripted modem on a fake clock: random interleavings of URCs,
echo, noise, over-long lines and split reads; results, URC routing and deadlines checked. The same engine and fakes
run under CPython (hypothesis) and, for a sample of cases, under the MicroPython runtime with identical output."""

import inspect
import json
import random

import pytest
import transcript_fakes
from conftest import run_mpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from net.at import AT, ATError, fields, num

# A fake clock (transcript_fakes' own, as source) and a scripted modem, written so that MicroPython runs them too.
FAKES = inspect.getsource(transcript_fakes.Clock) + r'''

class Modem:
    # script[i] = [(delay_ms, bytes), ...] released after the i-th write; reads return at most `split` bytes.
    def __init__(self, clock, script, splits):
        self.c = clock
        self.script = script
        self.splits = splits
        self.si = 0
        self.writes = []
        self.q = []

    def write(self, b):
        self.writes.append(bytes(b))
        i = len(self.writes) - 1
        if i < len(self.script):
            t = self.c.t
            for d, chunk in self.script[i]:
                t += d
                self.q.append((t, chunk))
        return len(b)

    def _ready(self):
        out = b""
        while self.q and self.q[0][0] <= self.c.t:
            out += self.q.pop(0)[1]
        return out

    def any(self):
        if not hasattr(self, "buf"):
            self.buf = b""
        self.buf += self._ready()
        return len(self.buf)

    def read(self, n):
        self.any()
        k = self.splits[self.si % len(self.splits)]
        self.si += 1
        k = min(k, n, len(self.buf))
        out, self.buf = self.buf[:k], self.buf[k:]
        return out
'''
_ns: dict = {}
exec(FAKES, _ns)
Clock, Modem = _ns["Clock"], _ns["Modem"]

FINALS = {b"OK", b"ERROR", b"SEND OK", b"SEND FAIL", b"RDY"}
noise_bytes = st.binary(min_size=1, max_size=12).map(
    lambda b: bytes(c for c in b if c not in (10, 62)) or b"#").filter(
    lambda b: not b.strip(b" \r\x00").startswith((b"+", b"AT", b"at")) and b.strip(b" \r\x00") not in FINALS)

element = st.one_of(
    st.tuples(st.just("resp"), st.integers(0, 999)),
    st.tuples(st.just("urc"), st.integers(0, 999)),
    st.tuples(st.just("noise"), noise_bytes),
    st.tuples(st.just("long"), st.integers(257, 400)),
)


def build(elements, echo, final, delays):
    """The byte stream a modem would send, and what the engine should make of it."""
    chunks, resp, urcs = [], [], []
    if echo:
        chunks.append(b"AT+TST\r")
    for kind, v in elements:
        if kind == "resp":
            chunks.append(b"\r\n+TST: %d\r\n" % v)
            resp.append(b"+TST: %d" % v)
        elif kind == "urc":
            chunks.append(b"\r\n+URC: %d\r\n" % v)
            urcs.append(b"+URC: %d" % v)
        elif kind == "noise":
            chunks.append(v)  # stray bytes, no line end: the next line's CR LF ends them
        else:
            chunks.append(b"\r\n" + b"x" * v + b"\r\n")
    chunks.append(b"\r\n" + final + b"\r\n")
    return [(delays[i % len(delays)], c) for i, c in enumerate(chunks)], resp, urcs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(element, max_size=12), st.booleans(), st.lists(st.integers(0, 40), min_size=1, max_size=5),
       st.lists(st.integers(1, 9), min_size=1, max_size=6))
def test_command_result_and_urcs_never_mix(elements, echo, delays, splits):
    script, resp, urcs = build(elements, echo, b"OK", delays)
    clock = Clock()
    m = Modem(clock, [script], splits)
    at = AT(m, clock=clock)
    seen = []
    at.on(b"+URC:", seen.append)
    lines = at.cmd(b"AT+TST", 5000, b"+TST:")
    assert lines == resp
    assert seen == urcs
    assert m.writes == [b"AT+TST\r"]
    assert at.overflows == sum(1 for k, _ in elements if k == "long")


@settings(max_examples=150, deadline=None)
@given(st.lists(element, max_size=8), st.sampled_from([b"ERROR", b"+CME ERROR: 10", b"+CMS ERROR: 321"]),
       st.lists(st.integers(1, 9), min_size=1, max_size=4))
def test_error_finals_raise_with_their_code(elements, final, splits):
    script, _, urcs = build(elements, False, final, [3])
    clock = Clock()
    at = AT(Modem(clock, [script], splits), clock=clock)
    seen = []
    at.on(b"+URC:", seen.append)
    with pytest.raises(ATError) as e:
        at.cmd(b"AT+TST", 5000, b"+TST:")
    kind, code = {b"ERROR": ("error", -1), b"+CME ERROR: 10": ("cme", 10), b"+CMS ERROR: 321": ("cms", 321)}[final]
    assert (e.value.kind, e.value.code) == (kind, code)
    assert seen == urcs


@settings(max_examples=150, deadline=None)
@given(st.integers(50, 5000), st.lists(st.integers(0, 400), min_size=1, max_size=6), st.integers(1, 30))
def test_never_waits_past_the_timeout(timeout, delays, step):
    """A reply that comes too late (or never) gives a timeout no later than the timeout itself."""
    script = [(d, b"\r\n+URC: 1\r\n") for d in delays] + [(timeout + 1, b"\r\nOK\r\n")]
    clock = Clock()
    at = AT(Modem(clock, [script], [7]), clock=clock, step=step)
    with pytest.raises(ATError) as e:
        at.cmd(b"AT+TST", timeout)
    assert e.value.kind == "timeout"
    assert clock.t <= timeout
    assert at.timeouts == 1


def test_a_modem_that_never_stops_talking_does_not_hold_the_caller():
    clock = Clock()
    script = [(1, b"garbage without end ") for _ in range(10000)]
    at = AT(Modem(clock, [script], [64]), clock=clock)
    with pytest.raises(ATError):
        at.cmd(b"AT+TST", 200)
    assert clock.t <= 200 + 8  # at most _LATE chunks are taken once the deadline has passed


def test_restart_banner_mid_command_aborts_at_once():
    clock = Clock()
    restarts = []
    at = AT(Modem(clock, [[(30, b"\r\nRDY\r\n"), (5000, b"\r\nOK\r\n")]], [3]), clock=clock)
    at.on(b"RDY", restarts.append)
    with pytest.raises(ATError) as e:
        at.cmd(b"AT+TST", 60000)
    assert e.value.kind == "restart" and clock.t < 100 and restarts == [b"RDY"] and at.restarts == 1


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.lists(element, max_size=5), st.booleans(),
       st.lists(st.integers(1, 17), min_size=1, max_size=4))
def test_binary_payloads_with_prompt_and_reads(payload, before, inline, splits):
    """send_data writes only after the '>' prompt; read_data returns payloads holding CR, LF, commas, anything."""
    pre, _, urcs = build(before, False, b"", [2])
    pre = pre[:-1]  # no final yet
    clock = Clock()
    if inline:  # SIM7080G AT+CARECV: +CARECV: <n>,<data>
        reply = [(5, b"\r\n+CARECV: %d," % len(payload) + payload + b"\r\n\r\nOK\r\n")]
        cmd, prefix = b"AT+CARECV=0,1460", b"+CARECV:"
    else:  # Quectel AT+QIRD: +QIRD: <n><CR><LF><data>
        reply = [(5, b"\r\n+QIRD: %d\r\n" % len(payload) + payload + b"\r\n\r\nOK\r\n")]
        cmd, prefix = b"AT+QIRD=0,1500", b"+QIRD:"
    script = [pre + [(10, b"\r\n> ")], [(20, b"\r\nSEND OK\r\n")], pre + reply]
    m = Modem(clock, script, splits)
    at = AT(m, clock=clock)
    seen = []
    at.on(b"+URC:", seen.append)
    at.send_data(b"AT+QISEND=0,%d" % len(payload), payload, 5000)
    assert m.writes == [b"AT+QISEND=0,%d\r" % len(payload), payload]
    head, data = at.read_data(cmd, prefix, inline, 5000)
    assert data == payload and head.startswith(prefix)
    assert seen == urcs + urcs


def test_wait_returns_the_urc_and_routes_the_others():
    clock = Clock()
    m = Modem(clock, [[(10, b"\r\n+URC: 1\r\n"), (10, b"\r\n+QIOPEN: 0,0\r\n")]], [4])
    at = AT(m, clock=clock)
    seen = []
    at.on(b"+URC:", seen.append)
    m.write(b"x")
    assert at.wait(b"+QIOPEN:", 1000) == b"+QIOPEN: 0,0" and seen == [b"+URC: 1"]
    assert at.wait(b"+QIOPEN:", 500) is None and clock.t <= 20 + 500


def test_fields_and_num():
    assert fields(b'+COPS: 0,0,"NTT DOCOMO",7', b"+COPS:") == ["0", "0", "NTT DOCOMO", "7"]
    assert num(b"+CSQ: 20,99", 5) == 20 and num(b"none") == -1


def _cases(n, seed):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        els = []
        for _ in range(rnd.randint(0, 8)):
            k = rnd.choice(["resp", "urc", "noise", "long"])
            v = {"resp": rnd.randint(0, 99), "urc": rnd.randint(0, 99), "noise": b"#%$&"[: rnd.randint(1, 4)],
                 "long": rnd.randint(257, 300)}[k]
            els.append((k, v))
        script, resp, urcs = build(els, rnd.random() < 0.5, b"OK", [rnd.randint(0, 30) for _ in range(3)])
        out.append(([[d, c.decode("latin-1")] for d, c in script], [rnd.randint(1, 9) for _ in range(4)]))
    return out


def test_engine_under_micropython_matches_cpython():
    cases = _cases(40, 7)
    expected = []
    for script, splits in cases:
        clock = Clock()
        at = AT(Modem(clock, [[(d, c.encode("latin-1")) for d, c in script]], splits), clock=clock)
        seen = []
        at.on(b"+URC:", seen.append)
        lines = at.cmd(b"AT+TST", 5000, b"+TST:")
        expected.append([[x.decode() for x in lines], [x.decode() for x in seen], at.overflows, clock.t])
    code = FAKES + """
import json
from net.at import AT
cases = json.loads(%r)
for script, splits in cases:
    clock = Clock()
    at = AT(Modem(clock, [[(d, c.encode()) for d, c in script]], splits), clock=clock)
    seen = []
    at.on(b"+URC:", seen.append)
    lines = at.cmd(b"AT+TST", 5000, b"+TST:")
    print(json.dumps([[x.decode() for x in lines], [x.decode() for x in seen], at.overflows, clock.t]))
""" % json.dumps(cases)
    out = run_mpy(code).check()  # a line per case: the board-sized heap holds no list of all 40 results
    assert [json.loads(x) for x in out.splitlines()] == expected


def test_a_banner_between_commands_ends_the_next_one_but_not_a_first_boot():
    """RDY read while idle: before the engine's first command it is the module's boot (nothing to lose); after a
    command it says the state that command set up is gone, so the next command reports the restart unsent."""
    clock = Clock()
    m = Modem(clock, [[(5, b"\r\nOK\r\n"), (10, b"\r\nRDY\r\n")], [(5, b"\r\nOK\r\n")]], [64])
    m.q.append((0, b"\r\nRDY\r\n\r\n+CPIN: READY\r\n"))  # the boot, before anything was sent
    at = AT(m, clock=clock)
    at.on(b"+CPIN:")
    assert at.cmd(b"ATE0", 1000) == [] and at.restarts == 1  # routed, not an error
    clock.sleep_ms(50)
    at.poll(0)  # the RDY after ATE0's OK
    with pytest.raises(ATError) as e:
        at.cmd(b"AT+CSQ", 1000)
    assert e.value.kind == "restart" and m.writes == [b"ATE0\r"] and at.restarts == 2
    assert at.cmd(b"AT", 1000) == [] and m.writes == [b"ATE0\r", b"AT\r"]  # reported once


def test_a_prompt_outside_send_data_is_an_ordinary_line():
    """A '>' left over from an aborted send (the modem restarted before the data) asks for no data (the engine
    wrote None there once): it is a line like any other."""
    clock = Clock()
    m = Modem(clock, [[(5, b"\r\n> \r\n\r\nOK\r\n")]], [64])
    at = AT(m, clock=clock)
    assert at.cmd(b"AT", 1000) == [b">"] and m.writes == [b"AT\r"]
