"""A connection to a MicroPython board over a serial port: mpremote's transport used as a library.

``connect(port)`` opens ``/dev/ttyUSB0``, a pseudo-terminal, ``rfc2217://...`` or ``socket://...`` (pyserial's
URLs, as esptool and mpremote do) and turns the ways this goes wrong into one-line errors with a hint: no such
port, port busy, not a MicroPython board. Everything above this module talks to the board through ``Device``.
"""

import ast
import errno
import os
import time

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from .errors import DeviceError

# What a board prints when it resets under a running command: the ESP32 ROM's boot line (esp-idf ROM bootloader,
# "rst:0x1 (POWERON_RESET),boot:0x13 ..."), pyexec's soft-reboot line, and the friendly REPL's banner.
RESET_MARKS = (b"rst:0x", b"MPY: soft reboot", b"\r\nMicroPython v")


class Device:
    """A board in raw REPL. ``exec``/``eval`` run code on it; use as a context manager."""

    def __init__(self, transport: SerialTransport, port: str):
        self.t = transport
        self.port = port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        release(self.t, resume=False)

    def resume(self):
        """Leave the board running its application again (see ``release``) and close the port."""
        release(self.t, resume=True)


    def exec(self, code: str, timeout: float = 30) -> str:
        """Run ``code``; return what it printed. A Python error on the board raises DeviceError with its last line.
        ``timeout`` bounds the whole run (see ``run``)."""
        data, err = self.run(code, timeout)
        if err:
            last = err.strip().splitlines()[-1:] or ["error"]
            raise DeviceError(f"{self.port}: the board raised {last[0]}")
        return data

    def run(self, code: str, timeout: float = 30, watch=None) -> tuple[str, str]:
        """Run ``code``; return (what it printed, MicroPython's traceback or "") without raising for a Python
        error, so a caller can show the whole traceback. ``timeout`` is overall: after it the code is interrupted
        (Ctrl-C) and DeviceError says so. A board that resets under the code (its ROM boot line, a soft reboot
        or the REPL banner in what it prints) ends the wait at once with DeviceError: a node that went back to its
        cycle would otherwise keep the port busy with its own output and the verb would wait for ever. ``watch()``
        is called about once a second while waiting; what it raises ends the wait too."""
        try:
            self.t.exec_raw_no_follow(code)
        except TransportError as e:
            raise DeviceError(f"{self.port}: the board did not take the code ({e})",
                              "is it still in the raw REPL? reconnect, or reset the board")
        end = time.monotonic() + timeout
        parts = []
        for _ in ("stdout", "stderr"):
            data = b""
            while not data.endswith(b"\x04"):
                if watch is not None:
                    watch()
                if time.monotonic() >= end:
                    self._interrupt()
                    raise DeviceError(f"{self.port}: the code did not finish within {timeout:g} s; it was "
                                      "interrupted (Ctrl-C)",
                                      "give a longer timeout, or look for a loop that never ends")
                try:
                    data += self.t.read_until(1, b"\x04", timeout=0.2)
                except (OSError, serial.SerialException) as e:
                    raise DeviceError(f"{self.port}: the board stopped answering ({e})", "reconnect, or reset it")
                if any(m in data for m in RESET_MARKS):
                    raise DeviceError(f"{self.port}: the board reset while running the command",
                                      "it may have crashed, browned out or been reset: run the command again; "
                                      "if it repeats, watch it with: fieldnode monitor --port PORT")
            parts.append(data[:-1].decode(errors="replace"))
        return parts[0], parts[1]

    def _interrupt(self):
        """Ctrl-C the running code, let its KeyboardInterrupt through, and enter the raw REPL again so the next
        exec starts at a fresh prompt."""
        try:
            self.t.serial.write(b"\x03")
            self.t.read_until(1, b"\x04>", timeout=2, timeout_overall=5)
            self.t.enter_raw_repl(soft_reset=False, timeout_overall=5)
        except (OSError, serial.SerialException, TransportError):
            pass

    def eval(self, expr: str):
        return ast.literal_eval(self.exec(f"print(repr({expr}))").strip())

    def value(self, code: str):
        """Run ``code`` and return the Python literal on the last line it printed (code that ends in a print)."""
        return ast.literal_eval(self.exec(code).strip().splitlines()[-1])

    def write_file(self, path: str, data: bytes, chunk: int = 2048, progress=None) -> None:
        """Write ``path`` atomically: to ``path + '.tmp'``, then rename (a power cut leaves old or new, not half)."""
        tmp = path + ".tmp"
        self.exec(f"f=open({tmp!r},'wb')\nw=f.write")
        for i in range(0, len(data), chunk):
            self.exec(f"w({bytes(data[i:i + chunk])!r})")
            if progress:
                progress(min(i + chunk, len(data)), len(data))
        self.exec(f"f.close()\nimport os\nos.rename({tmp!r},{path!r})")

    def read_file(self, path: str) -> bytes:
        try:
            return bytes(self.t.fs_readfile(path, chunk_size=2048))
        except (OSError, TransportExecError) as e:
            raise DeviceError(f"{self.port}: cannot read {path} on the board ({e})")


