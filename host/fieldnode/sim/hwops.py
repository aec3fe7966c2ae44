"""The hardware bus's op codes on the host: ``sim/mpy/_hwops.py``, the one table the MicroPython shims import too,
loaded here by path.

    from fieldnode.sim.hwops import ops
    ops.FLASH_READ      # 0x60, what esp32.Partition.readblocks sends

By path, not by import: ``sim/mpy`` is the MicroPython side's module path (its ``machine``, ``time``, ``socket``
stand in for the ESP32 port's), never CPython's; the file is plain assignments that run under both.
"""

import importlib.util
from pathlib import Path

OPS_FILE = Path(__file__).with_name("mpy") / "_hwops.py"
STATUS_BITS = ("PENDING",)  # names in the table that are not ops (with the IO_ flags of WAIT_IO's answer)


def _load():
    spec = importlib.util.spec_from_file_location("fieldnode.sim._hwops", OPS_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ops = _load()


def op_codes() -> dict[str, int]:
    """Every op of the wire protocol, name -> code (the table without its status bits and flags)."""
    return {k: v for k, v in vars(ops).items() if k.isupper() and k not in STATUS_BITS and not k.startswith("IO_")}
