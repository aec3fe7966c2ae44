"""Talk to a board's modem from the host, and say in plain words what is wrong with its link.

The board runs ``firmware/net/passthrough.py``; this module drives it through any transport with
``exec(code: str) -> bytes`` (mpremote's ``SerialTransport`` in raw REPL, which also works on a virtual board's
pseudo-terminal), so nothing here touches a serial port directly::

    from fieldnode import modem
    t = modem.open_transport("/dev/ttyUSB0")
    con = modem.ModemConsole(t, "m5stack-core2")
    print(con.at("AT+CSQ"))                 # ['+CSQ: 17,99', 'OK']
    facts = con.facts()                     # the driver's info(): identity, registration history, errors
    for f in modem.diagnose(facts, facts["history"], facts["errors"]):
        print(f)

``diagnose(info, history, errors)`` needs no device at all: it turns the facts into findings.
"""

import json
from dataclasses import asdict, dataclass

from . import boards
from .errors import ConfigError, DeviceError, UsageError

WEAK_DBM = -105  # below this LTE-M links drop and retransmit (roughly CSQ 4)


@dataclass
class Finding:
    level: str  # "error" | "warning" | "ok"
    what: str  # the fact, in plain words
    todo: str = ""  # what to do about it

    def __str__(self):
        return f"{self.level.upper():7} {self.what}" + (f"\n        -> {self.todo}" if self.todo else "")

    def as_dict(self) -> dict:
        return asdict(self)


def diagnose(info: dict, history: list, errors: list) -> list[Finding]:
    """Findings from a link's facts: ``info`` as the firmware's ``link.info()`` gives it, the registration
    ``history`` (names such as "searching", "roaming", "denied") and the last ``errors`` (one-line strings)."""
    info = info or {}
    history = [str(h) for h in (history or [])]
    errors = [str(e) for e in (errors or [])]
    text = " | ".join(errors).lower()
    reg = info.get("registration")
    dbm = info.get("dbm")
    out: list[Finding] = []

    if "does not answer" in text:
        out.append(Finding("error", "The modem does not answer AT commands.",
                           "check the modem's power and PWRKEY, the UART pins and baud rate in the board file"))
        return out
    if "no sim" in text or "sim not inserted" in text:
        out.append(Finding("error", "No SIM card: the modem reports that no SIM is inserted.",
                           "insert the SIM (contacts down, notch as printed on the holder) and power-cycle"))
        return out
    if "sim failure" in text or "pin-locked" in text or "sim not ready" in text:
        out.append(Finding("error", "The SIM is present but not usable (" + _first(errors, "sim") + ").",
                           "reseat the SIM; a PIN-locked SIM needs its PIN removed in a phone"))
        return out
    if "denied" in history or reg == "denied" or "denied" in text:
        out.append(Finding("error", f"The network refused this SIM (registration denied){_op(info)}.",
                           "check that the SIM is activated and its subscription allows this network (roaming); "
                           "in the SORACOM console the SIM must be 'active'"))
    elif reg in ("home", "roaming"):
        pass
    elif dbm is None:
        out.append(Finding("error", "No coverage: the modem hears no LTE-M/NB-IoT network here.",
                           "check the antenna is connected; move the device (near a window, higher); check the "
                           "operator's LTE-M/NB-IoT coverage map"))
    else:
        out.append(Finding("error", f"There is signal ({dbm} dBm) but the modem is not registered in the SIM's "
                                    "network" + (f" (it stayed {history[-1]})" if history else "") + ".",
                           "the SIM's operator may not serve this RAT or band: check rat (catm/nbiot) and bands "
                           "in the link config; allow roaming; check the SIM is activated"))
    if "apn refused" in text:
        out.append(Finding("error", "Registered, but the network refused the data connection (APN): "
                                    + _first(errors, "apn refused"),
                           "set the APN and credentials of the SIM's operator (SORACOM: soracom.io, sora/sora)"))
    if dbm is not None and dbm < WEAK_DBM:
        out.append(Finding("warning", f"Weak signal: {dbm} dBm.",
                           "expect retries and more energy per report; improve the antenna position"))
    if reg in ("home", "roaming") and info.get("psm") is None and info.get("up"):
        out.append(Finding("warning", "The network did not grant PSM.",
                           "the modem is powered off between reports instead, costing an attach per wake"))
    socket_err = [e for e in errors if "socket open failed" in e or "send failed" in e]
    if socket_err:
        out.append(Finding("error", f"Data did not get through: {socket_err[-1]}",
                           "check the collector endpoint (host:port) and that the collector is running"))
    if not any(f.level == "error" for f in out) and reg in ("home", "roaming"):
        out.append(Finding("ok", f"Registered ({reg}){_op(info)}, signal "
                                 f"{'unknown' if dbm is None else f'{dbm} dBm'}" +
                           (", data connection up." if info.get("up") else ".")))
    if not out:
        out.append(Finding("warning", "Nothing conclusive: the modem answered but registration is unknown.",
                           "run again with a longer --timeout"))
    return out


