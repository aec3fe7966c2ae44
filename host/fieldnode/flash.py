"""Flash MicroPython onto a board with esptool's Python API (the documented "public API": ``detect_chip``,
``run_stub``, ``attach_flash``, ``erase_flash``, ``write_flash``, ``verify_flash``, ``reset_chip``).

    from fieldnode.flash import flash
    result = flash("/dev/ttyUSB0", "m5stack-core2", "ESP32_GENERIC-v1.24.1.bin", erase=True,
                   progress=lambda done, total, stage: print(stage, done, total))

Before anything is written it checks, in this order: the firmware file exists and its image header names the
board's chip; the port exists and is free; an ESP chip answers; it is the board file's chip; its flash is as big
as the board file says. Each failure is a ``FieldnodeError`` with one line saying what to do. The same code runs
against a real board and the virtual board (``socket://`` or ``rfc2217://`` URL, or its pseudo-terminal).
"""

import errno
import os
import time
from dataclasses import dataclass, field

import serial
import serial.tools.list_ports
from esp_pylib.logger import EspLog
from esptool import cmds
from esptool.logger import TemplateLogger, log
from esptool.util import FatalError

from . import boards, firmware
from .boards import parse_size
from .errors import DeviceError, UsageError

CHIP_NAMES = {"esp32": "ESP32", "esp32s3": "ESP32-S3", "esp32c3": "ESP32-C3"}
CHIP_OF_NAME = {v: k for k, v in CHIP_NAMES.items()}
DOWNLOAD_MODE_HINT = ("check that the port is the board's and that it is in download mode (hold BOOT, press "
                      "RESET); a board without auto-reset needs that by hand")


@dataclass
class FlashResult:
    port: str
    board: str
    chip: str
    chip_description: str
    mac: str
    flash_size: str | None
    firmware: str
    firmware_version: str
    offset: int
    size: int
    erased: bool
    verified: bool
    seconds: float
    log: list = field(default_factory=list)  # esptool's own messages, for --verbose

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("log")
        d["offset"] = f"{self.offset:#x}"
        return d


class _Logger(TemplateLogger):
    """esptool's output, captured; its progress bars go to our callback (esptool docs, "Custom Logger")."""

    def __init__(self, progress, stage):
        self.lines = []
        self._progress = progress
        self._stage = stage

    def print(self, message="", *args, **kwargs):
        self.lines.append(str(message))

    def note(self, message):
        self.lines.append(f"note: {message}")

    def warning(self, message):
        self.lines.append(f"warning: {message}")

    def error(self, message):
        self.lines.append(f"error: {message}")

    def stage(self, finish=False):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        if self._progress and total_iters:
            self._progress(cur_iter, total_iters, self._stage[0])

    def set_verbosity(self, verbosity):
        pass


def find_port(board) -> str:
    """The one serial port whose USB vendor/product ID matches the board file's ``usb`` entry."""
    b = boards.load(board) if isinstance(board, str) else board
    usb = b.get("usb")
    if not usb:
        raise UsageError(f"board {b.name} has no USB id in its board file to find it by", "pass --port PORT")
    vid, pid = int(usb["vid"], 0), int(usb["pid"], 0)
    found = [p.device for p in serial.tools.list_ports.comports() if (p.vid, p.pid) == (vid, pid)]
    if not found:
        raise DeviceError(f"no port with USB id {vid:04x}:{pid:04x} ({b.name}) is plugged in",
                          "plug the board in, or pass --port PORT")
    if len(found) > 1:
        raise DeviceError(f"{len(found)} ports match {b.name} ({', '.join(sorted(found))})",
                          "pass --port PORT to say which one")
    return found[0]


def check_port(port: str) -> None:
    """Fail early, and clearly, on a port that does not exist or that another program holds."""
    if "://" not in port and not os.path.exists(port):
        raise DeviceError(f"no such port: {port}", "plug the board in and check the name (ls /dev/tty*)")
    try:
        s = serial.serial_for_url(port, exclusive=True, do_not_open=True)
        s.open()
        s.close()
    except serial.SerialException as e:
        text = str(e)
        if getattr(e, "errno", None) == errno.EBUSY or "exclusively lock" in text or "busy" in text.lower():
            raise DeviceError(f"port {port} is busy: another program has it open",
                              "close the serial monitor, mpremote or IDE using it, then retry")
        if getattr(e, "errno", None) == errno.ENOENT or "No such file" in text:
            raise DeviceError(f"no such port: {port}", "plug the board in and check the name")
        if "refused" in text.lower():
            raise DeviceError(f"nothing listens at {port}", "start the virtual board first (fieldnode sim board)")
        raise DeviceError(f"cannot open port {port}: {text}", "check the port name and your permissions")


def connect(port: str, attempts: int = 7, before: str = "default-reset"):
    """esptool's detect_chip, with its failures as one-line DeviceErrors. Returns the ESPLoader."""
    try:
        return cmds.detect_chip(port, connect_mode=before, connect_attempts=attempts)
    except FatalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "no answer"
        if "Failed to connect" in first or "No serial data" in first or "Timed out" in first:
            raise DeviceError(f"no ESP chip answered on {port} (no reply to the bootloader's SYNC after "
                              f"{attempts} attempts)", DOWNLOAD_MODE_HINT)
        raise DeviceError(f"talking to the chip on {port} failed: {first}", DOWNLOAD_MODE_HINT)
    except (serial.SerialException, OSError) as e:
        raise DeviceError(f"port {port} failed: {e}", "check the cable and the port")


