"""A virtual ESP32/M5Stack board: the MicroPython unix port as the board's CPU, with the ESP32 API in front of it
(``sim/mpy``), its littlefs root on a flash image, sensors and a modem on the hardware bus, and a virtual clock.

Two ways to run one:

* **Headless**, for fleets and tests: ``run_cycle()`` boots the board (boot.py, main.py on the littlefs root) and
  returns when the firmware deep-sleeps, resets, crashes, hangs or loses power, with what it printed; ``run()``
  repeats that, sleeping through the deep sleeps on the virtual clock. No serial port, no REPL.
* **Interactive**: ``start()`` puts the board behind a pseudo-terminal (``.port``) and an RFC 2217 server
  (``.url``); mpremote, ampy and esptool use it as they would a board on USB (see ``sim/console.py``).

    board = VirtualBoard("m5stack-core2")
    board.put_files({"main.py": "import machine\\nprint('hi')\\nmachine.deepsleep(60000)\\n"})
    cycles = board.run(cycles=3)       # three wake cycles, 60 s of deep sleep between them
    board.energy.report(board.clock.now_ms())

Resets follow the ESP32 port (``machine.reset_cause()``): power-on (also a power cut, a brown-out, the EN pin),
HARD_RESET (``machine.reset()``, a panic), WDT_RESET, DEEPSLEEP_RESET; a soft reboot keeps the previous cause.
RTC memory survives everything but a loss of power (power cut, brown-out, EN pin).

The RTC's time (what ``time.time()`` reads) goes with it: the ESP32 keeps time only while its RTC domain is powered
(deep sleep, resets), so after a power loss it counts again from the port's epoch, 1970-01-01 since MicroPython
v1.22 (docs.micropython.org, esp32 quickref "Real time clock (RTC)"; time module: the epoch is port-specific, the
RTC is maintained by the application, e.g. set from the network), starting at power-on: ``time.time()`` is the
seconds since then until ``machine.RTC().datetime(...)`` sets it. The simulator's own clock (``self.clock``, the
energy model, fleets) never jumps: only the offset the firmware sees (``rtc_offset_ms``) changes.
"""

import hashlib
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .. import boards
from ..errors import ConfigError, DeviceError
from ..paths import micropython_cmd
from . import boardbus, forkserver, runtime
from .clock import VirtualClock
from .energy import Energy
from .flash import FlashImage, PowerCut
from .hwbus import HwBus
from .partitions import NvsStore, Ota, layout_for
from .wifi import WifiModel

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
EXT0_WAKE, EXT1_WAKE, TIMER_WAKE = 2, 3, 4
CHIP_NAMES = {"esp32": "ESP32", "esp32s3": "ESP32S3", "esp32c3": "ESP32C3"}
# Virtual time from reset to boot.py. FACTS.md: an optimised MicroPython wake-and-sleep cycle measured about
# 70 ms on an ESP32; a board file may give its own "boot_ms".
DEFAULT_BOOT_MS = 70
DEFAULT_FREQ = 160_000_000  # the ESP32 port's default CPU clock (CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160)
POWER_LOSS = ("powercut", "brownout", "pin_reset")
# The simulator counts no CPU time: code runs in zero virtual time and the clock moves when the firmware sleeps. A
# program that waits by reading the clock (while ticks_diff(ticks_ms(), t0) < n: pass) must still see it move, so a
# clock read that finds the clock where the previous read left it (nothing slept in between) moves it on by about
# what one such poll takes in MicroPython bytecode on a 160 MHz ESP32 (an estimate, not a measurement).
CLOCK_POLL_US = 20


@dataclass
class Cycle:
    """One boot of the board, from reset to whatever ended it."""

    index: int
    reset_cause: int
    wake_reason: int
    start_ms: int
    end_ms: int
    end: str  # deepsleep | reset | wdt | powercut | brownout | crash | repl | hang | fs_corrupted | bootloader
    sleep_ms: int | None = None  # deep sleep requested (0: until a wake pin)
    output: str = ""
    rc: int | None = None
    events: list = field(default_factory=list)


