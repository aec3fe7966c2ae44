"""Run firmware code on the MicroPython unix port with the simulated ESP32 API in front of its own modules.

``run(code, bus=HwBus(...))`` puts ``sim/mpy`` (machine, time, network, esp32 shims) and ``firmware/`` on the
runtime's path and points the shims at the hardware bus. The virtual board (``sim/board.py``) starts the same
runtime behind a pseudo-terminal; tests use ``run`` directly.
"""

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..paths import FIRMWARE, micropython_cmd


@dataclass
class Result:
    rc: int
    out: str
    err: str


@functools.cache
def shim_dir() -> Path:
    """The ESP32 API modules the unix port imports (sim/mpy), compiled once per tree (``build.shims``)."""
    from ..build import shims

    return shims()


def env_for(bus=None, extra_path=(), base=None, shims=True) -> dict:
    """The runtime's environment: ``extra_path``, the ESP32 shims (unless ``shims`` is False: the unix port's own
    modules, for pure firmware logic), ``firmware/``; and the hardware bus when there is one."""
    e = dict(base if base is not None else os.environ)
    path = [str(p) for p in extra_path] + ([str(shim_dir())] if shims else []) + [str(FIRMWARE), ".frozen"]
    e["MICROPYPATH"] = os.pathsep.join(path)
    if bus is not None:
        e["FIELDNODE_HWBUS"] = bus.address
    else:
        e.pop("FIELDNODE_HWBUS", None)
    return e


ESP32_HEAP = 113664  # MicroPython's heap on an ESP32 without PSRAM (boards/lowpower-ref.json)


def host_heap(chip_heap: int = ESP32_HEAP) -> int:
    """The unix port's heap for a program that has ``chip_heap`` bytes on the chip. On a 64-bit host every object
    slot and pointer is 8 bytes where the ESP32 has 4, and a GC block is 32 bytes where it is 16 (py/gc.c:
    BYTES_PER_BLOCK = 4 words), so the same program needs about twice the heap: twice the chip's, so that what fits
    on the chip fits here and what does not, does not."""
    return chip_heap * (2 if sys.maxsize > 2**32 else 1)


def run(code=None, *, file=None, bus=None, heap=None, extra_path=(), timeout=120, cwd=None, env=None,
        args=(), shims=True) -> Result:
    """Run code under the unix port. With the ESP32 API (``shims``) the default heap is the virtual board's,
    ``host_heap()`` (the API modules, built into the chip's firmware, are Python in the heap here too); without,
    the ESP32's heap as it is."""
    if (code is None) == (file is None):
        raise ValueError("give code or file")
    if heap is None:
        heap = host_heap() if shims else ESP32_HEAP
    cmd = [micropython_cmd(), "-X", f"heapsize={heap}"]
    cmd += ["-c", code] if code is not None else [str(file)]
    cmd += list(args)
    e = env_for(bus, extra_path, shims=shims)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)
    return Result(p.returncode, p.stdout, p.stderr)
