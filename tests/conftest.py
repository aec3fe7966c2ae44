"""Shared fixtures.

Two tiers in one suite: ``mpy`` runs firmware code under the real MicroPython unix port (``firmware/`` on its
path, a heap the size of a board's), and plain tests import firmware modules under CPython after
``fieldnode.mpcompat.install()``.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode import mpcompat  # noqa: E402
from fieldnode.paths import FIRMWARE, micropython_cmd  # noqa: E402

mpcompat.install()
if str(FIRMWARE) not in sys.path:
    sys.path.append(str(FIRMWARE))

SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_HEAP = 113664  # an ESP32 without PSRAM (boards/lowpower-ref.json)


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
    """Run ``code`` (a string) or ``file`` under the MicroPython unix port; return rc, stdout, stderr."""
    if (code is None) == (file is None):
        raise ValueError("give code or file")
    cmd = [micropython_cmd(), "-X", f"heapsize={heap}"]
    cmd += ["-c", code] if code is not None else [str(file)]
    cmd += list(args)
    e = dict(os.environ)
    e["MICROPYPATH"] = os.pathsep.join([str(p) for p in path] + [str(FIRMWARE), ".frozen"])
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)
    return MpyResult(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def mpy():
    """``mpy(code, heap=..., path=[...])`` runs firmware code under the real MicroPython runtime."""
    return run_mpy


@pytest.fixture
def shared_data():
    if not SHARED_DATA.exists():
        pytest.skip(f"real recordings not present at {SHARED_DATA} (they live beside the project, not in it)")
    return SHARED_DATA
