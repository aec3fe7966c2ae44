"""The one bridge from CPython to the firmware's own modules (``firmware/``), so that the host decodes, validates and
models with the very code the device runs.

``fwbridge.load("proto.codec")`` returns the firmware module, after ``mpcompat.install()`` has given CPython what
MicroPython firmware imports, with ``firmware/`` on ``sys.path`` (appended, so a host package never shadows it and a
firmware module never shadows the standard library). A module that resolves to a file outside ``firmware/`` means
another installed package took the name: that is an ImportError, not a silent mix of two codecs.
"""

import ast
import sys
from importlib import import_module

from . import mpcompat
from .paths import FIRMWARE


def install() -> None:
    """Make the firmware importable under CPython (idempotent)."""
    mpcompat.install()
    if str(FIRMWARE) not in sys.path:
        sys.path.append(str(FIRMWARE))


def load(name: str):
    """The firmware module ``name`` ("proto.codec", "net.link", "appconfig", ...), imported from ``firmware/``."""
    install()
    module = import_module(name)
    if not str(getattr(module, "__file__", "")).startswith(str(FIRMWARE)):
        raise ImportError(f"{name} came from {module.__file__}, not from {FIRMWARE}: another package shadows it")
    return module


def resolve(ref: str):
    """The firmware object a "module:Name" reference names (``parts.SENSORS[...].driver``)."""
    module, _, name = ref.partition(":")
    return getattr(load(module), name)


def constants(name: str) -> dict:
    """The module-level constants of the firmware module ``name`` ("app", "loader"): every ``NAME = <literal>``
    and ``NAME = const(<literal>)``, read from its source without running it. For modules that import what only a
    board has (``machine``), so that the host still takes such values (file names, sizes) from the firmware itself."""
    path = FIRMWARE.joinpath(*name.split(".")).with_suffix(".py")
    out = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "const" and len(value.args) == 1:
            value = value.args[0]
        try:
            out[node.targets[0].id] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError):
            pass  # not a literal (a computed value): not a constant the host can take
    return out

