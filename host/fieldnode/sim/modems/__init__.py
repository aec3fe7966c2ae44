"""Simulated cellular modems on a virtual board's UART, answering in their own AT dialect.

``MODEMS[name](clock, scenario)`` builds one; ``name`` is a board file's ``modem.type``. Each model is a
``fieldnode.sim.devices.UARTDevice``: plug it into ``HwBus(uart={id: model})``. It reports its power state to
``model.on_power(state)`` ("off", "idle", "idle_drx", "idle_edrx", "connected", "tx", "tau", "psm") on every
change, and ``model.power_figure(state)`` gives (mA, source) for the states whose current depends on the network
(DRX/eDRX cycle, TAU; ``modems/power.py``). The board routes the PWRKEY GPIO to ``model.pwrkey(level, now_ms)``
(level 1 = key pressed) and, where its board file wires one, the DTR GPIO to ``model.dtr(level, now_ms)`` (high: the
module may sleep once AT+CSCLK=1 / AT+QSCLK=1, and its UART then ignores the host; low: awake; not driven: high).
``model.next_change_ms()`` says when it will change by itself (a board that skips virtual
time should ``poll()`` it then): replies, PSM entry, the periodic TAU when the granted T3412 runs out.

Data goes over real sockets to this host: the scenario's ``dns`` maps the names the firmware uses to local
addresses, so ``uni.soracom.io:23080`` reaches a collector on 127.0.0.1.

Scenario keys (all optional; the defaults are a roaming SORACOM-like SIM in good LTE-M coverage)::

    {
      "model": "bg95",                   # BG9x only: bg95 | bg96 | bg77
      "power": "on",                     # "off": the modem waits for a PWRKEY press (boards that wire PWRKEY)
      "sim": {"present": true, "iccid": "8981100000123456789F", "imsi": "440103123456789", "pin": false},
      "imei": "866123045678901",
      "network": {
        "registration": "roaming",       # home | roaming | denied | searching
        "attach_ms": 6000,               # first attach after boot (slow first attach: make it large)
        "rssi_dbm": -83,
        "operator": "NTT DOCOMO",
        "rtt_ms": 400,                   # radio round trip added to replies on the virtual clock
        "apn": "soracom.io",             # null: any APN works; otherwise another APN is refused
        "outages": [[60000, 3600000]],   # no coverage in these windows, ms after the model was created
        "psm": {"grant": true, "t3412": null, "t3324": null},  # null: grant what was requested
        "drx_ms": 1280,                  # the cell's paging cycle: 320 | 640 | 1280 | 2560
        "edrx": {"grant": true, "cycle": null, "ptw": "0001"}  # cycle null: as requested; ptw 4 bits, 2.56 s
      },
      "dns": {"uni.soracom.io": "127.0.0.1:23080"},
      "faults": [
        {"kind": "cme_error", "match": "AT+CNACT", "code": 30, "times": 1},
        {"kind": "no_reply", "match": "AT+CSQ"},
        {"kind": "garbage", "match": "AT+CIMI", "data": "\\u0000\\u00ff#%"},
        {"kind": "reset", "match": "AT+CASEND"},          # a data command resets mid-send
        {"kind": "socket_closed", "after_sends": 1}       # the network closes the socket after that send
      ]
    }

``times`` is how often a fault fires (default 1; null: every time); ``match`` is the start of the command line.
A malformed scenario raises ``ConfigError`` naming the key.
"""

from .base import ATModem
from .bg9x import BG9x
from .sim7080g import SIM7080G

MODEMS = {"sim7080g": SIM7080G, "bg95": BG9x, "bg96": BG9x, "bg77": BG9x}


def create(name: str, clock, scenario: dict | None = None) -> ATModem:
    """The model for a board's ``modem.type``; BG9x variants take their model from ``name``."""
    from ...errors import ConfigError

    cls = MODEMS.get(name)
    if cls is None:
        raise ConfigError(f"no simulated modem {name!r}", f"choose one of: {', '.join(MODEMS)}")
    if cls is BG9x:
        scenario = dict(scenario or {}, model=name)
    return cls(clock, scenario)


__all__ = ["MODEMS", "ATModem", "BG9x", "SIM7080G", "create"]
