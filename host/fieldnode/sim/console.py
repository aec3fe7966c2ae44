"""The serial console of an interactive virtual board: what a client on the port sees, byte for byte.

The MicroPython unix port runs on an internal pseudo-terminal (it is that terminal's session leader, so Ctrl-C
reaches it as SIGINT, as a UART's interrupt character reaches the ESP32's REPL). This module relays between that
terminal and the board's ports (``sim/serialport.py``), and does what the unix port does differently from an
ESP32 (ports/esp32/main.c, shared/runtime/pyexec.c):

* it exits where a board soft-reboots (Ctrl-D, ``sys.exit()``, ``machine.soft_reset()``): the console prints
  ``MPY: soft reboot``, starts it again, runs boot.py (and main.py unless the REPL was in raw mode) and goes back
  into the raw REPL when that is where the client was, so mpremote and ampy need no ``resume``;
* it prints ``\\n`` where the ESP32's stdout prints ``\\r\\n``, and a banner naming Linux: both are rewritten;
* Ctrl-C interrupts code that the raw REPL runs (the unix port's terminal is raw then: the console signals it);
* with the board's ``run_main`` False, no boot runs main.py (a test harness holds the board at its REPL);
* resets print the ROM's boot line (``rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)``);
* DTR/RTS (over RFC 2217) drive EN and IO0 through the auto-reset circuit of ESP32 dev boards
  (``sim/autoreset.py``). Released with IO0 low the chip starts the ROM bootloader: the bytes then go to
  ``fieldnode.sim.rom.RomBootloader`` instead of MicroPython.
"""

import os
import queue
import re
import select
import signal
import subprocess
import termios
import threading
import tty

from .autoreset import AutoReset
from .resets import Cycle
from .serialport import PtyPort, Rfc2217Server

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.'
SOFT_REBOOT = b"MPY: soft reboot\r\n"
_BANNER = re.compile(rb"MicroPython (\S+) on (\S+); linux \[[^\]]*\] version")
_ROM_RST = {1: (0x1, "POWERON_RESET"), 2: (0xC, "SW_CPU_RESET"), 3: (0x7, "TG0WDT_SYS_RESET"),
            4: (0x5, "DEEPSLEEP_RESET")}


def rom_boot_line(chip: str, cause: int) -> bytes:
    """The first lines an ESP32-family ROM prints at 115200 baud when it boots from flash."""
    code, name = _ROM_RST.get(cause, (0x1, "POWERON_RESET"))
    if chip == "esp32":
        return f"ets Jul 29 2019 12:21:46\r\n\r\nrst:{code:#x} ({name}),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n".encode()
    return (f"ESP-ROM:{chip}-20210327\r\nBuild:Mar 27 2021\r\nrst:{code:#x} ({name.split('_')[0]}),"
            "boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n").encode()