def _probe(port: str) -> None:
    """Open and close the port once to tell "busy" from "missing" (mpremote folds both into one message)."""
    try:
        s = serial.serial_for_url(port, do_not_open=True, exclusive=True)
        s.open()
        s.close()
    except serial.SerialException as e:
        text = str(e).lower()
        if "lock" in text or "busy" in text or getattr(e, "errno", None) == errno.EBUSY:
            raise DeviceError(f"port busy: {port}", "close the other program using it (a serial monitor, mpremote?)")
        if "refused" in text:
            raise DeviceError(f"nothing listens at {port}", "is the virtual board running? (fieldnode sim board)")
        raise DeviceError(f"cannot open {port}: {e}", "check the port name and your permissions (dialout group)")


def connect(port: str, soft_reset: bool = False, timeout: int = 10) -> Device:
    """Open ``port`` and enter the raw REPL. Raises DeviceError with what to do when that fails."""
    if not port:
        raise DeviceError("no port given", "pass --port (e.g. /dev/ttyUSB0, or the path `fieldnode sim board` prints)")
    if "://" not in port and not os.path.exists(port):
        raise DeviceError(f"no such port: {port}", "is the board plugged in? list ports with: pyserial-ports")
    _probe(port)
    try:
        # A read timeout: without one, pyserial's read() blocks for ever on a port that never answers (mpremote's
        # own read_until then never reaches its overall timeout); every read here loops until its own deadline.
        t = SerialTransport(port, baudrate=115200, timeout=1)
    except (TransportError, OSError, serial.SerialException) as e:
        raise DeviceError(f"cannot open {port}: {e}", "check the port name and your permissions (dialout group)")
    try:
        t.enter_raw_repl(soft_reset=soft_reset, timeout_overall=timeout)
    except (TransportError, OSError, serial.SerialException):
        try:
            t.close()
        except (OSError, serial.SerialException):
            pass
        raise DeviceError(f"{port}: not a MicroPython board (no raw REPL answer)",
                          "flash MicroPython first: fieldnode flash --board NAME --port PORT")
    return Device(t, port)


def release(t, resume: bool = True) -> None:
    """Leave the raw REPL and close the port. With ``resume`` the board soft-reboots from the friendly REPL
    (Ctrl-B, then Ctrl-D: pyexec's soft reset runs boot.py and main.py again), so a node that a verb interrupted
    goes back to its wake cycle instead of waiting at the REPL for a technician who has already left."""
    try:
        if t.in_raw_repl:
            t.exit_raw_repl()
        if resume:
            t.serial.write(b"\x04")
            t.serial.flush()
    except (OSError, serial.SerialException, TransportError):
        pass
    try:
        t.close()
    except (OSError, serial.SerialException):
        pass
