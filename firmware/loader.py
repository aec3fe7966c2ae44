"""Which app runs: main.py calls ``loader.start()`` at every boot, before any app module is imported. It puts the
active app directory on sys.path and rolls a new app version back when it fails its trial. update.py stages a new
version and switches to it through ``write()``.

On the board's filesystem:

    app.ptr          the pointer (store.atomic's format: CRC-32, then JSON), replaced by write-then-rename
    /                the app as deployed over USB (fieldnode deploy): version 0, "" in the pointer
    /app_a, /app_b   versions that came over the link; update.py stages into the one that is not running
    config.json, key.bin, state.json, q/, board.json: the device's own, shared by every app version

    {"active": "app_a", "ver": 65538, "prev": "", "pver": 0,     which directory and version, and the one before
     "trial": 1, "boots": 2, "resets": 0,                          a new version on trial, and how it is doing
     "rb": [65538, 2],                                             a rollback (version, why) not yet reported
     "bad": [65538]}                                               versions rolled back here: never taken again

The trial. The switch ends in a reset; that boot is the trial's first. Every boot after it counts, and a boot that
is not a wake from deep sleep (a crash, the watchdog, a brown-out, a power cut) also counts as a reset. The new
version is rolled back before any of its modules is imported once it reset MAX_RESETS times, or booted MAX_BOOTS
times without delivering a report (update.py confirms it after its first delivered report, which ends the
trial); and at once when importing it raises. A rollback makes the previous directory active again, forgets RTC
memory (the new app's layout there need not be the old one's, and a fresh state makes the old app report and
uplink in its first cycle) and leaves "rb" for update.py to report. The watchdog runs from the start of every
trial boot, so that a new app that hangs before it starts its own still ends in a reset.

Self-contained on purpose: a module imported here would stay in sys.modules and shadow the new app's own copy
(store.atomic, for one), so this reads and writes the pointer itself and imports only built-in modules. It is
never replaced over the link (nor are boot.py, main.py and board.json): a broken loader could not roll itself
back. ``fieldnode deploy`` replaces it.
"""

import json
import os
import struct
import sys
from binascii import crc32

import machine
from micropython import const

POINTER = "app.ptr"
SLOTS = ("app_a", "app_b")
MAX_RESETS = const(3)  # resets of a new version before it is rolled back
MAX_BOOTS = const(6)  # boots of a new version without a delivered report before it is rolled back
TRIAL_WDT_MS = const(180000)  # app.WDT_MS: the app's own watchdog takes over with the same timeout
# Why a version was rolled back: the same numbers as proto.fetch.RB_* (which this module must not import)
RB_IMPORT = const(1)
RB_RESETS = const(2)
RB_NO_DELIVERY = const(3)

state = None  # the pointer as it stands (None: the app deployed in /), once start() or read() ran
_started = False


def read():
    """The pointer dict, or None when there is none (never a torn one: the CRC decides, as in store.atomic)."""
    for path in (POINTER, POINTER + ".tmp"):
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if len(raw) > 4 and struct.unpack(">I", raw[:4])[0] == crc32(raw[4:]) & 0xFFFFFFFF:
            try:
                p = json.loads(raw[4:])
            except ValueError:
                continue
            if isinstance(p, dict):
                return p
    return None


def write(p):
    """Replace the pointer with ``p`` atomically (a temporary file, then a rename)."""
    global state
    data = json.dumps(p).encode()
    tmp = POINTER + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack(">I", crc32(data) & 0xFFFFFFFF))
        f.write(data)
    try:
        os.rename(tmp, POINTER)
    except OSError:  # FAT does not rename over an existing file
        try:
            os.remove(POINTER)
        except OSError:
            pass
        os.rename(tmp, POINTER)
    state = p


def busy():
    """True while a new version is on trial or a rollback waits to be reported: such a cycle uplinks."""
    p = state if _started else read()
    return bool(p and (p.get("trial") or p.get("rb")))


def vstr(v):
    return "%d.%d.%d" % (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def rollback(p, why):
    """Make the previous directory active again and remember why; returns the new pointer."""
    v = p.get("ver", 0)
    bad = [x for x in (p.get("bad") or []) if x != v][-3:] + [v]
    new = {"active": p.get("prev", ""), "ver": p.get("pver", 0), "rb": [v, why], "bad": bad}
    write(new)
    machine.RTC().memory(b"")
    print("fieldnode: app %s rolled back (%s); %s runs again" % (
        vstr(v), ("import failed", "reset too often", "no report delivered")[why - 1], vstr(new["ver"])))
    return new


def _trial(p):
    boots = p.get("boots", 0) + 1
    resets = p.get("resets", 0)
    if boots > 1 and machine.reset_cause() != machine.DEEPSLEEP_RESET:
        resets += 1
    if resets >= MAX_RESETS:
        return rollback(p, RB_RESETS)
    if boots > MAX_BOOTS:
        return rollback(p, RB_NO_DELIVERY)
    p["boots"] = boots
    p["resets"] = resets
    write(p)
    machine.WDT(timeout=TRIAL_WDT_MS)
    return p


def start():
    """Choose the app directory, import the app and return it. Rolls back (and resets) a version whose import
    fails when there is one to go back to; otherwise the error propagates as it would without a loader."""
    global state, _started
    _started = True
    p = state = read()
    if p and p.get("trial"):
        p = _trial(p)
    slot = p.get("active", "") if p else ""
    if slot in SLOTS:
        sys.path[:] = ["/" + slot, ".frozen", "/lib"]
    try:
        import app
    except Exception as e:  # noqa: BLE001 - any failure to import a version that came over the link
        if slot not in SLOTS:
            raise
        sys.print_exception(e)
        rollback(p, RB_IMPORT)
        machine.reset()
        raise
    return app
