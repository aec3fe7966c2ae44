"""Watch a device: its serial output as classified events, and the reports the collector stores for it.

    from fieldnode.monitor import monitor
    monitor("/dev/ttyUSB0", emit=print, collector_db="~/.fieldnode/collector.sqlite", device_id=7, duration=60)

The port is only listened to: DTR and RTS stay released (on ESP32 dev boards they drive EN and IO0 through the
auto-reset circuit, and toggling them would reset the board), nothing is written, so the board runs on as it was.
Each line becomes an event ``{"t", "kind", "text", ...}``; kinds:

* ``log``       a firmware log line (``fieldnode: ...``); a cycle line also carries its numbers in ``fields``
* ``error``     a firmware line saying something failed, or a Python exception line
* ``traceback`` a whole Python traceback, its lines joined
* ``reset``     the ROM's boot line or MicroPython's soft reboot: the board restarted
* ``output``    anything else the board printed
* ``report``    a report the collector stored (from its SQLite file, read-only), decoded: ``report`` holds the
                fields in units, as ``fieldnode collect`` shows them

A port that goes away (a board with native USB resets, a cable pulled) is waited for and opened again.
"""

import os
import re
import time
from pathlib import Path

import serial

from .collector.db import Reader, Unreadable
from .errors import DeviceError, UsageError
from .units import iso_time

