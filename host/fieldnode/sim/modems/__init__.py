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

The models are layers, each importing only the one below (``base.py`` draws the stack): ``v250.py`` the command
line, ``radio.py`` power and the network's state, ``ts27007.py`` the standard commands, ``packet.py`` the packet
domain and power saving, ``base.py`` the data path; ``sim7080g.py`` and ``bg9x.py`` (BG95, BG96, BG77, over
``quectel_ip.py``, Quectel's TCP/IP commands) the families; ``network.py`` the scenario and the host sockets;
``power.py`` the current figures.

Data goes over real sockets to this host: the scenario's ``dns`` maps the names the firmware uses to local
addresses, so ``uni.soracom.io:23080`` reaches a collector on 127.0.0.1.

Scenario keys (all optional; the defaults are a roaming SORACOM-like SIM in good LTE-M coverage)::

    {
      "model": "bg96",                   # optional check: must name the board's modem.type (it never chooses)
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

from ... import parts
from .base import ATModem
from .bg9x import BG77, BG95, BG96, BG9x
from .sim7080g import SIM7080G

# One row per board-file modem.type, from the one table of parts (fieldnode.parts.MODEMS): the model class it names.
MODEMS = {name: parts.model_class(part) for name, part in parts.MODEMS.items()}


def create(name: str, clock, scenario: dict | None = None) -> ATModem:
    """The model for a board's ``modem.type`` (``MODEMS[name](clock, scenario)``). The scenario's optional "model"
    key is only a check: it must name the same module, or the scenario is refused (ConfigError)."""
    from ...errors import ConfigError

    cls = MODEMS.get(name)
    if cls is None:
        raise ConfigError(f"no simulated modem {name!r}", f"choose one of: {', '.join(MODEMS)}")
    return cls(clock, scenario)


__all__ = ["MODEMS", "ATModem", "BG9x", "BG95", "BG96", "BG77", "SIM7080G", "create"]
