"""The simulated modems as layers (sim/modems/base.py draws the stack): each module imports only those below it,
and what a layer owns is reset with it."""

import ast
import socket
from pathlib import Path

from fieldnode.sim.modems import create
from modem_util import Rig, booted

MODEMS_DIR = Path(create.__code__.co_filename).parent
# bottom to top: a module may import only modules to its left
ORDER = ["power", "network", "v250", "radio", "ts27007", "packet", "base", "sim7080g", "quectel_ip", "bg9x", "__init__"]


def test_layers_import_downward_only():
    assert sorted(p.stem for p in MODEMS_DIR.glob("*.py")) == sorted(ORDER)
    for i, name in enumerate(ORDER):
        tree = ast.parse((MODEMS_DIR / f"{name}.py").read_text())
        used = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                used |= {node.module} if node.module else {a.name for a in node.names}
        assert used <= set(ORDER[:i]), f"{name}.py imports {sorted(used - set(ORDER[:i]))} from above it"


def test_a_restart_ends_a_pending_data_phase():
    # A module that loses power while it waits for the bytes of a send does not take the host's next commands as
    # that data after it boots again: the command line and the data phase are the line discipline's own state,
    # cleared with every restart.
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    r = Rig("bg95", {"network": {"attach_ms": 0}, "dns": {"c.example": f"127.0.0.1:{srv.getsockname()[1]}"}},
            at_ms=2000)
    try:
        booted(r, echo_off=True)
        r.at("AT+QIACT=1")
        assert r.at('AT+QIOPEN=1,0,"UDP","c.example",1,0,0').endswith(b"+QIOPEN: 0,0\r\n")
        assert r.at("AT+QISEND=0,4", 50) == b"\r\n> "
        r.m.power_off(r.clock.now_ms(), urc=False)  # the board's power is cut mid-send
        r.m.power_on(r.clock.now_ms())
        r.wait(r.m.BOOT_MS)
        assert r.at("AT", 200) == b"AT\r\r\nOK\r\n"  # echo is back on after the restart, and AT is a command again
    finally:
        srv.close()
