"""The one place where CPython is given what MicroPython firmware imports.

``install()`` provides a ``micropython`` module (``const``, and ``viper``/``native`` as do-nothing decorators)
and adds ``ticks_ms``/``ticks_us``/``ticks_add``/``ticks_diff``/``sleep_ms``/``sleep_us`` to ``time``, so that
pure firmware logic (twins, codec, queue logic) runs under CPython as well. Viper kernels themselves only run
under the MicroPython runtime; their plain-Python twins are what CPython executes. Nothing else imitates
MicroPython.
"""

import sys
import time
import types

_TICKS_PERIOD = 1 << 30  # MicroPython's ticks wrap at 2**30 (MICROPY_PY_TIME_TICKS_PERIOD)


def const(x):
    return x


def _decorator(f):
    return f


def ticks_ms() -> int:
    return int(time.monotonic() * 1000) % _TICKS_PERIOD


def ticks_us() -> int:
    return int(time.monotonic() * 1_000_000) % _TICKS_PERIOD


def ticks_add(t: int, delta: int) -> int:
    return (t + delta) % _TICKS_PERIOD


def ticks_diff(a: int, b: int) -> int:
    d = (a - b) % _TICKS_PERIOD
    return d - _TICKS_PERIOD if d >= _TICKS_PERIOD // 2 else d


def install() -> None:
    if "micropython" not in sys.modules:
        m = types.ModuleType("micropython")
        m.const = const
        m.viper = _decorator
        m.native = _decorator
        m.mem_info = lambda *a: None
        sys.modules["micropython"] = m
    for name, fn in (("ticks_ms", ticks_ms), ("ticks_us", ticks_us), ("ticks_add", ticks_add),
                     ("ticks_diff", ticks_diff)):
        if not hasattr(time, name):
            setattr(time, name, fn)
    if not hasattr(time, "sleep_ms"):
        time.sleep_ms = lambda ms: time.sleep(ms / 1000)
        time.sleep_us = lambda us: time.sleep(us / 1_000_000)
