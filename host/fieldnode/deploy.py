"""Deploy the firmware bundle to a board: build it for the board's architecture, upload only what changed.

Hashes are compared on the device (sha256 of each file, computed there in one exec), so a second deploy with no
change sends nothing but that one request. Each file is written to a temporary name and renamed, so a power cut
mid-deploy leaves every module either old or new. What the device keeps of its own (``PROTECTED``: its config and
last good config, its key, its persisted state, the flash queue with its counter, the two app-update slots) is
never written or removed by a deploy: a bundle that carries such a path is refused before anything is sent, and
``--config`` writes a config only where there is none, unless ``overwrite_config`` is asked for. The one
device-made file a deploy removes is the app-update pointer (``OTA_POINTER``): the deployed app is what runs next.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field

from . import build, fwbridge
from .device import Device
from .errors import ConfigError

# What the firmware writes, under its own names (app.py, appconfig.py, loader.py), taken from its source so that this
# list cannot drift from what the device really keeps. RTC memory is not a file and needs no protection.
_app, _cfg, _loader = (fwbridge.constants(m) for m in ("app", "appconfig", "loader"))
CONFIG = _cfg["CONFIG"]
PROTECTED = (CONFIG, _cfg["GOOD"], _app["KEY"], _app["STATE"], _app["QUEUE"], *_loader["SLOTS"])
OTA_POINTER = _loader["POINTER"]


def protected(path: str) -> bool:
    """Whether the device path ``path`` is the device's own: a PROTECTED name, its temporary copy (store/atomic.py
    writes NAME.tmp, then renames it over NAME), or anything inside a PROTECTED directory (the queue, the slots)."""
    top = path.strip("/").split("/", 1)[0]
    return (top[:-4] if top.endswith(".tmp") else top) in PROTECTED


_HASH_ON_DEVICE = """
import hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(b if n == 512 else b[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
print(repr({p: _h(p) for p in %r}))
"""

@dataclass
class DeployResult:
    board: str
    uploaded: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    unchanged: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    config_written: bool = False
    ota_pointer_removed: bool = False

    def summary(self) -> str:
        ota = "; the over-the-air app it ran is replaced by this one" if self.ota_pointer_removed else ""
        return (f"deployed {self.board}: {len(self.uploaded)} uploaded ({self.bytes_sent} bytes), "
                f"{self.unchanged} unchanged, {len(self.removed)} stale removed, in {self.seconds:.1f} s{ota}")



def device_arch(dev: Device, board) -> str:
    """The native architecture the board really runs (``sys.implementation._mpy``), checked against the board
    file (``board``: a name or a loaded Board): a virtual board (the unix port, x64) gets a bundle for its own arch;
    a real chip must match."""
    from .errors import DeviceError

    mpy = dev.value("import sys\nprint(repr(getattr(sys.implementation, '_mpy', 0)))")
    arch = build.ARCHS.get(mpy >> 10)
    board = _board(board)
    board_name, want = board.name, board.arch
    if arch is None or arch == want:
        return want
    if arch in build.HOST_ARCHS:
        return arch
    raise DeviceError(f"{dev.port} runs {arch} code but the board file {board_name} says {want}",
                      "pick the right --board (see: fieldnode boards)")


def _mkdirs(dev: Device, paths) -> None:
    dirs = sorted({"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)})
    if dirs:
        dev.exec("import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass" % (dirs,))


def sync(dev: Device, files: dict, progress=None) -> tuple[list, int]:
    """Bring ``files`` ({device path: local Path or bytes}) up to date on the board: sha256 compared on the
    device, only what differs written (to a temporary name, then renamed), then checked again. Returns (uploaded
    device paths, bytes sent). ``fieldnode deploy`` sends the firmware bundle this way; ``fieldnode.testing``
    sends a user's own files."""
    from .errors import DeviceError

    def data(p):
        return p if isinstance(p, (bytes, bytearray)) else p.read_bytes()

    want = {path: hashlib.sha256(data(src)).hexdigest() for path, src in files.items()}
    have = dev.value(_HASH_ON_DEVICE % (sorted(want),))
    changed = [p for p in sorted(want) if have.get(p) != want[p]]
    _mkdirs(dev, changed)
    total = sum(len(data(files[p])) for p in changed)
    uploaded, sent = [], 0
    for path in changed:
        blob = data(files[path])
        dev.write_file(path, blob)
        sent += len(blob)
        uploaded.append(path)
        if progress:
            progress(sent, total, path)
    if changed:
        after = dev.value(_HASH_ON_DEVICE % (changed,))
        bad = [p for p in changed if after.get(p) != want[p]]
        if bad:
            raise DeviceError(f"verify failed for {', '.join(bad)}", "run deploy again; if it repeats, reflash")
    return uploaded, sent


# The chip MicroPython was built for: sys.implementation._machine is "<board name> with <MCU name>" on the ESP32
# ports (ports/esp32/mpconfigport.h: MICROPY_HW_BOARD_NAME " with " MICROPY_HW_MCU_NAME; the MCU names are
# CONFIG_IDF_TARGET's in upper case: ESP32, ESP32S3, ESP32C3).
_BOARD_ON_DEVICE = """
import sys, json
try:
    with open('board.json') as f:
        n = json.load(f).get('name')
except (OSError, ValueError, AttributeError):
    n = None
print(repr((n, getattr(sys.implementation, '_machine', ''))))
"""


def _board(board):
    from . import boards

    return board if isinstance(board, boards.Board) else boards.load(board)


def check_board(dev: Device, board, change_board: bool = False) -> None:
    """Refuse a board file that is not the one the device runs: the board file it was deployed with (its
    /board.json) unless ``change_board``, and always a board file for another chip than the one MicroPython runs
    on. A wrong board file gives the firmware the wrong pins, buses and modem: it would fail in the field, not here.
    ``board``: a board name or a loaded Board."""
    want = _board(board)
    board_name = want.name
    current, machine = dev.value(_BOARD_ON_DEVICE)
    mcu = machine.rsplit(" with ", 1)[1].strip().lower() if " with " in machine else None
    if mcu and mcu.startswith("esp32") and mcu != want.chip:
        raise ConfigError(f"{dev.port} is an {mcu.upper()} ({machine}) but the board file {board_name} is for an "
                          f"{want.chip.upper()}", "pick the board file of this board (see: fieldnode boards)")
    if current and current != want.name and not change_board:
        raise ConfigError(f"{dev.port} runs the board file {current}, not {board_name}",
                          f"deploy with --board {current}, or add --change-board if this board really is a "
                          f"{board_name} (its provisioned files are kept)")


def deploy(dev: Device, board_name: str, config: dict | None = None, overwrite_config: bool = False,
           progress=None, change_board: bool = False) -> DeployResult:
    """Build the bundle for ``board_name`` and bring the board's files up to date. Returns what was done.
    ``change_board`` allows a board file other than the one the device was deployed with (``check_board``)."""
    t0 = time.monotonic()
    board = _board(board_name)  # read once: the checks and the build share it
    check_board(dev, board, change_board)
    bundle = build.build(board, arch=device_arch(dev, board))
    res = DeployResult(bundle.board)
    local = {dev_path.lstrip("/"): p for dev_path, p in bundle.files.items()}
    owned = sorted(p for p in local if protected(p))
    if owned:
        raise ConfigError(f"the {board_name} bundle carries {', '.join(owned)}, which the device keeps of its own",
                          "remove it from firmware/ (a deploy must not overwrite a provisioned device's files)")
    res.uploaded, res.bytes_sent = sync(dev, local, progress)
    res.unchanged = len(local) - len(res.uploaded)
    # A stale .py beside a deployed .mpy would shadow it (MicroPython tries .py first): remove those.
    twins = [p[:-4] + ".py" for p in local if p.endswith(".mpy")]
    stale = dev.value("import os\ndef _e(p):\n try:\n  os.stat(p)\n  return 1\n except OSError:\n"
                      "  return 0\nprint(repr([p for p in %r if _e(p)]))" % (twins,))
    if stale:
        dev.exec("import os\nfor p in %r:\n os.remove(p)" % (stale,))
        res.removed = stale
    # A device that took an update over the link runs /app_a or /app_b (firmware/loader.py); what deploy just wrote
    # is the app at the root, so the pointer goes: the next boot runs the deployed app. The update directories stay
    # (the loader ignores them without a pointer; the next update over the link reuses them). The pointer's temporary
    # copy goes too: the loader falls back to it when the pointer itself is missing (loader.read).
    ptr = dev.value("import os\nr = False\nfor p in %r:\n try:\n  os.remove(p)\n  r = True\n except OSError:\n"
                    "  pass\nprint(r)" % ([OTA_POINTER, OTA_POINTER + ".tmp"],))
    res.ota_pointer_removed = bool(ptr)
    if config is not None:
        if not isinstance(config, dict):
            raise ConfigError("config must be a JSON object")
        exists = dev.value("import os\nprint(repr(%r in os.listdir()))" % (CONFIG,))
        if not exists or overwrite_config:
            dev.write_file(CONFIG, json.dumps(config, sort_keys=True).encode())
            res.config_written = True
    res.seconds = time.monotonic() - t0
    return res