class Console:
    def __init__(self, board, rfc2217: bool = True):
        self.board = board
        self.pty = PtyPort(self.client_input)
        self.reset = AutoReset(lambda: self._actions.put(("en_low",)), lambda: self._actions.put(("en_release",)))
        self.rfc = Rfc2217Server(self.client_input, self.reset.lines, self._baud) if rfc2217 else None
        self._m, self._s = os.openpty()
        self._set_terminal()
        os.set_blocking(self._m, False)
        self.repl_mode = "friendly"
        self.state = "off"  # off | booting | running | download | reset | sleeping
        self.rom = None
        self.log = []  # what the console told the operator (bad client behaviour, mode changes)
        self._lock = threading.Lock()
        self._held = bytearray()
        self._gate = False
        self._raw_phase = None  # None | "boot" (pass boot.py output) | "banner" (swallow) | "entering"
        self._swallow = bytearray()
        self._tail = b""
        self._last = b""
        self._up = threading.Event()
        self._actions: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="console")
        self._thread.start()

    # -- from the board and the clients ---------------------------------------------------------------------------
    def firmware_event(self, text: str):
        if text == "boot:up":
            self._up.set()

    def client_input(self, data: bytes):
        with self._lock:
            if self.state == "download" and self.rom is not None:
                out = self.rom.feed(data)
                if out:
                    self._emit_raw(out)
                if self.rom.reboot_requested:
                    self._actions.put(("leave_download",))
                return
            if self.state in ("off", "reset", "sleeping"):
                return  # nobody is listening: a board in reset or asleep drops what arrives on its UART
            if not self._gate:
                self._held += data
                return
        if b"\x03" in data:
            self._interrupt_raw()
        self._to_process(data)

    def _interrupt_raw(self):
        """Ctrl-C while the raw REPL runs code. The ESP32 interrupts it (pyexec sets the UART's interrupt character
        while code runs); the unix port keeps the terminal raw then, so the kernel makes no SIGINT of the byte.
        MicroPython catches SIGINT exactly while code runs (ports/unix/unix_mphal.c mp_hal_set_interrupt_char;
        otherwise SIGINT would end it): send it then, and only then."""
        proc = self.board.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            if termios.tcgetattr(self._s)[3] & termios.ISIG:
                return  # the friendly REPL runs code with ISIG on: the kernel already signals
            with open(f"/proc/{proc.pid}/status") as f:
                caught = next(int(ln.split()[1], 16) for ln in f if ln.startswith("SigCgt:"))
            if caught & (1 << (signal.SIGINT - 1)):
                os.kill(proc.pid, signal.SIGINT)
        except (OSError, StopIteration, ValueError, termios.error):
            pass

    def _baud(self, baud: int):
        if self.state != "download" and baud != 115200:
            self._say(f"client set {baud} baud: MicroPython's REPL on this board runs at 115200")

    def _say(self, text: str):
        self.log.append(text)
        self.board.log("console", text=text)

    # -- power and resets -----------------------------------------------------------------------------------------
    def power_on(self, download: bool = False):
        self._actions.put(("power_on", download))

    def _boot(self, mode: str, soft: bool, banner: bool = True):
        b = self.board
        if banner and not soft:
            self._emit(rom_boot_line(b.board.chip, b.resets.reset_cause))
        with self._lock:
            self._gate = False
            self._up.clear()
            self._raw_phase = "boot" if mode == "raw" else None
            self._swallow = bytearray()
            self.state = "booting"
        # A board made with ``run_main=False`` (lab/harness.py holding it at the REPL for a test) boots as a raw-REPL
        # soft reboot does, without main.py: as if a client's Ctrl-C stopped main.py at once. Otherwise a main.py that
        # deep-sleeps would wake and sleep again for ever on virtual time, with no moment awake to connect in.
        b.begin_boot(mode if b.run_main else "raw", soft=soft)
        self._set_terminal()
        b.launch(lambda cmd, env: subprocess.Popen(cmd, stdin=self._s, stdout=self._s, stderr=self._s, env=env,
                                                   cwd=b.flash_dir, start_new_session=True,
                                                   preexec_fn=_take_terminal), interactive=True)

    def _set_terminal(self):
        # Raw, but with ISIG: Ctrl-C as SIGINT, the unix port's KeyboardInterrupt while code runs. Set again before
        # every start: a process killed while its REPL had the terminal in raw mode leaves ISIG off, and the next
        # one would take that as its normal mode.
        tty.setraw(self._s)
        attrs = termios.tcgetattr(self._s)
        # NOFLSH: a Ctrl-C must not flush what follows it in the same burst (mpremote sends "\r\x03" then "\r\x01"
        # at once; with the flush, the Ctrl-A was lost and the raw REPL never entered).
        attrs[3] |= termios.ISIG | termios.NOFLSH
        termios.tcsetattr(self._s, termios.TCSANOW, attrs)

    def _enter_download(self):
        b = self.board
        try:
            from .rom import RomBootloader, download_banner
        except ImportError:
            self._say("download mode requested, but this build has no ROM bootloader model")
            return self._boot("friendly", soft=False)
        with self._lock:
            self.rom = RomBootloader(b.flash, b.board.chip, b.mac)
            self.state = "download"
        b.log("download_mode")
        self._emit_raw(download_banner(b.board.chip))

    def _after_exit(self, rc):
        b = self.board
        reason, details = b.conclude(rc)
        if reason == "stopped":
            return
        if self.reset.en_low:
            self.state = "reset"  # held in reset: the release decides what boots
            return
        if reason == "exit":
            self._emit(SOFT_REBOOT)
            return self._boot(self.repl_mode, soft=True)
        if reason == "deepsleep":
            self.state = "sleeping"
            c = Cycle(b.cycles, b.resets.reset_cause, 0, 0, 0, "deepsleep", details.get("ms", 0))
            if not b.sleep_until_wake(c):
                self._say("deep sleep with no timer and no wake pin: the board sleeps until reset")
                return
            self.repl_mode = "friendly"
            return self._boot("friendly", soft=False)
        if reason == "bootloader":
            return self._enter_download()
        self.repl_mode = "friendly"
        self._boot("friendly", soft=False)

    def _loop(self):
        while not self._stop.is_set():
            try:
                act = self._actions.get_nowait()
            except queue.Empty:
                act = None
            if act:
                self._act(act)
                continue
            proc = self.board.proc
            r, _, _ = select.select([self._m], [], [], 0.02)
            if r:
                try:
                    data = os.read(self._m, 65536)
                except OSError:
                    data = b""
                if data:
                    self._output(data)
                continue
            self._flush_tail()
            if self.state == "booting" and self._raw_phase is None and self._up.is_set():
                self._open_gate()
            if proc is not None and proc.poll() is not None and self.state in ("booting", "running"):
                self._after_exit(proc.returncode)

    def _act(self, act):
        kind = act[0]
        b = self.board
        if kind == "power_on":
            if act[1]:
                b.resets.power_on()
                self._enter_download()
            else:
                self._boot("friendly", soft=False)
        elif kind == "en_low":
            with self._lock:
                prev, self.state = self.state, "reset"
                self.rom = None
            if b.proc is not None:
                b.request_end("pin_reset")
                self._drain()
                b.conclude(None)
            elif prev != "reset":
                b.log("end", reason="pin_reset")
                b.resets.pin_reset()  # EN low: RTC memory and the RTC's time are lost (sim/resets.py)
        elif kind == "en_release":
            if self.reset.en_low or self.state != "reset":
                return
            b.resets.power_on()  # the EN pin: a power-on reset to the chip
            self.repl_mode = "friendly"
            if self.reset.io0_seen_low:
                self._enter_download()
            else:
                self._boot("friendly", soft=False)
        elif kind == "leave_download":
            with self._lock:
                self.rom = None
                self.state = "reset"
            b.resets.power_on()
            self.repl_mode = "friendly"
            self._boot("friendly", soft=False)

    def _drain(self):
        while select.select([self._m], [], [], 0.01)[0]:
            try:
                data = os.read(self._m, 65536)
            except OSError:
                return
            if not data:
                return
            self._output(data)

    # -- input to MicroPython ---------------------------------------------------------------------------------
    def _open_gate(self):
        with self._lock:
            self._gate = True
            self.state = "running"
            held, self._held = bytes(self._held), bytearray()
        if held:
            self._to_process(held)

    def _to_process(self, data: bytes):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._m, view)
            except BlockingIOError:
                select.select([], [self._m], [], 0.5)
                continue
            except OSError:
                return
            view = view[n:]

    # -- output from MicroPython -----------------------------------------------------------------------------
    def _output(self, data: bytes):
        data = self._cook(data)
        if self._raw_phase:
            data = self._raw_restart(data)
            if not data:
                return
        self._emit(data)

    def _cook(self, data: bytes) -> bytes:
        """``\\n`` -> ``\\r\\n`` where the unix port wrote a bare newline (the ESP32's stdout is cooked)."""
        out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
        if data.startswith(b"\n") and self._last == b"\r":
            out = out[1:]  # the \r\n was split across reads: undo the \r we added
        self._last = data[-1:]
        return out

    def _raw_restart(self, data: bytes) -> bytes:
        """After a soft reboot in raw mode: pass boot.py's output, swallow the friendly banner, enter raw REPL."""
        if self._raw_phase == "boot":
            i = data.find(b"MicroPython ")
            if i < 0:
                return data
            self._raw_phase = "banner"
            passed, data = data[:i], data[i:]
            self._swallow += data
            self._check_swallow()
            return passed
        self._swallow += data
        return self._check_swallow()

    def _check_swallow(self) -> bytes:
        if self._raw_phase == "banner" and self._swallow.endswith(b">>> "):
            self._raw_phase = "entering"
            self._swallow = bytearray()
            self._to_process(b"\x01")
            return b""
        if self._raw_phase == "entering":
            i = self._swallow.find(b"raw REPL")
            if i >= 0 and self._swallow.endswith(b">"):
                out = bytes(self._swallow[i:])
                self._raw_phase = None
                self._swallow = bytearray()
                self.repl_mode = "raw"
                self._open_gate()
                return out
        return b""

    def _emit(self, data: bytes):
        """Rewrite the banner and note the REPL mode, holding back a line that may be the banner's start."""
        data = self._tail + data
        self._tail = b""
        cut = data.rfind(b"\n") + 1
        line = data[cut:]
        if line and (line.startswith(b"MicroPython ") or b"MicroPython ".startswith(line)):
            self._tail, data = line, data[:cut]
        if data:
            self._send(data)

    def _flush_tail(self):
        if self._tail:
            t, self._tail = self._tail, b""
            self._send(t)

    def _send(self, data: bytes):
        if b"MicroPython " in data:
            chip = self.board.board.chip.upper()
            title = self.board.board["title"].split(" with ")[0]
            data = _BANNER.sub(lambda m: b"MicroPython v1.29.0-preview on " + m.group(2) + b"; " + title.encode()
                               + b" with " + chip.encode(), data)
        if RAW_BANNER[:-2] in data:
            self.repl_mode = "raw"
        elif FRIENDLY_MARK in data:
            self.repl_mode = "friendly"
        self._emit_raw(data)

    def _emit_raw(self, data: bytes):
        self.pty.write(data)
        if self.rfc:
            self.rfc.write(data)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.reset.close()
        self.pty.close()
        if self.rfc:
            self.rfc.close()
        for fd in (self._m, self._s):
            try:
                os.close(fd)
            except OSError:
                pass


def _take_terminal():
    # In the child, after setsid(): make stdin (the internal pty) the controlling terminal, so that the Ctrl-C
    # byte becomes SIGINT for MicroPython.
    import fcntl

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