PREFIX = "fieldnode:"
_BAD = ("failed", "refused", "link down", "safe mode", "error", "no key.bin", "not provisioned")
_CYCLE = re.compile(r"^fieldnode: cycle (\d+): (.*)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RESET = ("rst:0x", "MPY: soft reboot", "ets Jul", "ESP-ROM:")
_NOISE = {">", ">>>", "OK", "raw REPL; CTRL-B to exit", "raw REPL; CTRL-B to exit >"}
_EXC = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b(:.*)?$")


def classify(line: str) -> str:
    """The kind of one line the board printed (see the module docstring)."""
    s = line.strip()
    if s.startswith(PREFIX):
        return "error" if any(w in s.lower() for w in _BAD) else "log"
    if s.startswith(_RESET):
        return "reset"
    if _EXC.match(s):
        return "error"
    return "output"


def _number(text):
    try:
        return int(text, 0)
    except ValueError:
        return float(text)


def cycle_fields(n: int, rest: str) -> dict:
    """The numbers of a cycle line ("21.50 C, rms 12 mg, flags 0x08, ..."): {"cycle", "temp_c", "rms_mg",
    "flags", ...}; a part it does not understand is left out, so new fields in the firmware's line do no harm."""
    out = {"cycle": n}
    for part in rest.split(", "):
        t = part.split()
        try:
            if len(t) == 2 and t[1] == "C":
                out["temp_c"] = float(t[0])
            elif len(t) in (2, 3) and _NAME.match(t[0]):
                out[t[0] + ("_" + t[2] if len(t) == 3 else "")] = _number(t[1])
        except ValueError:
            continue
    return out


def _event(kind, text, **extra):
    return {"t": time.time(), "kind": kind, "text": text, **extra}


class LineParser:
    """Bytes from the port in, events out; a traceback's lines are gathered into one event."""

    def __init__(self):
        self.buf = b""
        self.tb = None

    def feed(self, data: bytes) -> list:
        self.buf += data
        out = []
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            out += self._line(raw.decode("utf-8", "replace").rstrip("\r"))
        return out

    def flush(self) -> list:
        """At a pause in the output: a pending traceback ends (a prompt without newline is dropped)."""
        out = []
        if self.tb is not None:
            out.append(_event("traceback", "\n".join(self.tb)))
            self.tb = None
        self.buf = b""
        return out

    def _line(self, line: str) -> list:
        s = line.strip()
        if self.tb is not None:
            if line.startswith((" ", "\t")):
                self.tb.append(line)
                return []
            self.tb.append(line)
            text, self.tb = "\n".join(self.tb), None
            return [_event("traceback", text)]
        if s.startswith("Traceback (most recent call last)"):
            self.tb = [s]
            return []
        if not s or s in _NOISE or s.startswith(">>> "):
            return []
        kind = classify(s)
        ev = _event(kind, s)
        m = _CYCLE.match(s) if kind == "log" else None
        if m:
            ev["fields"] = cycle_fields(int(m[1]), m[2])
        return [ev]


class ReportWatcher:
    """New rows of a collector's SQLite file (read-only), for one device or all."""

    def __init__(self, db_path, device_id=None, utc=False):
        self.utc = utc
        p = Path(db_path).expanduser()
        if not p.is_file():
            raise UsageError(f"no collector database at {db_path}",
                             "give the file fieldnode collect writes (default $FIELDNODE_HOME/collector.sqlite)")
        self.path, self.device_id = p, device_id
        self.db = Reader(p)
        self.last = self._read(self.db.last_rowid)

    def _read(self, query, *args):
        try:
            return query(*args)
        except Unreadable as e:
            raise UsageError(f"collector database {self.path} is unreadable: {e}", "is it a collector's database?")

    def poll(self) -> list:
        out = []
        for rowid, dev, counter, received, r in self._read(self.db.reports_after, self.last, self.device_id):
            self.last = max(self.last, rowid)
            vals = _values(r, self.utc)
            text = f"device {dev} counter {counter} flags={','.join(r.get('flags') or []) or '-'} {vals}"
            out.append(_event("report", text, device=dev, counter=counter, received=received, report=r))
        return out


def _values(r: dict, utc=False) -> str:
    """A stored report's values as text (ts in ISO 8601, local or ``utc``); a node report's fields with their units
    (temperature=4.05 degC)."""
    units = r.get("units")
    if units is None:
        return " ".join(f"{k}={iso_time(v, utc) if k == 'ts' else v}" for k, v in r.items()
                        if k not in ("device", "counter", "flags", "health"))
    head = [f"node={r.get('node')}", f"schema={r.get('schema')}", f"ts={iso_time(r.get('ts'), utc)}"]
    vals = [f"{k}={r.get(k)}" + (f" {u}" if u else "") for k, u in units.items()]
    return " ".join(head + vals + [f"events={','.join(r.get('events') or []) or '-'}"])


def open_port(port: str) -> serial.SerialBase:
    """The port opened for listening only (DTR/RTS released: no reset); DeviceError saying what is wrong."""
    if not port:
        raise DeviceError("no port given", "pass --port (e.g. /dev/ttyUSB0)")
    if "://" not in port and not os.path.exists(port):
        raise DeviceError(f"no such port: {port}", "is the board plugged in? list ports with: pyserial-ports")
    try:
        s = serial.serial_for_url(port, baudrate=115200, timeout=0.1, do_not_open=True, exclusive=True)
        s.dtr = False
        s.rts = False
        s.open()
        return s
    except serial.SerialException as e:
        text = str(e).lower()
        if "lock" in text or "busy" in text:
            raise DeviceError(f"port busy: {port}", "close the other program using it (a serial monitor, mpremote?)")
        raise DeviceError(f"cannot open {port}: {e}", "check the port name and your permissions (dialout group)")


def monitor(port: str, emit, *, collector_db=None, device_id=None, duration=None, stop=None, utc=False) -> dict:
    """Follow ``port`` and call ``emit(event)`` for each event until ``duration`` seconds passed, ``stop`` (a
    threading.Event) is set, or Ctrl-C (KeyboardInterrupt, left to the caller). Returns counts by kind."""
    watcher = ReportWatcher(collector_db, device_id, utc) if collector_db else None
    counts: dict = {}

    def out(evs):
        for ev in evs:
            counts[ev["kind"]] = counts.get(ev["kind"], 0) + 1
            emit(ev)

    s = open_port(port)
    parser = LineParser()
    end = time.monotonic() + duration if duration else None
    next_poll = 0.0
    try:
        while (end is None or time.monotonic() < end) and not (stop is not None and stop.is_set()):
            try:
                data = s.read(4096) if s is not None else b""
            except (serial.SerialException, OSError):
                data = b""
                s = _reopen(s, port, out)
            if data:
                out(parser.feed(data))
            elif s is not None:
                out(parser.flush())
            if watcher is not None and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + 0.5
                out(watcher.poll())
            if s is None:
                time.sleep(0.5)
                s = _reopen(None, port, out)
    finally:
        if s is not None:
            s.close()
        out(parser.flush())
    return counts


def _reopen(s, port, out):
    if s is not None:
        try:
            s.close()
        except (serial.SerialException, OSError):
            pass
        out([_event("error", f"{port} went away: waiting for it to come back")])
    try:
        s = open_port(port)
    except DeviceError:
        return None
    out([_event("reset", f"{port} is back")])
    return s
