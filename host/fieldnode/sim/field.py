"""What happens to a node in the field, done to a running virtual board, so that a technician can rehearse
``fieldnode modem --diagnose`` (and a CI job can test a node's reaction) without pulling a real SIM:

    field.apply(board, "sim out")         # the SIM is gone: +CPIN: NOT INSERTED, CEREG stat 0
    field.apply(board, "coverage off")    # no cell from now on (an outage with no end), until "coverage on"
    field.apply(board, "denied")          # the network refuses the SIM (CEREG stat 3)
    field.apply(board, "rssi -112")       # the signal the modem reports (AT+CSQ), in dBm

``START`` maps the ``fieldnode sim board`` options (--no-sim, --no-coverage, --denied, --rssi) to the modem scenario
keys (``sim/modems/__init__.py``) a board starts with; ``apply`` changes a running model's scenario in place, which
the model reads at each command. A SIM put back while the modem runs counts from its next attach, as the SIM7080
and BG9x have no SIM hot-plug detection by default (the module reads the card at power-on).
"""

from ..errors import UsageError

NO_END_MS = 1 << 62
ACTIONS = ("sim out", "sim in", "coverage off", "coverage on", "denied", "allowed", "rssi DBM")


def start_scenario(no_sim=False, no_coverage=False, denied=False, rssi=None, base=None) -> dict:
    """The modem scenario a board starts with: ``base`` (a scenario's "modem" object) with the options applied."""
    m = dict(base or {})
    net = dict(m.get("network") or {})
    if no_sim:
        m["sim"] = dict(m.get("sim") or {}, present=False)
    if no_coverage:
        net["outages"] = [*net.get("outages", []), [0, NO_END_MS]]
    if denied:
        net["registration"] = "denied"
    if rssi is not None:
        net["rssi_dbm"] = int(rssi)
    if net:
        m["network"] = net
    return m


def apply(board, action: str) -> str:
    """Do ``action`` (one of ``ACTIONS``) to the board's modem now; returns what was done, in words."""
    modem = getattr(board, "modem", None)
    sc = getattr(modem, "sc", None)
    if sc is None:
        raise UsageError(f"board {board.board.name} has no cellular modem", "field actions need a modem board")
    words = action.strip().lower().split()
    rel = modem.rel(board.clock.now_ms())
    if words == ["sim", "out"]:
        sc.sim_present = False
        return "SIM removed"
    if words == ["sim", "in"]:
        sc.sim_present = True
        return "SIM inserted (the modem reads it at its next power-on)"
    if words == ["coverage", "off"]:
        sc.outages.append((rel, NO_END_MS))
        return "coverage lost"
    if words == ["coverage", "on"]:
        sc.outages[:] = [(a, min(b, rel)) for a, b in sc.outages if a < rel]
        return "coverage back"
    if words == ["denied"]:
        sc.registration = "denied"
        return "the network now refuses the SIM"
    if words == ["allowed"]:
        sc.registration = "roaming"
        return "the network accepts the SIM again (roaming)"
    if len(words) == 2 and words[0] == "rssi" and words[1].lstrip("-").isdigit():
        sc.rssi_dbm = int(words[1])
        return f"signal now {sc.rssi_dbm} dBm"
    raise UsageError(f"{action!r} is not a field action", f"one of: {', '.join(ACTIONS)}")
