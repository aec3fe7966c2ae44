"""A virtual board on the bench: driven as a developer drives a real one, for tests of device code.

``Board`` wraps a ``VirtualBoard`` (``sim/board.py``: the MicroPython unix port with the ESP32 API, its sensors and
modem models, a virtual clock) and talks to it through its serial port with the same raw-REPL connection
(``device.py``, mpremote's transport) and file sync (``deploy.sync``) that ``fieldnode deploy`` uses on hardware.
The clock is virtual and moves only when the board sleeps or is told to (``advance``): a test is repeatable and a
deep sleep of an hour takes no wall time. ``local_collector.LocalCollector`` is the real collector on free
127.0.0.1 ports for such boards to report to.

    with Board("m5stack-core2") as b:
        b.put("src")                                   # the files of src/ onto the board's root
        print(b.exec("import app; app.measure()"))     # MicroPythonError with the traceback if it raises
        b.deepsleep(3_600_000)                         # the board sleeps an hour and wakes: DEEPSLEEP_RESET
        b.set_quantity("temperature_c", 35.0)          # what the sensors measure from now on
        b.set_coverage(False)                          # the modem loses the network
        cycles = b.run_cycles(3)                       # boot.py + main.py three times, sleeping between

The ``fieldnode.testing`` pytest plugin makes these from fixtures.
"""

import ast
import contextlib
import io
import time
from pathlib import Path

from ..errors import ConfigError, DeviceError, FieldnodeError, MicroPythonError

BOOT_TIMEOUT_S = 20.0
NO_END = 1 << 62  # an outage window that never closes by itself (ms)


class BoardRestarted(DeviceError):
    """The board reset, slept or lost power while code ran (``reason``: deepsleep, reset, wdt, crash, ...)."""

    def __init__(self, name: str, reason: str):
        self.reason = reason
        super().__init__(f"the virtual {name} ended the code with a {reason}",
                         "use board.deepsleep(ms) or board.reset() for that, or board.run_cycles() to run main.py")


class _Ended(Exception):
    def __init__(self, index: int, event: dict):
        self.index, self.event = index, event


def _devpath(dest: str, name: str) -> str:
    return "/" + "/".join(p for p in (dest.strip("/"), name.strip("/")) if p)


