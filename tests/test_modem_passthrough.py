"""The firmware's AT passthrough (net/passthrough.py, behind `fieldnode modem`) on a scripted UART and a virtual
clock: a reply that belongs to the command the interrupted node had in flight is never shown as the technician's."""

import importlib
import sys
import time
import types

import pytest


class Modem:
    """A UART whose far end answers each command line after the command before it has finished (a module runs
    one command at a time, V.250 5.2.4): ``busy_ms`` is what the node's own in-flight command still needs."""

    def __init__(self, clock, busy_ms, answers):
        self.clock, self.answers, self.rx, self.line = clock, answers, [], b""
        self.busy_until = busy_ms
        if busy_ms:
            self.rx.append((busy_ms, b"\r\nOK\r\n"))  # the final result of the node's command, still on its way

    def any(self):
        return sum(len(d) for t, d in self.rx if t <= self.clock[0])

    def read(self, n):
        out = b"".join(d for t, d in self.rx if t <= self.clock[0])
        self.rx = [(t, d) for t, d in self.rx if t > self.clock[0]]
        return out

    def write(self, data):
        for c in data:
            self.line += bytes([c])
            if c == 13:
                cmd, self.line = self.line.strip(), b""
                if not cmd:
                    continue
                due = max(self.clock[0], self.busy_until) + 50
                self.busy_until = due
                self.rx.append((due, self.answers.get(cmd, b"\r\nERROR\r\n")))


@pytest.fixture
def passthrough(monkeypatch):
    clock = [0]
    fake = types.ModuleType("machine")
    fake.UART = None  # replaced per test through p._uart
    monkeypatch.setitem(sys.modules, "machine", fake)
    monkeypatch.setattr(time, "ticks_ms", lambda: clock[0], raising=False)
    monkeypatch.setattr(time, "ticks_add", lambda t, d: t + d, raising=False)
    monkeypatch.setattr(time, "ticks_diff", lambda a, b: a - b, raising=False)

    def sleep_ms(ms):
        clock[0] += ms

    monkeypatch.setattr(time, "sleep_ms", sleep_ms, raising=False)
    sys.modules.pop("net.passthrough", None)
    p = importlib.import_module("net.passthrough")
    yield p, clock
    sys.modules.pop("net.passthrough", None)


ANSWERS = {b"AT+CIMI": b"\r\n440103123456789\r\n\r\nOK\r\n", b"AT+CMEE?": b"\r\n+CMEE: 1\r\n\r\nOK\r\n"}


@pytest.mark.parametrize("busy_ms", [0, 30, 300, 1200])
def test_a_reply_in_flight_is_never_the_technicians(passthrough, capsys, busy_ms):
    p, clock = passthrough
    p._uart = Modem(clock, busy_ms, ANSWERS)
    p.at("AT+CIMI", 5000)
    lines = capsys.readouterr().out.splitlines()
    mine = [ln for ln in lines if not ln.startswith("~ ")]
    assert mine == ["440103123456789", "OK"]
    if busy_ms:
        assert "~ OK" in lines  # the node's own answer is shown, apart


def test_a_modem_that_never_answers_still_ends(passthrough, capsys):
    p, clock = passthrough
    m = Modem(clock, 0, {})
    m.write = lambda data: None
    p._uart = m
    p.at("AT+CIMI", 2000)
    out = capsys.readouterr().out
    assert "did not answer AT+CMEE?" in out and "(no final result within 2000 ms)" in out
