"""The firmware's codec, imported by CPython: the collector decodes with the very code that encoded."""

import sys

from .. import mpcompat
from ..paths import FIRMWARE

mpcompat.install()
if str(FIRMWARE) not in sys.path:
    sys.path.append(str(FIRMWARE))

from proto import auth, codec, commands, fetch, schema  # noqa: E402

for _m in (auth, codec, commands, fetch, schema):
    if not str(getattr(_m, "__file__", "")).startswith(str(FIRMWARE)):
        raise ImportError(f"{_m.__name__} came from {_m.__file__}, not from {FIRMWARE}: another package shadows it")

__all__ = ["auth", "codec", "commands", "fetch", "schema"]
