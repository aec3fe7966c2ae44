"""A virtual ESP32/M5Stack board: the MicroPython unix port as the board's CPU, with the ESP32 API in front of it
(``sim/mpy``), its littlefs root on a flash image, sensors and a modem on the hardware bus, and a virtual clock.

Two ways to run one:

* **Headless**, for fleets and tests: ``run_cycle()`` boots the board (boot.py, main.py on the littlefs root) and
  returns when the firmware deep-sleeps, resets, crashes, hangs or loses power, with what it printed; ``run()``
  repeats that, sleeping through the deep sleeps on the virtual clock. No serial port, no REPL.
* **Interactive**: ``start()`` puts the board behind a pseudo-terminal (``.port``) and an RFC 2217 server
  (``.url``); mpremote, ampy and esptool use it as they would a board on USB (see ``sim/console.py``).

    board = VirtualBoard(boards.load("m5stack-core2"))   # or VirtualBoard("m5stack-core2")
    board.put_files({"main.py": "import machine\\nprint('hi')\\nmachine.deepsleep(60000)\\n"})
    cycles = board.run(cycles=3)       # three wake cycles, 60 s of deep sleep between them
    board.energy.report(board.clock.now_ms())

The board is made of parts that each own their state, tied one way (the board knows them, they do not know it):
``wiring`` (the parts on its buses, from the board file and the scenario), ``pins`` (GPIO inputs, Pin.irq edges,
wake sources), ``timebase`` (the clock in microseconds, sleeps and skips), ``resets`` (reset causes, the RTC
domain, the watchdog, power faults, ``Cycle``), ``boardfs`` (files on its littlefs root), ``boardbus`` (the bus
ops that reach all of these). What stays here is the process: booting it, ending it, and the cycles it makes.
"""

import hashlib
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .. import boards
from ..errors import DeviceError
from ..paths import micropython_cmd
from . import boardbus, forkserver, runtime
from .boardfs import BoardFs
from .clock import VirtualClock
from .energy import Energy
from .flash import FlashImage
from .hwbus import HwBus
from .partitions import NvsStore, Ota, layout_for
from .pins import EXT0_WAKE, EXT1_WAKE, TIMER_WAKE, Pins
from .resets import DEEPSLEEP_RESET, HARD_RESET, POWER_LOSS, PWRON_RESET, SOFT_RESET, WDT_RESET, Cycle, Resets
from .timebase import CLOCK_POLL_US, Timebase
from .wifi import WifiModel
from .wiring import wire

__all__ = ["VirtualBoard", "Cycle", "PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET", "SOFT_RESET",
           "EXT0_WAKE", "EXT1_WAKE", "TIMER_WAKE", "POWER_LOSS", "CLOCK_POLL_US"]  # the board's vocabulary

# Virtual time from reset to boot.py. FACTS.md: an optimised MicroPython wake-and-sleep cycle measured about
# 70 ms on an ESP32; a board file may give its own "boot_ms".
DEFAULT_BOOT_MS = 70
DEFAULT_FREQ = 160_000_000  # the ESP32 port's default CPU clock (CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160)
STOPS = ("exit", "hang", "fs_corrupted", "bootloader")  # cycle ends after which the board does not go on by itself