def _op(info) -> str:
    return f" on {info['operator']}" if info.get("operator") else ""


def _first(errors, needle) -> str:
    for e in errors:
        if needle in e.lower():
            return e
    return errors[0] if errors else ""


def check_at(line: str) -> str:
    """The command line as the modem should get it, or UsageError saying why not."""
    s = line.strip()
    if not s.upper().startswith("AT"):
        raise UsageError(f"{line!r} is not an AT command", "AT commands start with AT, e.g. AT+CSQ")
    if any(not (32 <= ord(c) < 127) for c in s):
        raise UsageError(f"{line!r} has characters a modem does not take", "use printable ASCII only")
    return s


class ModemConsole:
    """The modem of one board, reached through ``transport.exec``. ``board``: a board name, file or Board."""

    def __init__(self, transport, board=None):
        self.t = transport
        b = board if isinstance(board, boards.Board) or board is None else boards.load(board)
        m = b["modem"] if b is not None else None
        if b is not None and not m:
            raise ConfigError(f"board {b.name} has no modem", "fieldnode modem needs a board with a cellular modem")
        bus = b["buses"][m["bus"]] if m else {"id": 1}
        self.modem = m["type"] if m else "sim7080g"
        self.uart_id = bus["id"]
        self.baud = m.get("baud", 115200) if m else 115200
        self.tx, self.rx = bus.get("tx"), bus.get("rx")
        self.pwrkey = m.get("pwrkey") if m else None
        self.dtr = m.get("dtr") if m else None  # where wired, the passthrough drives it low to wake the modem
        self.earlier: list[str] = []  # lines that came before the last command's answer (see ``at``)

    def _exec(self, code: str, timeout_s: float = 30) -> str:
        """Run ``code`` on the board within ``timeout_s`` overall (a serial board through ``Device.run``: a
        deadline, and a board that resets under the command ends the wait at once)."""
        if hasattr(self.t, "exec_raw_no_follow"):
            from .device import Device

            out, err = Device(self.t, getattr(self.t, "device_name", "the board")).run(code, timeout_s)
            if err:
                self._refused(err)
            return out
        try:
            out = self.t.exec(code)
        except Exception as e:  # mpremote's TransportExecError carries the device's traceback
            self._refused(str(getattr(e, "error_output", "") or e))
        return out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)

    @staticmethod
    def _refused(msg: str):
        if "ImportError" in msg or "no module named" in msg.lower():
            raise DeviceError("the board's firmware has no net/passthrough.py",
                              "deploy the firmware first (fieldnode deploy)") from None
        raise DeviceError(f"the board failed running the passthrough: {msg.strip().splitlines()[-1:]}",
                          "reset the board and try again") from None

    def at(self, line: str, timeout_ms: int = 5000) -> list[str]:
        """Send one AT command; return the modem's reply lines up to and including the final result code. What
        the modem said before this command's answer (URCs, the tail of a command the interrupted node had in
        flight) is kept apart in ``self.earlier``: it is never part of the reply."""
        cmd = check_at(line)
        out = self._exec(f"import net.passthrough as p\np.at({cmd!r}, {int(timeout_ms)}, {self.uart_id}, "
                         f"{self.baud}, {self.tx!r}, {self.rx!r}, {self.dtr!r})\n", timeout_ms / 1000 + 15)
        lines = [ln.rstrip("\r") for ln in out.splitlines() if ln.strip()]
        self.earlier = [ln[2:] for ln in lines if ln.startswith("~ ")]
        return [ln for ln in lines if not ln.startswith("~ ")]

    def facts(self, cfg: dict | None = None, deadline_ms: int = 90000) -> dict:
        """Run the firmware driver's up() on the board; its info() with 'up' and 'up_ms' added."""
        out = self._exec(f"import net.passthrough as p\np.diagnose({self.modem!r}, {self.uart_id}, {self.baud}, "
                         f"{self.pwrkey!r}, {json.dumps(json.dumps(cfg or {}))}, {int(deadline_ms)}, "
                         f"{self.dtr!r})\n", deadline_ms / 1000 + 30)
        for ln in reversed(out.splitlines()):
            if ln.startswith("{"):
                return json.loads(ln)
        raise DeviceError("the board printed no diagnosis", f"it said: {out.strip()[-200:]!r}")


def open_transport(port: str, baud: int = 115200):
    """mpremote's SerialTransport on ``port`` (a device path or a pyserial URL), in raw REPL: the same connection
    (and the same one-line errors: no such port, busy, not a MicroPython board) as every other verb."""
    from .device import connect

    return connect(port).t
