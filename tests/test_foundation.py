"""The foundation: the MicroPython runtime in the suite, CPython twins, firmware builds for every board."""

import subprocess
import sys

import pytest
from conftest import ROOT, run_mpy
from fieldnode import boards, build


def test_viper_runs_under_micropython_runtime():
    code = """
import micropython
from array import array
@micropython.viper
def sumsq(a) -> int:
    p = ptr16(a)
    s = 0
    for i in range(int(len(a))):
        v = (p[i] ^ 0x8000) - 0x8000   # ptr16 reads unsigned: sign-extend
        s += v * v
    return s
import sys
print(sys.implementation.name, sumsq(array('h', [-32768, 3, -4, 32767])))
"""
    out = run_mpy(code).check()
    assert out.split() == ["micropython", str(32768**2 + 9 + 16 + 32767**2)]


def test_heap_size_is_the_boards():
    out = run_mpy("import gc; gc.collect(); print(gc.mem_free() + gc.mem_alloc())", heap=113664).check()
    total = int(out)
    assert 100_000 < total <= 113664


def test_micropython_failure_is_reported():
    r = run_mpy("raise ValueError('boom')")
    assert r.rc != 0 and "ValueError: boom" in r.err + r.out


def test_cpython_compat_gives_const_and_ticks():
    import time

    import micropython

    assert micropython.const(5) == 5
    assert time.ticks_diff(time.ticks_add(0, -1), 0) == -1
    assert time.ticks_diff(5, (1 << 30) - 5) == 10


def test_firmware_constants_are_read_from_source_as_the_module_has_them():
    from fieldnode import fwbridge

    app = fwbridge.constants("app")  # imports machine: only a board (or the virtual one) can run it
    assert (app["KEY"], app["QUEUE_BYTES"]) == ("key.bin", 32768)  # a plain literal, and one inside const()
    assert fwbridge.constants("loader")["SLOTS"] == ("app_a", "app_b")
    cfg = fwbridge.load("appconfig")  # a module CPython can import gives the same values
    assert {k: v for k, v in fwbridge.constants("appconfig").items() if k.isupper()} == {
        k: getattr(cfg, k) for k in ("CONFIG", "GOOD", "VIB_DEFAULTS")}


def test_every_board_file_validates():
    names = boards.names()
    assert len(names) >= 6
    archs = {boards.load(n).arch for n in names}
    assert archs == {"xtensawin", "rv32imc"}


@pytest.mark.parametrize("name", boards.names())
def test_firmware_builds_for_board(name, tmp_path):
    b = build.build(name, out_root=tmp_path)
    mpys = [p for p in b.files.values() if p.suffix == ".mpy"]
    assert mpys, "no module compiled"
    # .mpy header byte 2 holds the native architecture in its top six bits; modules with viper code carry it.
    archs = {p.read_bytes()[2] >> 2 for p in mpys}
    assert {"xtensawin": 10, "rv32imc": 11}[b.arch] in archs
    assert "/board.json" in b.files


def test_build_fails_on_code_the_chip_cannot_run(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import micropython\n@micropython.viper\ndef f(x: float) -> int:\n    return 1\n")
    with pytest.raises(build.FieldnodeError, match="mpy-cross"):
        build.compile_module(bad, tmp_path / "bad.mpy", "xtensawin")


def test_cli_boards_lists_every_board():
    p = subprocess.run([sys.executable, "-m", "fieldnode", "boards"], capture_output=True, text=True,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr
    for n in boards.names():
        assert n in p.stdout