class VirtualBoard:
    """One simulated board. See the module docstring; every argument but ``board`` is optional.

    ``board`` a parsed ``boards.Board`` (a fleet parses its board file once for all its devices), or a board name
    or path, parsed here. ``flash_dir`` keeps the flash image (``flash.bin``) between runs (default: a fresh
    temporary directory). ``clock`` a shared VirtualClock (default: the board's own). ``sensors``: the HwBus i2c
    mapping {bus: {addr: I2CDevice}} (default: the board file's sensors, ``sim/wiring.py``). ``modem``: a
    UARTDevice (default: the board file's modem). ``scenario``: {"env": ..., "modem": {...}, "wifi": {...},
    "adc": {pin: raw}, "brownout_on_tx": bool}; ``env`` an ``Environment`` built already (instead of "env").
    ``mac``: 6 bytes (default: derived from the flash directory). ``partitions``: "factory" or "ota".
    ``run_main``: interactive boots run main.py (False: boot.py only, the board waits at its REPL, as a test
    harness holds it; see ``sim/console.py``).
    """

    def __init__(self, board, flash_dir=None, clock=None, sensors=None, modem=None, scenario=None,
                 mac: bytes | None = None, partitions: str = "factory", env=None, run_main: bool = True):
        self.board = board if isinstance(board, boards.Board) else boards.load(board)
        self.scenario = dict(scenario or {})
        self.run_main = run_main
        self._tmp = None if flash_dir is not None else tempfile.mkdtemp(prefix=f"fieldnode-{self.board.name}-")
        self.flash_dir = Path(flash_dir if flash_dir is not None else self._tmp)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.flash = FlashImage(self.flash_dir / "flash.bin", self.board.flash_bytes)
        self.clock = clock or VirtualClock()
        self.mac = mac or self._derive_mac()
        self._layout = partitions
        self._read_partitions()
        self.events: list[dict] = []
        self.on_event = None  # callable(event dict), e.g. a CLI printing them
        self.energy = Energy(self.board, self.clock.now_ms())
        self.wifi = WifiModel(self.mac, self.scenario.get("wifi"), on_state=self._wifi_state,
                              now_ms=self.clock.now_ms())
        self.freq = DEFAULT_FREQ
        self.mode = "off"
        self.proc = None
        self.cycles = 0
        self._lock = threading.RLock()  # the process and why it ends
        self._asleep = None  # the last headless cycle, when it ended in a deep sleep not yet slept through
        self._was_realtime = None
        self.console = None
        w = wire(self.board, self.clock, self.scenario, sensors, modem, env, on_modem_power=self._modem_power)
        self.modem = w.modem
        self.pins = Pins(self.clock)
        keyed = bool(self.board["modem"]) and self.board["modem"].get("pwrkey") is not None
        self.resets = Resets(self.clock, self.energy, self.wifi, self.modem, keyed, self.log, self.events)
        self.flash.write_hook = self.resets.write_hook
        self.time = Timebase(self.clock, self.pins, w.uart, self.modem)
        self.bus = HwBus(self.clock, i2c=w.i2c, uart=w.uart, adc=w.adc, pins=self.pins.levels, on_pin=w.on_pin,
                         on_event=self._fw_event, on_request=self.tick, pending=self.pins.pending)
        boardbus.install(self, self.bus)
        self.fs = BoardFs(self.environ, lambda: self.proc is not None)
        self.boot_ms = int(self.board.get("boot_ms", DEFAULT_BOOT_MS))

    # -- construction -------------------------------------------------------------------------------------------
    def _derive_mac(self) -> bytes:
        # Espressif's OUI 24:0A:C4, then three bytes that stay the same for the same flash directory.
        h = hashlib.sha256(str(self.flash_dir.resolve()).encode()).digest()
        return bytes([0x24, 0x0A, 0xC4]) + h[:3]

    def _read_partitions(self):  # esptool may have written a new table: read it as the bootloader does at reset
        self.partitions = layout_for(self.flash, self.board, self._layout)
        self.ota = Ota(self.flash, self.partitions, rollback=self._layout == "ota")
        self.nvs = NvsStore(self.flash, next((p for p in self.partitions if p.label == "nvs"), None))

    # -- events and energy --------------------------------------------------------------------------------------
    def log(self, kind: str, **fields) -> dict:
        ev = {"t": self.clock.now_ms(), "kind": kind, **fields}
        self.events.append(ev)
        if self.on_event:
            self.on_event(ev)
        return ev

    def _fw_event(self, text, now):
        self.log("firmware", text=text)
        if self.console is not None:
            self.console.firmware_event(text)

    def _modem_power(self, state: str):
        now = self.clock.now_ms()
        # idle with DRX/eDRX and the TAU burst: the module's figures for what the network granted; else the board's
        figure = getattr(getattr(self, "modem", None), "power_figure", None)
        ma, source = figure(state) if figure else (None, None)
        self.energy.record(now, "modem", state, ma=ma, source=source)
        self.log("modem", state=state)
        if state == "tx" and self.scenario.get("brownout_on_tx"):
            self.request_end("brownout", answer=False)

    def _wifi_state(self, state, now):
        self.energy.record(now, "wifi", state)

    # -- what the ops ask of the board --------------------------------------------------------------------------
    def boot_info(self) -> dict:
        return {"mode": self.mode, "reset_cause": self.resets.reset_cause, "wake_reason": self.resets.wake_reason,
                "uid": self.mac.hex(), "board": self.board.name, "chip": self.board.chip, "freq": self.freq}

    def tick(self):
        """Before every bus request: a watchdog that ran out, a power cut due at this virtual time."""
        if reason := self.resets.due():
            self.request_end(reason, answer=False)

    def advance(self, ms: int) -> int:
        """Skip ``ms`` of virtual time, stopping wherever the modem changes by itself (PSM entry, a reply due) so
        its power states land on the energy timeline at the right instant, not at the next wake."""
        return self.time.advance(ms)

    def wait_until_us(self, end_us: int, cap_us: int = 0, stop_on_edge: bool = True) -> int:
        """time.sleep on the board (``Timebase.wait_until_us``), then whatever came due meanwhile."""
        t = self.time.wait_until_us(end_us, cap_us, stop_on_edge)
        self.tick()
        return t

    def sleep(self, ms: int):
        """time.sleep_ms on the board: wall time in real-time mode, otherwise the virtual clock jumps."""
        self.wait_until_us(self.time.mono_us() + ms * 1000, stop_on_edge=False)

    def lightsleep(self, ms: int) -> dict:
        now = self.clock.now_ms()
        self.energy.record(now, "mcu", "light_sleep")
        wake, at = self.pins.next_wake(now, ms)
        if at is None:
            raise OSError(22, "lightsleep() without a time or a wake source would never return")
        self.clock.advance(at - now)
        self.energy.record(self.clock.now_ms(), "mcu", "active")
        self.log("lightsleep", ms=at - now, wake=wake)
        self.tick()
        edges = self.pins.due_by(at)
        self.pins.apply(at)  # edges an IRQ waits for reach the program after it wakes (PIN_EDGES)
        return {"wake": wake, "t": at, "edges": edges, "slept_ms": at - now}

    def set_freq(self, hz: int):  # machine.freq(hz): for the log; the simulator counts no CPU time
        self.freq = hz
        self.log("freq", hz=hz)

    def request_end(self, reason: str, answer: bool = False, **details):
        """End the running MicroPython process now, for ``reason``; the next boot follows from it."""
        with self._lock:
            self.resets.note_end(reason, details)
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        return b""

    # -- what a test does to the board ----------------------------------------------------------------------------
    def set_pin(self, pin: int, level: int, at_ms: int | None = None):
        """Drive an input pin (a button, an alarm line, a sensor's interrupt output) now or at a virtual time. It can
        wake the board, and it reaches the program's Pin.irq handler while the program runs or sleeps. Safe to call
        from another thread while the board runs."""
        self.pins.set(pin, level, at_ms)

    def power_cut(self):
        """Cut the power now, wherever the firmware is. Interactive boards power up again at once."""
        self.request_end("powercut")

    def cut_power_after_writes(self, n: int | None):
        """Cut the power just before the ``n``-th flash page program or sector erase from now (1 = the next; None:
        no cut planned)."""
        self.resets.cut_after_writes(n)

    def cut_power_at(self, t_ms: int, reason: str = "powercut"):
        """Cut the power when the virtual clock reaches ``t_ms`` (checked at every bus request). ``reason``
        "brownout" resets only the MCU (its supply sagged; the modem on its own rail keeps running)."""
        self.resets.cut_at(t_ms, reason)

    # -- booting --------------------------------------------------------------------------------------------------
    def begin_boot(self, mode: str, soft: bool = False):
        """Reset the board's state for a boot in ``mode`` (headless, friendly, raw)."""
        with self._lock:
            self.resets.begin(soft)
            self.mode = mode
        self.pins.new_process()  # a new process: no IRQ registered, no edge waiting, no clock read yet
        self.time.new_process()
        if not soft:
            self.pins.clear_wake()
            self.freq = DEFAULT_FREQ
            self.wifi.reset(self.clock.now_ms())
            self._read_partitions()
            self.ota.on_hard_boot()
            self.resets.rtc_power_on()
            self.energy.record(self.clock.now_ms(), "mcu", "active")
            if not self.clock.realtime:
                self.clock.advance(self.boot_ms)
        self.log("boot", mode=mode, reset_cause=self.resets.reset_cause, wake_reason=self.resets.wake_reason,
                 soft=soft)

    def conclude(self, rc: int | None) -> tuple:
        """After the process ended: record why and set the reset cause of the next boot. Returns (reason, details)."""
        with self._lock:
            self.proc = None
            end = self.resets.conclude(rc)
        self.mode = "off"
        return end

    @property
    def heap_bytes(self) -> int:
        """The unix port's heap for this board (``runtime.host_heap``: twice the chip's on a 64-bit host)."""
        return runtime.host_heap(self.board.heap_bytes)

    def command(self, interactive: bool) -> list[str]:
        cmd = [micropython_cmd(), "-X", f"heapsize={self.heap_bytes}"]
        return cmd + (["-i"] if interactive else []) + [str(runtime.shim_dir() / "_boot.py")]

    def environ(self) -> dict:
        env = runtime.env_for(self.bus)
        env["MICROPYPATH"] = str(runtime.shim_dir())
        env["FIELDNODE_FLASH"] = str(self.flash.path)  # direct reads (sim/mpy/esp32.py); writes use the bus
        return env

    def launch(self, start, interactive: bool):
        """Start the board's process with ``start(command, environ)``, held where ``request_end`` finds it."""
        with self._lock:
            self.proc = start(self.command(interactive), self.environ())
            return self.proc

    # -- headless ---------------------------------------------------------------------------------------------
    def run_cycle(self, timeout_s: float = 60.0) -> Cycle:
        """Boot once and run boot.py and main.py until the board sleeps, resets, crashes or hangs.

        A firmware that neither sleeps nor returns within ``timeout_s`` of wall time is a hang: with a
        watchdog running that is a WDT reset, without one the cycle ends as "hang".
        """
        if self.console is not None:
            raise DeviceError("this board is running interactively", "stop() it before running headless cycles")
        if self._asleep is not None:
            self.sleep_until_wake(self._asleep)  # the last cycle went to deep sleep: it ends first
        n0 = len(self.events)
        start, cause, wake = self.clock.now_ms(), self.resets.reset_cause, self.resets.wake_reason
        self.begin_boot("headless")
        # a warm interpreter forks the process (sim/forkserver.py): the same command, without CPython's start-up
        proc = self.launch(lambda cmd, env: forkserver.spawn(cmd, env, self.flash_dir), interactive=False)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            deadline = self.resets.wdt_deadline()
            if deadline is not None:
                self.clock.advance(max(0, deadline - self.clock.now_ms()))
            self.request_end("wdt" if deadline is not None else "hang")
            out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        if text:
            self.log("output", text=text)
        reason, details = self.conclude(proc.returncode)
        self.cycles += 1
        c = Cycle(self.cycles, cause, wake, start, self.clock.now_ms(), reason, details.get("ms"), text,
                  proc.returncode, self.events[n0:])
        self._asleep = c if reason == "deepsleep" else None
        return c

    def sleep_until_wake(self, cycle: Cycle) -> bool:
        """Let the virtual clock run through a deep sleep; False when nothing will ever wake the board."""
        self._asleep = None
        if cycle.end != "deepsleep":
            return True
        now = self.clock.now_ms()
        reason, at = self.pins.next_wake(now, cycle.sleep_ms or 0)
        if at is None:
            return False
        self.advance(at - now)
        self.pins.apply(at)
        self.resets.wake_reason = reason
        return True

    def run(self, cycles: int | None = None, until_ms: int | None = None, timeout_s: float = 60.0) -> list[Cycle]:
        """Wake cycles one after another until ``cycles`` ran, the clock passed ``until_ms``, or the board stops
        (it stays awake in the REPL, hangs without a watchdog, or sleeps with no way to wake)."""
        if cycles is None and until_ms is None:
            raise ValueError("give cycles or until_ms")
        out = []
        while (cycles is None or len(out) < cycles) and (until_ms is None or self.clock.now_ms() < until_ms):
            c = self.run_cycle(timeout_s)
            out.append(c)
            if c.end in STOPS:
                break
            if c.end == "deepsleep" and self.pins.next_wake(self.clock.now_ms(), c.sleep_ms or 0)[1] is None:
                break  # asleep with nothing to wake it
        return out

    # -- files on the board's littlefs root, without a serial client (sim/boardfs.py) ---------------------------
    def put_files(self, files: dict | str | Path, dest: str = "/") -> None:
        """Copy files onto the board's filesystem: a dict {path: str | bytes} or a host directory (recursively),
        as ``mpremote cp -r`` would, formatting a blank filesystem first as the board's first boot does."""
        self.fs.put(files, dest)

    def read_file(self, path: str) -> bytes:
        """A file's bytes from the board's filesystem (DeviceError if it is not there)."""
        return self.fs.read(path)

    def list_files(self, path: str = "/") -> list[str]:
        return self.fs.list(path)  # every file and directory under path, one a line, directories ending in "/"

    # -- interactive ----------------------------------------------------------------------------------------------
    def start(self, download: bool = False, rfc2217: bool = True, realtime: bool = True) -> "VirtualBoard":
        """Put the board behind a pseudo-terminal and an RFC 2217 port and power it on (``download``: strapped
        into the ROM bootloader). ``realtime`` makes the board's own clock follow the wall clock."""
        from .console import Console

        if self.console is not None:
            return self
        self._was_realtime = self.clock.realtime
        if realtime and not self.clock.realtime:
            self.clock.set_realtime(True)
        self.time.stopped.clear()
        self.console = Console(self, rfc2217=rfc2217)
        self.console.power_on(download=download)
        return self

    @property
    def port(self) -> str | None:
        return self.console.pty.path if self.console else None

    @property
    def url(self) -> str | None:
        return self.console.rfc.url if self.console and self.console.rfc else None

    def stop(self) -> None:
        self.time.stopped.set()
        self.pins.changed.set()  # ends a real-time wait at once
        console, self.console = self.console, None
        self.request_end("stopped")
        if console is not None:
            console.close()
        self.proc = None
        if self._was_realtime is not None and not self._was_realtime:
            self.clock.set_realtime(False)  # back to virtual time for headless cycles, keeping the time that passed

    def close(self) -> None:
        self.stop()
        self.bus.close()
        self.flash.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