class VirtualBoard:
    """One simulated board. See the module docstring; every argument but ``board_name`` is optional.

    ``flash_dir`` keeps the flash image (``flash.bin``) between runs (default: a fresh temporary directory).
    ``clock`` a shared VirtualClock (default: the board's own). ``sensors``: the HwBus i2c mapping
    {bus: {addr: I2CDevice}} (default: the board file's sensors from ``fieldnode.sim.sensors`` when present).
    ``modem``: a UARTDevice (default: the board file's modem from ``fieldnode.sim.modems`` when present).
    ``scenario``: {"env": ..., "modem": {...}, "wifi": {...}, "adc": {pin: raw}, "brownout_on_tx": bool}.
    ``mac``: 6 bytes (default: derived from the flash directory). ``partitions``: "factory" or "ota".
    """

    def __init__(self, board_name, flash_dir=None, clock=None, sensors=None, modem=None, scenario=None,
                 mac: bytes | None = None, partitions: str = "factory", env=None):
        self.board = boards.load(board_name)
        self.scenario = dict(scenario or {})
        self._tmp = None
        if flash_dir is None:
            self._tmp = tempfile.mkdtemp(prefix=f"fieldnode-{self.board.name}-")
            flash_dir = self._tmp
        self.flash_dir = Path(flash_dir)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.flash = FlashImage(self.flash_dir / "flash.bin", self.board.flash_bytes)
        self.flash.write_hook = self._write_hook
        self.clock = clock or VirtualClock()
        self.mac = mac or self._derive_mac()
        self._layout = partitions
        self.partitions = layout_for(self.flash, self.board, partitions)
        self.ota = Ota(self.flash, self.partitions, rollback=partitions == "ota")
        self.nvs = NvsStore(self.flash, next((p for p in self.partitions if p.label == "nvs"), None))
        self.events: list[dict] = []
        self.on_event = None  # callable(event dict), e.g. a CLI printing them
        self.energy = Energy(self.board, self.clock.now_ms())
        self.wifi = WifiModel(self.mac, self.scenario.get("wifi"), on_state=self._wifi_state,
                              now_ms=self.clock.now_ms())
        self.reset_cause, self.wake_reason = PWRON_RESET, 0
        self.rtc_memory = b""
        self.rtc_offset_ms = 0  # the firmware's wall time = clock + offset (0: a board whose RTC was set)
        self._rtc_lost = False  # power was lost: the next boot's RTC counts from the epoch again
        self.freq = DEFAULT_FREQ
        self.mode = "off"
        self.proc = None
        self.cycles = 0
        self._end = None  # why the running process is being ended: (reason, details)
        self._lock = threading.RLock()
        self._wdt = None  # [timeout_ms, deadline_ms]
        self._wake = {"ext0": None, "ext1": None, "pins": {}}
        self._pin_schedule: list[tuple[int, int, int]] = []  # (t_ms, pin, level)
        self._irq_pins: dict[int, int] = {}  # pin -> edges the program's Pin.irq wants (1 rising, 2 falling)
        self._edges: list[tuple[int, int, int]] = []  # (t_us, pin, level) not yet fetched by the program
        self._edge_evt = threading.Event()
        self._frac_us = 0  # microseconds past the clock's millisecond: ticks_us and the program's timers need them
        self._last_read_us = None  # where the program's last clock read found the clock (CLOCK_POLL_US)
        self._cut_after_writes = None
        self._cut_at_ms = None
        self._asleep = None  # the last headless cycle, when it ended in a deep sleep not yet slept through
        self._stop = threading.Event()
        self.console = None
        i2c, uart, adc = self._peripherals(sensors, modem, env)
        self.modem = uart.get(self._modem_uart_id()) if self.board["modem"] else None
        self.bus = HwBus(self.clock, i2c=i2c, uart=uart, adc=adc, on_event=self._fw_event, on_pin=self._on_pin)
        self.bus.pending = lambda: bool(self._edges)
        boardbus.install(self, self.bus)
        self.boot_ms = int(self.board.get("boot_ms", DEFAULT_BOOT_MS))

    # -- construction -------------------------------------------------------------------------------------------
    def _derive_mac(self) -> bytes:
        # Espressif's OUI 24:0A:C4, then three bytes that stay the same for the same flash directory.
        h = hashlib.sha256(str(self.flash_dir.resolve()).encode()).digest()
        return bytes([0x24, 0x0A, 0xC4]) + h[:3]

    def _modem_uart_id(self):
        m = self.board["modem"]
        return self.board["buses"][m["bus"]]["id"] if m else None

    def _peripherals(self, sensors, modem, env):
        i2c, adc = sensors, {}
        if env is None and (sensors is None or not self.scenario.get("adc")):
            try:
                from .physics import Environment

                env = Environment.from_dict(self.scenario["env"]) if "env" in self.scenario else Environment()
            except Exception:  # the physics models are someone else's work in progress: run without them
                env = None
        if i2c is None:
            i2c = {}
            try:
                from .sensors import build_adc, build_bus_devices

                if env is not None:
                    i2c = build_bus_devices(self.board, self.clock, env)
                    adc = build_adc(self.board, env)
            except ImportError:
                pass
        for pin, raw in (self.scenario.get("adc") or {}).items():
            adc[int(pin)] = (lambda r: (lambda now: r))(raw)
        uart = {}
        if self.board["modem"]:
            if modem is None:
                try:
                    from .modems import MODEMS

                    mscen = dict(self.scenario.get("modem") or {})
                    if self.board["modem"].get("pwrkey") is not None:
                        # a modem on a PWRKEY line stays off until the firmware presses the key
                        mscen.setdefault("power", "off")
                    modem = MODEMS[self.board["modem"]["type"]](self.clock, mscen)
                except (ImportError, KeyError, AttributeError):
                    modem = None
            if modem is not None:
                modem.on_power = self._modem_power
                uart[self._modem_uart_id()] = modem
        return i2c, uart, adc

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
        return {"mode": self.mode, "reset_cause": self.reset_cause, "wake_reason": self.wake_reason,
                "uid": self.mac.hex(), "board": self.board.name, "chip": self.board.chip, "freq": self.freq}

    def tick(self):
        """Before every bus request: a watchdog that ran out, a power cut due at this virtual time."""
        now = self.clock.now_ms()
        if self._cut_at_ms is not None and now >= self._cut_at_ms:
            self._cut_at_ms = None
            self.request_end(getattr(self, "_cut_reason", "powercut"), answer=False)
        if self._wdt and now >= self._wdt[1]:
            self.request_end("wdt", answer=False)

    def _on_pin(self, pin, value, now):
        """GPIO writes from the firmware: the modem's PWRKEY line (1 = key pressed) and DTR line (1 = high, the
        module may sleep) reach the modem model."""
        m = self.board["modem"]
        if m and m.get("pwrkey") == pin and self.modem is not None and hasattr(self.modem, "pwrkey"):
            self.modem.pwrkey(value, now)
        if m and m.get("dtr") == pin and self.modem is not None and hasattr(self.modem, "dtr"):
            self.modem.dtr(value, now)

    def advance(self, ms: int) -> int:
        """Skip ``ms`` of virtual time, stopping wherever the modem changes by itself (PSM entry, a reply due) so
        its power states land on the energy timeline at the right instant, not at the next wake."""
        end = self.clock.now_ms() + ms
        m = self.modem if hasattr(self.modem, "next_change_ms") else None
        while m is not None:
            t = m.next_change_ms()
            now = self.clock.now_ms()
            if t is None or t > end or t <= now:
                break
            self.clock.advance(t - now)
            m.poll(t)
        now = self.clock.now_ms()
        if end > now:
            self.clock.advance(end - now)
        return self.clock.now_ms()

    def sleep(self, ms: int):
        """time.sleep_ms on the board: wall time in real-time mode, otherwise the virtual clock jumps."""
        self.wait_until_us(self.mono_us() + ms * 1000, stop_on_edge=False)

    # -- the clock in microseconds, as the program's time.ticks_us and machine.Timer see it ------------------------
    def mono_us(self) -> int:
        return self.clock.now_ms() * 1000 + self._frac_us

    def _advance_us(self, us: int):
        """Move the virtual clock ``us`` on (sub-millisecond parts kept here), applying scheduled pin levels."""
        ms, self._frac_us = divmod(self._frac_us + us, 1000)
        if ms:
            self.advance(ms)
        now = self.clock.now_ms()
        self._apply_pins(now)
        for dev in self.bus.uart.values():
            dev.poll(now)

    def read_clock_us(self) -> int:
        """The clock for a time.ticks_*/time.time read: a read at the instant of the previous one costs
        CLOCK_POLL_US, so that a loop polling the clock moves it (and the timers it waits for come due)."""
        now = self.mono_us()
        if now == self._last_read_us and not self.clock.realtime:
            self._advance_us(CLOCK_POLL_US)
            now = self.mono_us()
        self._last_read_us = now
        return now

    def wait_until_us(self, end_us: int, cap_us: int = 0, stop_on_edge: bool = True) -> int:
        """time.sleep on the board: run the clock to ``end_us``, stopping early at ``cap_us`` (the program's next
        machine.Timer deadline, 0 for none) or, with ``stop_on_edge``, at an input edge its Pin.irq waits for, so
        that the callback runs at its own time. Scheduled pin changes on the way are applied at theirs. Wall time in
        real-time mode (a set_pin from another thread ends the wait). Returns the time reached (us)."""
        stop = min(end_us, cap_us) if cap_us else end_us
        while not (stop_on_edge and self._edges):
            now = self.mono_us()
            if now >= stop:
                break
            with self._lock:
                nxt = self._pin_schedule[0][0] * 1000 if self._pin_schedule else None
            to = min(stop, nxt) if nxt is not None and nxt > now else stop
            if self.clock.realtime:
                self._edge_evt.clear()
                if (stop_on_edge and self._edges) or self._stop.is_set():
                    break
                self._edge_evt.wait((to - now) / 1e6 / max(self.clock.speed, 1e-6))
                self._apply_pins(self.clock.now_ms())
            else:
                self._advance_us(to - now)
        self.tick()
        return self.mono_us()

    def lightsleep(self, ms: int) -> dict:
        now = self.clock.now_ms()
        self.energy.record(now, "mcu", "light_sleep")
        wake, at = self._next_wake(now, ms)
        if at is None:
            raise OSError(22, "lightsleep() without a time or a wake source would never return")
        self.clock.advance(at - now)
        self.energy.record(self.clock.now_ms(), "mcu", "active")
        self.log("lightsleep", ms=at - now, wake=wake)
        self.tick()
        edges = [p for (t, p, _) in self._pin_schedule if t <= at]
        self._apply_pins(at)  # edges an IRQ waits for reach the program after it wakes (PIN_EDGES)
        return {"wake": wake, "t": at, "edges": edges, "slept_ms": at - now}

    def set_freq(self, hz: int):
        self.freq = hz
        self.log("freq", hz=hz)

    def wdt_start(self, ms: int):
        now = self.clock.now_ms()
        self._wdt = [ms, now + ms]
        self.log("wdt", timeout_ms=ms)

    def wdt_feed(self):
        if self._wdt:
            self._wdt[1] = self.clock.now_ms() + self._wdt[0]

    def wake_conf(self, conf: dict):
        self._wake.update(conf)

    def request_end(self, reason: str, answer: bool = False, **details):
        """End the running MicroPython process now, for ``reason``; the next boot follows from it."""
        with self._lock:
            if self._end is None:
                self._end = (reason, details)
                self.log("end", reason=reason, **details)
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        return b""

    # -- pins and wake sources ----------------------------------------------------------------------------------
    def set_pin(self, pin: int, level: int, at_ms: int | None = None):
        """Drive an input pin (a button, an alarm line, a sensor's interrupt output) now or at a virtual time. It can
        wake the board, and it reaches the program's Pin.irq handler while the program runs or sleeps. Safe to call
        from another thread while the board runs."""
        t = self.clock.now_ms() if at_ms is None else at_ms
        with self._lock:
            self._pin_schedule.append((t, pin, 1 if level else 0))
            self._pin_schedule.sort()
        self._apply_pins(self.clock.now_ms())
        self._edge_evt.set()  # a real-time wait looks at the schedule again

    def _apply_pins(self, now):
        with self._lock:
            while self._pin_schedule and self._pin_schedule[0][0] <= now:
                t, pin, level = self._pin_schedule.pop(0)
                self.drive_pin(pin, level, t * 1000)

    def drive_pin(self, pin: int, level: int, t_us: int):
        """The pin's level changes at ``t_us``: an edge its IRQ waits for is queued for the program."""
        with self._lock:
            old = self.bus.pins.get(pin, 0)
            self.bus.pins[pin] = level
            if old != level and self._irq_pins.get(pin, 0) & (1 if level else 2):
                self._edges.append((t_us, pin, level))
                self._edge_evt.set()

    def pin_irq(self, pin: int, trigger: int):
        """The program's Pin.irq: which edges of ``pin`` to report (IRQ_RISING 1 | IRQ_FALLING 2; 0 for none)."""
        with self._lock:
            if trigger & 3:
                self._irq_pins[pin] = trigger & 3
            else:
                self._irq_pins.pop(pin, None)

    def take_edges(self) -> list:
        with self._lock:
            edges, self._edges = self._edges, []
        return edges

    def _next_wake(self, now: int, ms: int):
        """(wake reason, virtual time) of the first wake source after ``now``; ``ms`` 0 means no timer."""
        best = (TIMER_WAKE, now + ms) if ms > 0 else (None, None)
        ext0, ext1, pins = self._wake.get("ext0"), self._wake.get("ext1"), self._wake.get("pins") or {}
        for t, pin, level in self._pin_schedule:
            hit = None
            if ext0 and ext0[0] == pin and ext0[1] == level:
                hit = EXT0_WAKE
            elif ext1 and pin in ext1[0] and ext1[1] == level:
                hit = EXT1_WAKE
            elif str(pin) in pins and pins[str(pin)][0] == level:
                hit = EXT0_WAKE
            if hit and (best[1] is None or max(t, now) < best[1]):
                best = (hit, max(t, now))
        return best

    # -- faults ---------------------------------------------------------------------------------------------------
    def power_cut(self):
        """Cut the power now, wherever the firmware is. Interactive boards power up again at once."""
        self.request_end("powercut")

    def cut_power_after_writes(self, n: int):
        """Cut the power just before the ``n``-th flash page program or sector erase from now (1 = the next)."""
        self._cut_after_writes = n

    def cut_power_at(self, t_ms: int, reason: str = "powercut"):
        """Cut the power when the virtual clock reaches ``t_ms`` (checked at every bus request). ``reason``
        "brownout" resets only the MCU (its supply sagged; the modem on its own rail keeps running)."""
        if reason not in POWER_LOSS:
            raise ValueError(f"reason must be one of {POWER_LOSS}")
        self._cut_at_ms = t_ms
        self._cut_reason = reason

    def _write_hook(self, off, n):
        if self._cut_after_writes is not None:
            self._cut_after_writes -= 1
            if self._cut_after_writes <= 0:
                self._cut_after_writes = None
                raise PowerCut(f"power cut at flash {off:#x}")

    # -- booting --------------------------------------------------------------------------------------------------
    def begin_boot(self, mode: str, soft: bool = False):
        """Reset the board's state for a boot in ``mode`` (headless, friendly, raw)."""
        if getattr(self, "_modem_unpowered", False):
            # power is back: a modem without a PWRKEY line starts by itself; one with it waits for the key
            self._modem_unpowered = False
            if self.board["modem"].get("pwrkey") is None:
                self.modem.power_on(self.clock.now_ms())
        with self._lock:
            self._end = None
            self.mode = mode
            # a new process: nothing registered an IRQ yet, and no edge waits for it
            self._irq_pins, self._edges, self._last_read_us = {}, [], None
        if not soft:
            self._wdt = None
            self._wake = {"ext0": None, "ext1": None, "pins": {}}
            self.freq = DEFAULT_FREQ
            self.wifi.reset(self.clock.now_ms())
            # esptool may have written a new partition table: read it again, as the bootloader does at reset
            self.partitions = layout_for(self.flash, self.board, self._layout)
            self.ota = Ota(self.flash, self.partitions, rollback=self._layout == "ota")
            self.nvs = NvsStore(self.flash, next((p for p in self.partitions if p.label == "nvs"), None))
            self.ota.on_hard_boot()
            now = self.clock.now_ms()
            if self._rtc_lost:
                # power-on: the RTC counts from 0 (1970-01-01T00:00:00) at this instant
                self._rtc_lost = False
                self.rtc_offset_ms = -now
                self.log("rtc_reset", epoch_ms=0)
            self.energy.record(now, "mcu", "active")
            if not self.clock.realtime:
                self.clock.advance(self.boot_ms)
        self.log("boot", mode=mode, reset_cause=self.reset_cause, wake_reason=self.wake_reason, soft=soft)

    def conclude(self, rc: int | None) -> tuple:
        """After the process ended: record why and set the reset cause of the next boot. Returns (reason, details)."""
        with self._lock:
            end = self._end
            self.proc = None
        if end is None:
            if rc is not None and rc < 0:
                end = ("crash", {"signal": -rc})
            elif any(e["kind"] == "firmware" and e["text"] == "fs:corrupted" for e in self.events[-5:]):
                end = ("fs_corrupted", {})
            else:
                end = ("exit", {"rc": rc})
            self.log("end", reason=end[0], **end[1])
        reason, details = end
        now = self.clock.now_ms()
        self.wake_reason = 0
        if reason == "deepsleep":
            self.reset_cause = DEEPSLEEP_RESET
            self.energy.record(now, "mcu", "deep_sleep")
            self.wifi.reset(now)
            self.energy.record(now, "wifi", "off")
        elif reason in ("reset", "crash", "bootloader"):
            self.reset_cause = HARD_RESET
        elif reason == "wdt":
            self.reset_cause = WDT_RESET
        elif reason in POWER_LOSS:
            self.reset_cause = PWRON_RESET
            self.rtc_memory = b""
            self._rtc_lost = True  # the RTC's time is gone too; it restarts at the next power-on (begin_boot)
            self.energy.record(now, "mcu", "off")
            if reason == "powercut" and self.modem is not None and hasattr(self.modem, "power_off"):
                # the whole board loses its supply, the modem with it (a brown-out or the EN pin reset only the MCU)
                self.modem.power_off(now, urc=False)
                self._modem_unpowered = True
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
        start, cause, wake = self.clock.now_ms(), self.reset_cause, self.wake_reason
        self.begin_boot("headless")
        with self._lock:
            # a warm interpreter forks the process (sim/forkserver.py): the same command, without CPython's start-up
            self.proc = forkserver.spawn(self.command(False), self.environ(), self.flash_dir)
            proc = self.proc
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            if self._wdt:
                self.clock.advance(max(0, self._wdt[1] - self.clock.now_ms()))
            self.request_end("wdt" if self._wdt else "hang")
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
        reason, at = self._next_wake(now, cycle.sleep_ms or 0)
        if at is None:
            return False
        self.advance(at - now)
        self._apply_pins(at)
        self.wake_reason = reason
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
            if c.end in ("exit", "hang", "fs_corrupted", "bootloader"):
                break
            if c.end == "deepsleep" and self._next_wake(self.clock.now_ms(), c.sleep_ms or 0)[1] is None:
                break  # asleep with nothing to wake it
        return out

    # -- files on the board's littlefs root, without a serial client --------------------------------------------
    def put_files(self, files: dict | str | Path, dest: str = "/") -> None:
        """Copy files onto the board's filesystem: a dict {path: str | bytes} or a host directory (recursively),
        as ``mpremote cp -r`` would, formatting a blank filesystem first as the board's first boot does."""
        src = self._stage(files)
        try:
            self._fs_script(f"_copy({str(src)!r}, {dest!r})", write=True)
        finally:
            if isinstance(files, dict):
                shutil.rmtree(src, ignore_errors=True)

    def read_file(self, path: str) -> bytes:
        """A file's bytes from the board's filesystem (DeviceError if it is not there)."""
        out = self._fs_script(f"_cat({path!r})")
        if not out.startswith("HEX:"):
            raise DeviceError(f"{path}: not on the board's filesystem", "list it with: mpremote fs ls")
        return bytes.fromhex(out[4:].strip())

    def list_files(self, path: str = "/") -> list[str]:
        out = self._fs_script(f"_ls({path!r})")
        return [line for line in out.splitlines() if line]

    def _stage(self, files) -> Path:
        if isinstance(files, dict):
            d = Path(tempfile.mkdtemp(prefix="fieldnode-put-"))
            for name, content in files.items():
                p = d / name.lstrip("/")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(content.encode() if isinstance(content, str) else bytes(content))
            return d
        p = Path(files)
        if not p.is_dir():
            raise ConfigError(f"{p}: not a directory", "give a directory of files to put on the board")
        return p

    def _fs_script(self, call: str, write: bool = False) -> str:
        # Reading while the board runs is safe (a littlefs mount does not write); writing beside it is not.
        if write and self.proc is not None:
            raise DeviceError("the board is running", "use the serial port (mpremote) while it runs")
        code = _FS_HELPERS + call + "\n"
        r = subprocess.run([micropython_cmd(), "-X", "heapsize=262144", "-c", code], capture_output=True,
                           env=self.environ(), timeout=60)
        if r.returncode != 0:
            raise DeviceError(f"filesystem operation failed: {r.stderr.decode(errors='replace').strip()[-300:]}",
                              "check the path; a power cut may have left the volume unmountable")
        return r.stdout.decode("utf-8", "replace")

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
        self._stop.clear()
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
        self._stop.set()
        self._edge_evt.set()  # ends a real-time wait at once
        console, self.console = self.console, None
        self.request_end("stopped")
        if console is not None:
            console.close()
        self.proc = None
        if not getattr(self, "_was_realtime", self.clock.realtime):
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


