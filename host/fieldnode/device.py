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
_TAIL = 8  # bytes left waiting while reading in chunks (see Device.run)
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
        buf = b""
        while buf.count(b"\x04") < 2:
            if watch is not None:
                watch()
            if time.monotonic() >= end:
                self._interrupt()
                raise DeviceError(f"{self.port}: the code did not finish within {timeout:g} s; it was "
                                  "interrupted (Ctrl-C)",
                                  "give a longer timeout, or look for a loop that never ends")
            try:
                # Own reads, not mpremote's read_until (which does not return while bytes keep coming, whatever
                # its timeouts). The last bytes waiting are read one at a time, so the raw REPL's ">" after the
                # second end marker is left for the next exec.
                n = self.t.serial.in_waiting
                buf += self.t.serial.read(n - _TAIL) if n > _TAIL else self.t.serial.read(1)
            except (OSError, serial.SerialException) as e:
                raise DeviceError(f"{self.port}: the board stopped answering ({e})", "reconnect, or reset it")
            if any(m in buf for m in RESET_MARKS):
                raise DeviceError(f"{self.port}: the board reset while running the command",
                                  "it may have crashed, browned out or been reset: run the command again; "
                                  "if it repeats, watch it with: fieldnode monitor --port PORT")
        out, err, _ = buf.split(b"\x04", 2)
        return out.decode(errors="replace"), err.decode(errors="replace")

    def _interrupt(self):
        """Ctrl-C the running code, let its KeyboardInterrupt through, and enter the raw REPL again so the next
        exec starts at a fresh prompt."""
        try:
            self.t.serial.write(b"\x03")
            self.t.read_until(1, b"\x04>", timeout=2, timeout_overall=5)
            enter_raw_repl(self.t, 5)
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
        enter_raw_repl(t, timeout, soft_reset)
    except (TransportError, OSError, serial.SerialException):
        try:
            t.close()
        except (OSError, serial.SerialException):
            pass
        raise DeviceError(f"{port}: not a MicroPython board (no raw REPL answer)",
                          "flash MicroPython first: fieldnode flash --board NAME --port PORT")
    return Device(t, port)


RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


def enter_raw_repl(t, timeout: float = 10, soft_reset: bool = False) -> None:
    """Interrupt what the board runs and enter the raw REPL, within ``timeout`` overall whatever the board prints.

    mpremote's own ``enter_raw_repl`` checks its overall timeout only while no byte arrives, so a node whose main.py
    prints without pause, and which missed the one Ctrl-C (sent while it was still booting), keeps it reading for
    ever. Here Ctrl-C and Ctrl-A are sent again every 2 s until the raw REPL's banner comes (shared/runtime/pyexec.c:
    "raw REPL; CTRL-B to exit\r\n", then ">"), reading byte by byte so the prompt is left for the exec that
    follows. TransportError when the deadline passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        t.serial.write(b"\r\x03")
        time.sleep(0.05)
        t.serial.write(b"\x03")  # a second Ctrl-C: the first may land in a boot.py that catches one
        time.sleep(0.05)
        while t.serial.in_waiting:
            t.serial.read(t.serial.in_waiting)
        t.serial.write(b"\r\x01")
        if _read_to(t, RAW_BANNER, min(end, time.monotonic() + 2)):
            break
    else:
        raise TransportError("could not enter raw repl")
    if soft_reset:
        t.serial.write(b"\x04")
        if not (_read_to(t, b"soft reboot\r\n", end) and _read_to(t, RAW_BANNER, end)):
            raise TransportError("could not enter raw repl after the soft reset")
    t.in_raw_repl = True


def _read_to(t, ending: bytes, end: float) -> bool:
    """Read until ``ending`` (True) or the monotonic time ``end`` (False), a byte at a time."""
    data = b""
    while time.monotonic() < end:
        b = t.serial.read(1)  # the port's read timeout (1 s) bounds each read
        if b:
            data = (data + b)[-len(ending):]
            if data == ending:
                return True
    return False


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
