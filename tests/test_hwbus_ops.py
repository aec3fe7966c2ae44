"""The hardware bus's op codes are written once (``sim/mpy/_hwops.py``) and both ends read that file: the
MicroPython shims import it, the host loads it by path. These tests fail when a second copy appears, when the two
ends would see different tables, or when an op is sent that no board answers."""

import ast
import json
import re
from pathlib import Path

from fieldnode.sim import hwops
from fieldnode.sim.board import VirtualBoard
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.hwops import op_codes, ops
from fieldnode.sim.runtime import run

SIM = Path(hwops.__file__).parent
# machine.SLEEP and machine.DEEPSLEEP are the ESP32 port's wake values (Pin.irq(wake=...)), not op codes
API_NAMES = {"machine.py": {"SLEEP", "DEEPSLEEP"}}


def _table() -> dict:
    return {k: v for k, v in vars(ops).items() if k.isupper()}


def test_the_micropython_side_reads_the_same_table_as_the_host():
    r = run("import _hwbus, json\nprint(json.dumps({k: getattr(_hwbus, k) for k in dir(_hwbus) if k.isupper()}))")
    assert r.rc == 0, r.err
    assert json.loads(r.out) == _table()


def test_op_codes_are_distinct_single_bytes():
    codes = op_codes()
    assert len(codes) >= 30 and len(set(codes.values())) == len(codes), codes
    assert all(0 < v <= 0xFF for v in codes.values())
    assert ops.PENDING == 0x80 and {ops.IO_REALTIME, ops.IO_IDLE, ops.IO_DATA} == {1, 2, 4}


def test_no_other_module_keeps_a_copy_of_an_op_code():
    names = set(_table())
    copies = []
    for p in sorted(SIM.rglob("*.py")):
        if p.name == "_hwops.py":
            continue
        for node in ast.parse(p.read_text()).body:
            if not isinstance(node, ast.Assign):
                continue
            for t in node.targets:
                ids = [t.id] if isinstance(t, ast.Name) else [e.id for e in getattr(t, "elts", ()) if
                                                              isinstance(e, ast.Name)]
                copies += [f"{p.relative_to(SIM)}: {i}" for i in ids
                           if i in names and i not in API_NAMES.get(p.name, ())]
    assert not copies, f"op codes defined outside sim/mpy/_hwops.py: {copies}"


def test_every_op_a_shim_sends_is_in_the_table_and_a_board_answers_every_op(tmp_path):
    used = set()
    for p in (SIM / "mpy").glob("*.py"):
        used |= set(re.findall(r"_hwbus\.([A-Z][A-Z0-9_]*)\b", p.read_text()))
    assert used and used <= set(_table()), used - set(_table())
    with VirtualBoard("lowpower-ref", flash_dir=tmp_path) as vb:
        assert vb.bus.handled_ops() == HwBus.known_ops() == set(op_codes().values())
    bare = HwBus(vb.clock)
    try:
        board_only = {k for k, v in op_codes().items() if v not in bare.handled_ops()}
        assert board_only == {k for k, v in op_codes().items() if v >= ops.FLASH_READ} | {"MONO"}
    finally:
        bare.close()