# MicroPython helpers for put_files/read_file/list_files: mount the board's littlefs (formatting a blank one, as
# the first boot does) beside the host directory, then copy.
_FS_HELPERS = """
import vfs, os, esp32
_src_root = None
def _mount():
    p = esp32.Partition.find(esp32.Partition.TYPE_DATA, label='vfs')[0]
    try:
        vfs.mount(p, '/flash')
    except OSError:
        b = bytearray(4096)
        p.readblocks(0, b)
        if b != b'\\xff' * 4096:
            raise OSError(5, 'the filesystem appears to be corrupted')
        vfs.VfsLfs2.mkfs(p)
        vfs.mount(p, '/flash')
def _mkdirs(path):
    cur = ''
    for part in path.split('/'):
        if not part:
            continue
        cur += '/' + part
        try:
            os.mkdir(cur)
        except OSError:
            pass
def _copy(src, dest):
    _mount()
    base = '/flash' + ('/' + dest.strip('/') if dest.strip('/') else '')
    _mkdirs(base)
    def walk(s, d):
        for name, kind, *_ in os.ilistdir(s):
            if kind == 0x4000:
                _mkdirs(d + '/' + name)
                walk(s + '/' + name, d + '/' + name)
            else:
                with open(s + '/' + name, 'rb') as fi:
                    data = fi.read()
                tmp = d + '/.' + name + '.tmp'
                with open(tmp, 'wb') as fo:
                    fo.write(data)
                os.rename(tmp, d + '/' + name)
    walk(src, base)
def _cat(path):
    _mount()
    try:
        with open('/flash/' + path.lstrip('/'), 'rb') as f:
            print('HEX:' + f.read().hex())
    except OSError:
        print('MISSING')
def _ls(path):
    _mount()
    def walk(p, rel):
        for name, kind, *_ in os.ilistdir(p):
            print(rel + name + ('/' if kind == 0x4000 else ''))
            if kind == 0x4000:
                walk(p + '/' + name, rel + name + '/')
    walk('/flash/' + path.strip('/'), '/' + (path.strip('/') + '/' if path.strip('/') else ''))
"""
