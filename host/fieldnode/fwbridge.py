"""The one bridge from CPython to the firmware's own modules (``firmware/``), so that the host decodes, validates and
models with the very code the device runs.

``fwbridge.load("proto.codec")`` returns the firmware module, after ``mpcompat.install()`` has given CPython what
MicroPython firmware imports, with ``firmware/`` on ``sys.path`` (appended, so a host package never shadows it and a
firmware module never shadows the standard library). A module that resolves to a file outside ``firmware/`` means
another installed package took the name: that is an ImportError, not a silent mix of two codecs.
"""

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