class Board:
    """One virtual board for a test. ``name``: a built-in board or the path of a board JSON file. ``env``: the
    physics around it (``fieldnode.sim.physics`` keys), ``modem``: its modem scenario (``fieldnode.sim.modems``
    keys), ``wifi``: the Wi-Fi scenario, ``partitions``: "factory" or "ota", ``rfc2217``: also serve an
    rfc2217:// URL (``.url``) for esptool. It powers on when first used; ``close()`` stops everything.

    At the REPL, boots run boot.py but not main.py (``run_main=True`` to change that), as if the test's Ctrl-C
    interrupted main.py at once: a main.py that deep-sleeps would otherwise wake and sleep again for ever on
    virtual time. ``run_cycles()`` runs boot.py and main.py as the board does in the field."""

    def __init__(self, name: str, *, flash_dir=None, env: dict | None = None, modem: dict | None = None,
                 wifi: dict | None = None, partitions: str = "factory", rfc2217: bool = False,
                 run_main: bool = False):
        from ..sim.board import VirtualBoard
        from ..sim.physics import Environment

        self.env = Environment.from_dict(env)
        scenario = {k: v for k, v in (("modem", modem), ("wifi", wifi)) if v is not None}
        self.vb = VirtualBoard(name, flash_dir=flash_dir, scenario=scenario, env=self.env, partitions=partitions,
                               run_main=run_main)
        self.name = self.vb.board.name
        self._rfc2217 = rfc2217
        self._dev = None
        self._asleep = None  # the last headless cycle, when it ended in a deep sleep not slept through yet

    # -- connection -------------------------------------------------------------------------------------------
    def start(self) -> "Board":
        """Power the board on and open its raw REPL (every other call does this first when needed)."""
        if self._dev is None:
            self._attach()
        return self

    @property
    def device(self):
        """The raw-REPL connection (``fieldnode.device.Device``), powering the board on first if need be."""
        return self.start()._dev

    @property
    def port(self) -> str:
        """The board's serial port (a pseudo-terminal: mpremote, ampy and pyserial open it)."""
        return self.start().vb.port

    @property
    def url(self) -> str | None:
        """The rfc2217:// URL (for esptool) when the board was made with ``rfc2217=True``."""
        return self.start().vb.url

    def _attach(self):
        from ..device import connect

        vb = self.vb
        if self._asleep is not None:
            vb.sleep_until_wake(self._asleep)  # the headless board was asleep: it wakes into the REPL
            self._asleep = None
        n0 = len(vb.events)
        vb.start(rfc2217=self._rfc2217, realtime=False)
        self._wait_boot(n0)
        for attempt in range(3):
            try:
                self._dev = _quiet(lambda: connect(vb.port))
                return
            except DeviceError:
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def _detach(self):
        if self._dev is not None:
            self._dev.close()
            self._dev = None
        if self.vb.console is not None:
            self.vb.stop()

    def _wait_event(self, start: int, pred, what: str, timeout: float = BOOT_TIMEOUT_S) -> int:
        end = time.monotonic() + timeout
        i = start
        while time.monotonic() < end:
            events = self.vb.events
            while i < len(events):
                e = events[i]
                if e.get("kind") == "firmware" and e.get("text") == "fs:corrupted":
                    raise DeviceError(f"the virtual {self.name}'s filesystem is corrupted",
                                      "a power cut mid-write? start from a fresh flash image")
                if pred(e):
                    return i
                i += 1
            time.sleep(0.01)
        raise DeviceError(f"the virtual {self.name} did not {what} within {timeout:g} s",
                          "look at board.events for what it did last")

    def _wait_boot(self, start: int) -> int:
        return self._wait_event(start, lambda e: e.get("kind") == "firmware" and e.get("text") == "boot:mounted",
                                "boot")

    def _reconnect(self, start: int):
        """After a reboot that began at event ``start``: wait for the filesystem, then the raw REPL again (its
        Ctrl-C interrupts a main.py that runs)."""
        from mpremote.transport import TransportError

        self._wait_boot(start)
        for attempt in range(3):
            try:
                _quiet(lambda: self._dev.t.enter_raw_repl(soft_reset=False))
                return
            except (TransportError, OSError) as e:
                if attempt == 2:
                    raise DeviceError(f"the virtual {self.name} rebooted but its raw REPL did not answer ({e})",
                                      "does main.py deep-sleep at once? use run_cycles() for such a main.py")
                time.sleep(0.2)

    def _restart(self, trigger, expect: tuple) -> dict:
        """Do ``trigger()``, which ends the running MicroPython; wait until the board is back in the REPL."""
        dev = self.device
        n0 = len(self.vb.events)
        trigger(dev)
        i = self._wait_event(n0, lambda e: e.get("kind") == "end", "stop")
        ev = self.vb.events[i]
        self._reconnect(i)
        if ev.get("reason") not in expect:
            raise BoardRestarted(self.name, ev.get("reason", "?"))
        return ev

    # -- code -------------------------------------------------------------------------------------------------
    def run(self, code: str, timeout: float = 30) -> tuple[str, str]:
        """Run ``code`` in the raw REPL: (what it printed, MicroPython's traceback or ""). BoardRestarted if the
        board reset or slept under it (the REPL is back when that is raised)."""
        dev = self.device
        n0 = len(self.vb.events)

        def watch():
            events = self.vb.events
            for i in range(n0, len(events)):
                if events[i].get("kind") == "end":
                    raise _Ended(i, events[i])

        try:
            out, err = dev.run(code, timeout, watch)
        except _Ended as e:
            self._reconnect(e.index)
            raise BoardRestarted(self.name, e.event.get("reason", "?"))
        return out.replace("\r\n", "\n"), err

    def exec(self, code: str, timeout: float = 30) -> str:
        """Run ``code`` on the board; return what it printed. MicroPythonError, carrying the MicroPython
        traceback, when it raises."""
        __tracebackhide__ = True  # pytest: the failure points at the test's line, not this one
        out, err = self.run(code, timeout)
        if err:
            raise MicroPythonError(f"code on the virtual {self.name}", err, out)
        return out

    def eval(self, expr: str, timeout: float = 30):
        """The value of ``expr`` on the board, as a Python literal (numbers, strings, bytes, lists, dicts...)."""
        __tracebackhide__ = True
        text = self.exec(f"print(repr({expr}))", timeout).strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError(f"eval({expr!r}): {text[:80]!r} is not a Python literal", "use exec() and parse it")

    # -- files ------------------------------------------------------------------------------------------------
    def put(self, src, dest: str = "/") -> list[str]:
        """Copy onto the board's filesystem over the raw REPL, as ``fieldnode deploy`` does (sha256 compared on
        the device, only what differs sent, each file written then renamed): a file into the directory ``dest``;
        a directory's contents into ``dest`` recursively (``__pycache__`` and hidden files left out); or a dict
        {relative path: str | bytes}. Returns the device paths written."""
        from .. import deploy

        files = {}
        if isinstance(src, dict):
            for name, content in src.items():
                files[_devpath(dest, name)] = content.encode() if isinstance(content, str) else bytes(content)
        else:
            p = Path(src)
            if p.is_file():
                files[_devpath(dest, p.name)] = p
            elif p.is_dir():
                for f in sorted(p.rglob("*")):
                    rel = f.relative_to(p)
                    if f.is_file() and "__pycache__" not in rel.parts and not any(s.startswith(".") for s in rel.parts):
                        files[_devpath(dest, rel.as_posix())] = f
            else:
                raise ConfigError(f"{p}: no such file or directory", "give a file, a directory or {path: content}")
        uploaded, _ = deploy.sync(self.device, files)
        return uploaded

    def write_file(self, path: str, data) -> None:
        self.put({path: data})

    def read_file(self, path: str) -> bytes:
        return self.device.read_file(path)

    def listdir(self, path: str = "/") -> list[str]:
        return self.eval(f"__import__('os').listdir({path!r})")

    def deploy_firmware(self, config: dict | None = None):
        """fieldnode's own firmware, as ``fieldnode deploy`` sends it (``fieldnode.deploy.DeployResult``)."""
        from .. import deploy

        return deploy.deploy(self.device, self.name, config=config)

    # -- resets, sleep and time -------------------------------------------------------------------------------
    def soft_reset(self) -> None:
        """Ctrl-D: MicroPython restarts and runs boot.py (the REPL stays raw, so not main.py); RTC memory stays."""
        _quiet(lambda: self.device.t.enter_raw_repl(soft_reset=True))

    def reset(self) -> None:
        """``machine.reset()``: a hard reset (HARD_RESET); boot.py runs, then the REPL is back."""
        self._restart(lambda dev: dev.t.exec_raw_no_follow("import machine\nmachine.reset()"), ("reset",))

    def deepsleep(self, ms: int) -> None:
        """``machine.deepsleep(ms)``: the virtual clock skips the sleep; the board wakes with DEEPSLEEP_RESET
        (RTC memory kept), runs boot.py, and the REPL is back."""
        if ms <= 0:
            raise ConfigError(f"deepsleep({ms}): give the sleep in ms (> 0)", "without a timer it would never wake")
        code = f"import machine\nmachine.deepsleep({int(ms)})"
        self._restart(lambda dev: dev.t.exec_raw_no_follow(code), ("deepsleep",))

    def power_cut(self) -> None:
        """The supply goes and comes back: a power-on reset, RTC memory and RTC time lost, the modem off."""
        self._restart(lambda dev: self.vb.power_cut(), ("powercut",))

    def advance(self, ms: int) -> int:
        """Let ``ms`` of virtual time pass while the board idles (the modem's own timers run); the new time."""
        return self.vb.advance(int(ms))

    @property
    def now_ms(self) -> int:
        """The virtual clock (ms since 1970: it starts at 2026-01-01)."""
        return self.vb.clock.now_ms()

    @property
    def events(self) -> list:
        """What the board did: boots, ends (and why), modem power states, firmware events."""
        return self.vb.events

    def run_cycles(self, cycles: int | None = None, *, duration_ms: int | None = None, timeout_s: float = 60):
        """Run the board headless (no REPL): boot.py and main.py, deep sleeps slept through on the virtual
        clock, ``cycles`` times (default 1) or for ``duration_ms``. Returns ``fieldnode.sim.board.Cycle``s (their
        ``output``, ``end``, ``reset_cause``...). The next REPL use wakes the board into the REPL again."""
        self._detach()
        self._asleep = None  # the headless run sleeps through it itself
        if cycles is None and duration_ms is None:
            cycles = 1
        until = None if duration_ms is None else self.now_ms + int(duration_ms)
        out = self.vb.run(cycles=cycles, until_ms=until, timeout_s=timeout_s)
        if out and out[-1].end == "deepsleep":
            self._asleep = out[-1]
        return out

    # -- the world around it ----------------------------------------------------------------------------------
    def set_quantity(self, name: str, value) -> None:
        """What the sensors measure from now on: ``name`` as in ``fieldnode.sim.physics`` (temperature_c,
        humidity_pct, pressure_pa, battery_v, current_a, light_lux...); ``value`` a number or a value spec
        ({"ramp": ...}, {"sine": ...}; their times are seconds since the board was made)."""
        from ..sim.physics import DEFAULTS, make_source

        if name not in DEFAULTS and name not in self.env.sources:
            raise ConfigError(f"no physical quantity {name!r}", f"known: {', '.join(sorted(DEFAULTS))}")
        self.env.sources[name] = make_source(value, f"quantities.{name}")

    def set_vibration(self, **fields) -> None:
        """The machine the accelerometer sits on: ``imbalance_g``, ``noise_g``, ``shaft_hz``, ``gravity_g`` and
        ``bearing`` (a dict of ``fieldnode.sim.physics.Bearing`` fields, or None for a sound bearing)."""
        from ..sim.physics import Bearing, Vibration

        allowed = sorted(Vibration.__dataclass_fields__)
        for k, v in fields.items():
            if k not in allowed:
                raise ConfigError(f"set_vibration: no field {k!r}", f"allowed: {', '.join(allowed)}")
            if k == "bearing":
                known = sorted(Bearing.__dataclass_fields__)
                bad = sorted(set(v or {}) - set(known))
                if bad:
                    raise ConfigError(f"set_vibration: bearing has no field {bad[0]!r}", f"allowed: {', '.join(known)}")
                v = Bearing(**v) if v is not None else None
            elif k == "gravity_g":
                v = tuple(float(x) for x in v)
            else:
                v = float(v)
            setattr(self.env.vibration, k, v)

    @property
    def modem(self):
        """The modem model (``fieldnode.sim.modems``), or None on a Wi-Fi board."""
        return self.vb.modem

    def _need_modem(self):
        if self.vb.modem is None:
            raise DeviceError(f"the {self.name} board has no modem", "pick a board with one (fieldnode boards)")
        return self.vb.modem

    def set_coverage(self, on: bool) -> None:
        """Cellular coverage from now on: off, the modem loses the network (it searches); on, it registers
        again. Outage windows of the modem scenario (``network.outages``) still apply."""
        m = self._need_modem()
        rel = m.rel(self.now_ms)
        if on:
            m.sc.outages = [(a, rel if a <= rel < b else b) for a, b in m.sc.outages]
        else:
            m.sc.outages.append((rel, NO_END))

    def set_signal(self, dbm: int) -> None:
        """The received signal strength the modem reports (AT+CSQ), in dBm."""
        self._need_modem().sc.rssi_dbm = int(dbm)

    def route(self, host: str, address: str) -> None:
        """Where the modem's data connection to ``host`` goes: "127.0.0.1:PORT" (its DNS, as a scenario's)."""
        self._need_modem().sc.dns[host] = address

    def close(self) -> None:
        try:
            self._detach()
        finally:
            self.vb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _quiet(fn):
    """Call ``fn`` with stdout captured: mpremote prints what a board said when its raw REPL fails to start; that
    goes into the error instead of the test's output."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            return fn()
    except FieldnodeError as e:
        said = buf.getvalue().strip()
        if not said:
            raise
        raise DeviceError(f"{e.message}; the board said: {said[-300:]!s}", e.hint) from e
