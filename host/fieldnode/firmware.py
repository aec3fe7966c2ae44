"""The local firmware cache: MicroPython release images under ``$FIELDNODE_HOME/firmware/<chip>/``.

``add(path)`` reads the chip from the image header (see ``fieldnode.espimage``) and stores a copy named
``<sha256 prefix>-<original name>``; adding the same bytes again changes nothing, and nothing in the cache is
ever overwritten. There is no index file to go stale: ``entries()`` reads the images themselves.

    from fieldnode import firmware
    e = firmware.add("ESP32_GENERIC-20241129-v1.24.1.bin")
    firmware.latest("esp32").path
"""

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import espimage
from .boards import CHIPS
from .errors import UsageError
from .paths import home

HOW_TO_GET = ("download the MicroPython .bin for your board's chip from https://micropython.org/download/ "
              "(ESP32_GENERIC, ESP32_GENERIC_S3 or ESP32_GENERIC_C3) and run: fieldnode firmware add FILE")


@dataclass(frozen=True)
class Entry:
    path: Path
    chip: str
    sha256: str
    size: int
    version: str
    project: str
    added: str  # ISO time the file entered the cache

    def as_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def cache_dir() -> Path:
    p = home() / "firmware"
    p.mkdir(parents=True, exist_ok=True)
    return p


def read_image(path, what: str | None = None) -> bytes:
    """The bytes of a firmware file, with a one-line error when it is missing or unreadable."""
    p = Path(path)
    what = what or f"firmware file {p}"
    if not p.is_file():
        raise UsageError(f"{what} not found", HOW_TO_GET)
    try:
        return p.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {what}: {e.strerror}", "check the path and its permissions")


def _entry(p: Path) -> Entry | None:
    try:
        data = p.read_bytes()
        info = espimage.inspect(data, what=str(p))
    except (OSError, UsageError):
        return None  # not an image (a stray file): ignored, never deleted
    added = datetime.fromtimestamp(p.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    return Entry(p, info.chip, hashlib.sha256(data).hexdigest(), len(data), info.version,
                 info.app.get("project", ""), added)


def add(path, chip: str | None = None) -> tuple[Entry, bool]:
    """Copy a firmware image into the cache. Returns (entry, added); added is False if it was already there.

    ``chip``, when given, must match the chip named in the image header."""
    data = read_image(path)
    info = espimage.inspect(data, what=f"firmware file {path}")
    if info.chip not in CHIPS:
        raise UsageError(f"{path} is a firmware image for {info.chip}, which fieldnode boards do not use",
                         f"fieldnode supports {', '.join(sorted(CHIPS))}")
    if chip and chip != info.chip:
        raise UsageError(f"{path} is for {info.chip} (its image header says so), not {chip}",
                         f"drop --chip or use the {chip} firmware")
    digest = hashlib.sha256(data).hexdigest()
    folder = cache_dir() / info.chip
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{digest[:16]}-*"):
        e = _entry(old)
        if e and e.sha256 == digest:
            return e, False
    dest = folder / f"{digest[:16]}-{Path(path).name}"
    # Write beside, then rename: a crash leaves either no file or the whole file, never half of one.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return _entry(dest), True


def entries(chip: str | None = None) -> list[Entry]:
    """Cached images, newest first."""
    root = cache_dir()
    chips = [chip] if chip else sorted(p.name for p in root.iterdir() if p.is_dir())
    found = []
    for c in chips:
        for p in (root / c).glob("*"):
            if p.is_file() and not p.name.startswith("."):
                e = _entry(p)
                if e:
                    found.append(e)
    return sorted(found, key=lambda e: (e.added, e.path.name), reverse=True)


def latest(chip: str) -> Entry | None:
    es = entries(chip)
    return es[0] if es else None


def resolve(chip: str, path=None) -> tuple[Path, espimage.ImageInfo]:
    """The firmware to flash on a ``chip``: ``path`` if given, else the newest cached one. Refuses an image for
    another chip before anything touches the board."""
    if path is None:
        e = latest(chip)
        if e is None:
            raise UsageError(f"no firmware for {chip} given and none in the cache ({cache_dir() / chip})",
                             "pass --firmware FILE, or " + HOW_TO_GET)
        path = e.path
    data = read_image(path)
    info = espimage.inspect(data, what=f"firmware file {path}")
    if info.chip != chip:
        raise UsageError(f"firmware {path} is for {info.chip}, but the board has an {chip}",
                         f"use a MicroPython build for {chip}")
    return Path(path), info