def flash(port, board, firmware_path=None, erase=False, progress=None, *, connect_attempts=7,
          before="default-reset", after="hard-reset") -> FlashResult:
    """Write MicroPython to ``board`` (name or Board) on ``port`` (None: find it by USB id).

    ``firmware_path`` None takes the newest cached firmware for the board's chip. ``progress(done, total,
    stage)`` is called as work proceeds; stage is "connect", "stub", "erase", "write" or "verify", each first
    with done 0, so a screen shows the stage at once. Returns a FlashResult."""
    t0 = time.monotonic()
    b = boards.load(board) if isinstance(board, str) else board
    fw_path, info = firmware.resolve(b.chip, firmware_path)
    size = fw_path.stat().st_size
    if b.firmware_offset + size > b.flash_bytes:
        raise UsageError(f"firmware {fw_path.name} ({size} bytes at {b.firmware_offset:#x}) does not fit the "
                         f"{b['flash_size']} flash of {b.name}", "use the firmware built for this board")
    port = port or find_port(b)
    check_port(port)
    stage = ["connect"]
    logger = _Logger(progress, stage)
    saved = EspLog.instance
    log.set_logger(logger)
    try:
        if progress:
            progress(0, 1, "connect")  # something on screen at once: the bootloader sync can take seconds
        esp = connect(port, connect_attempts, before)
        if progress:
            progress(1, 1, "connect")
        with esp:
            try:
                result = _flash_connected(esp, port, b, fw_path, info, size, erase, progress, stage, after)
            except DeviceError:
                # refused before anything was written (wrong chip, smaller flash): the board goes back to what it
                # ran instead of waiting in the ROM bootloader for someone to press RESET
                if after == "hard-reset":
                    _quiet_reset(esp)
                raise
    except FatalError as e:
        raise DeviceError(f"flashing {b.name} on {port} failed: {str(e).strip().splitlines()[0]}",
                          "retry; if it fails again, retry with --erase, then check the cable")
    finally:
        EspLog.instance = saved
    result.seconds = round(time.monotonic() - t0, 3)
    result.log = logger.lines
    return result


def _flash_connected(esp, port, b, fw_path, info, size, erase, progress, stage, after) -> FlashResult:
    found = CHIP_OF_NAME.get(esp.CHIP_NAME, esp.CHIP_NAME)
    if found != b.chip:
        raise DeviceError(f"the chip on {port} is an {esp.CHIP_NAME}, but board {b.name} has an "
                          f"{CHIP_NAMES[b.chip]}", "choose the board file for this hardware (fieldnode boards)")
    description = esp.get_chip_description()
    mac = ":".join(f"{x:02x}" for x in esp.read_mac())
    stage[0] = "stub"
    if progress:
        progress(0, 1, "stub")  # uploading esptool's flasher stub and reading the flash id: seconds, no bar of its own
    esp = cmds.run_stub(esp)
    cmds.attach_flash(esp)
    detected = cmds.detect_flash_size(esp)
    if progress:
        progress(1, 1, "stub")
    if detected and parse_size(detected) < b.flash_bytes:
        raise DeviceError(f"the chip on {port} has {detected} of flash, but board {b.name} says "
                          f"{b['flash_size']}", "fix flash_size in the board file or choose the right board")
    if erase:
        stage[0] = "erase"
        if progress:
            progress(0, 1, "erase")
        cmds.erase_flash(esp)
        if progress:
            progress(1, 1, "erase")
    stage[0] = "write"
    if progress:
        progress(0, size, "write")  # esptool erases the region first, before its own bar starts
    with open(fw_path, "rb") as f:
        cmds.write_flash(esp, [(b.firmware_offset, f)])
    stage[0] = "verify"
    if progress:
        progress(0, size, "verify")
    with open(fw_path, "rb") as f:
        cmds.verify_flash(esp, [(b.firmware_offset, f)])
    if progress:
        progress(size, size, "verify")
    cmds.reset_chip(esp, after)
    return FlashResult(port=port, board=b.name, chip=b.chip, chip_description=description, mac=mac,
                       flash_size=detected, firmware=str(fw_path), firmware_version=info.version,
                       offset=b.firmware_offset, size=size, erased=bool(erase), verified=True, seconds=0.0)


def _quiet_reset(esp) -> None:
    try:
        cmds.reset_chip(esp, "hard-reset")
    except (FatalError, serial.SerialException, OSError):
        pass  # the refusal is what the user needs to read; a failed reset must not hide it


def wait_for_repl(port: str, timeout: float = 10.0) -> bool:
    """After a reset: True once the board prints MicroPython's prompt (``>>> ``) or banner, False on timeout.

    Sends Ctrl-C and a carriage return, as a user would at a fresh prompt, again every half second while the
    board may still be booting."""
    deadline = time.monotonic() + timeout
    try:
        with serial.serial_for_url(port, baudrate=115200, timeout=0.1) as s:
            seen = b""
            poke = 0.0
            while time.monotonic() < deadline:
                if time.monotonic() >= poke:
                    s.write(b"\r\x03\r")
                    poke = time.monotonic() + 0.5
                seen = (seen + s.read(256))[-512:]
                if b">>> " in seen or b"MicroPython v" in seen:
                    return True
    except (serial.SerialException, OSError):
        return False
    return False
