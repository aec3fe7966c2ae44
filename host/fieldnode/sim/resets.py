"""Why a virtual board's boot ended and what the next one finds: reset causes, the RTC domain, the watchdog and the
power faults a test injects.

Resets follow the ESP32 port (``machine.reset_cause()``): power-on (also a power cut, a brown-out, the EN pin),
HARD_RESET (``machine.reset()``, a panic), WDT_RESET, DEEPSLEEP_RESET; a soft reboot keeps the previous cause.
RTC memory survives everything but a loss of power (power cut, brown-out, EN pin).

The RTC's time (what ``time.time()`` reads) goes with it: the ESP32 keeps time only while its RTC domain is powered
(deep sleep, resets), so after a power loss it counts again from the port's epoch, 1970-01-01 since MicroPython
v1.22 (docs.micropython.org, esp32 quickref "Real time clock (RTC)"; time module: the epoch is port-specific, the
RTC is maintained by the application, e.g. set from the network), starting at power-on: ``time.time()`` is the
seconds since then until ``machine.RTC().datetime(...)`` sets it. The simulator's own clock (the energy model,
fleets) never jumps: only the offset the firmware sees (``rtc_offset_ms``) changes.

``Resets`` decides and records; it does not end processes. ``due()`` says which end has come (a watchdog that ran
out, a timed power cut) and the board ends the process for it.
"""

from dataclasses import dataclass, field

from .flash import PowerCut

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
POWER_LOSS = ("powercut", "brownout", "pin_reset")


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


class Resets:
    """``clock``, ``energy`` (the board's Energy), ``wifi`` (WifiModel), ``modem`` (or None) and whether its
    PWRKEY is wired (``modem_keyed``: a modem on a key waits for it after power returns), ``log`` (the board's
    event log) and ``events`` (its list, read to tell a corrupted filesystem from a plain exit)."""

    def __init__(self, clock, energy, wifi, modem, modem_keyed: bool, log, events: list):
        self.clock, self.energy, self.wifi, self.modem = clock, energy, wifi, modem
        self.modem_keyed = modem_keyed
        self.log, self.events = log, events
        self.reset_cause, self.wake_reason = PWRON_RESET, 0
        self.rtc_memory = b""
        self.rtc_offset_ms = 0  # the firmware's wall time = clock + offset (0: a board whose RTC was set)
        self.rtc_lost = False  # power was lost: the next boot's RTC counts from the epoch again
        self.end = None  # why the running process is being ended: (reason, details)
        self._wdt = None  # [timeout_ms, deadline_ms]
        self._cut_after_writes = None
        self._cut_at = None  # (t_ms, reason)
        self._modem_unpowered = False

    # -- ends -------------------------------------------------------------------------------------------------
    def note_end(self, reason: str, details: dict) -> bool:
        """The first reason given for ending the running process wins; True when this one did."""
        if self.end is not None:
            return False
        self.end = (reason, details)
        self.log("end", reason=reason, **details)
        return True

    def due(self) -> str | None:
        """Checked before every bus request: the end that has come at this virtual time, if any."""
        now = self.clock.now_ms()
        if self._cut_at is not None and now >= self._cut_at[0]:
            reason, self._cut_at = self._cut_at[1], None
            return reason
        if self._wdt and now >= self._wdt[1]:
            return "wdt"
        return None

    def conclude(self, rc: int | None) -> tuple:
        """After the process ended: why (``rc`` its exit status when nothing asked for the end), and the reset
        cause of the next boot. Returns (reason, details)."""
        end = self.end
        if end is None:
            if rc is not None and rc < 0:
                end = ("crash", {"signal": -rc})
            elif any(e["kind"] == "firmware" and e["text"] == "fs:corrupted" for e in self.events[-5:]):
                end = ("fs_corrupted", {})
            else:
                end = ("exit", {"rc": rc})
            self.log("end", reason=end[0], **end[1])
        reason = end[0]
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
            self._power_lost()
            self.energy.record(now, "mcu", "off")
            if reason == "powercut" and self.modem is not None and hasattr(self.modem, "power_off"):
                # the whole board loses its supply, the modem with it (a brown-out or the EN pin reset only the MCU)
                self.modem.power_off(now, urc=False)
                self._modem_unpowered = True
        return end

    def _power_lost(self) -> None:
        self.reset_cause = PWRON_RESET
        self.rtc_memory = b""
        self.rtc_lost = True  # the RTC's time is gone too; it restarts at the next power-on (boot)

    def pin_reset(self) -> None:
        """EN pulled low while no program runs (a board held in reset, or asleep): the chip loses power."""
        self._power_lost()

    def power_on(self) -> None:
        """The chip comes out of a power-on reset (EN released, the ROM bootloader left)."""
        self.reset_cause, self.wake_reason = PWRON_RESET, 0

    # -- boots ------------------------------------------------------------------------------------------------
    def begin(self, soft: bool) -> None:
        """A boot starts: power is back for a modem that lost it; a hard boot stops the watchdog and, after a loss
        of power, starts the RTC's time from the epoch."""
        if self._modem_unpowered:
            # power is back: a modem without a PWRKEY line starts by itself; one with it waits for the key
            self._modem_unpowered = False
            if not self.modem_keyed:
                self.modem.power_on(self.clock.now_ms())
        self.end = None
        if not soft:
            self._wdt = None

    def rtc_power_on(self) -> None:
        """At a hard boot's power-on instant: the RTC counts from 0 (1970-01-01T00:00:00) when power was lost."""
        if self.rtc_lost:
            self.rtc_lost = False
            self.rtc_offset_ms = -self.clock.now_ms()
            self.log("rtc_reset", epoch_ms=0)

    def rtc_set(self, epoch_ms: int) -> None:
        self.rtc_offset_ms = epoch_ms - self.clock.now_ms()
        self.log("rtc_set", epoch_ms=epoch_ms)

    # -- the watchdog ---------------------------------------------------------------------------------------
    def wdt_start(self, ms: int) -> None:
        self._wdt = [ms, self.clock.now_ms() + ms]
        self.log("wdt", timeout_ms=ms)

    def wdt_feed(self) -> None:
        if self._wdt:
            self._wdt[1] = self.clock.now_ms() + self._wdt[0]

    def wdt_deadline(self) -> int | None:
        """When the running watchdog fires (virtual ms), or None when none runs."""
        return self._wdt[1] if self._wdt else None

    # -- power faults ---------------------------------------------------------------------------------------
    def cut_after_writes(self, n: int | None) -> None:
        """Cut the power just before the ``n``-th flash page program or sector erase from now (None: no cut)."""
        self._cut_after_writes = n

    def cut_at(self, t_ms: int, reason: str = "powercut") -> None:
        if reason not in POWER_LOSS:
            raise ValueError(f"reason must be one of {POWER_LOSS}")
        self._cut_at = (t_ms, reason)

    def write_hook(self, off: int, n: int) -> None:
        """The flash image calls this before every program or erase: a planned cut raises PowerCut there."""
        if self._cut_after_writes is not None:
            self._cut_after_writes -= 1
            if self._cut_after_writes <= 0:
                self._cut_after_writes = None
                raise PowerCut(f"power cut at flash {off:#x}")
