"""The local firmware cache: MicroPython release images under ``$FIELDNODE_HOME/firmware/<chip>/``.

``add(path)`` reads the chip from the image header (see ``fieldnode.espimage``) and stores a copy named
``<sha256 prefix>-<original name>``; adding the same bytes again changes nothing, and nothing in the cache is
ever overwritten. There is no index file to go stale: ``entries()`` reads the images themselves.

    from fieldnode import firmware
    e = firmware.add("ESP32_GENERIC-20241129-v1.24.1.bin")
    firmware.latest("esp32").path

``get(board_or_port)`` downloads a release from micropython.org (the newest, or ``version=``) and adds it the same
way: the board's download page lists the images, whose names carry a build date that cannot be guessed.
"""

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from . import __version__, boards, espimage
from .boards import CHIPS
from .errors import NetworkError, UsageError
from .paths import home

HOW_TO_GET = ("run: fieldnode firmware get <board>, or download the MicroPython .bin for your board's chip from "
              "https://micropython.org/download/ (ESP32_GENERIC, ESP32_GENERIC_S3 or ESP32_GENERIC_C3) and run: "
              "fieldnode firmware add FILE")
MICROPYTHON_ORG = "https://micropython.org"
# micropython.org's generic board for each chip fieldnode supports (ports/esp32/boards/ESP32_GENERIC*/).
PORT_OF_CHIP = {"esp32": "ESP32_GENERIC", "esp32s3": "ESP32_GENERIC_S3", "esp32c3": "ESP32_GENERIC_C3"}
CHIP_OF_PORT = {v: k for k, v in PORT_OF_CHIP.items()}


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
    return add_image(read_image(path), Path(path).name, chip, what=str(path))


def add_image(data: bytes, name: str, chip: str | None = None, what: str | None = None) -> tuple[Entry, bool]:
    """``add`` for bytes already in memory (a download): ``name`` is the file name kept in the cache, ``what``
    names the source in errors. Nothing is cached unless the header names a supported chip (and ``chip``)."""
    what = what or name
    info = espimage.inspect(data, what=f"firmware file {what}")
    if info.chip not in CHIPS:
        raise UsageError(f"{what} is a firmware image for {info.chip}, which fieldnode boards do not use",
                         f"fieldnode supports {', '.join(sorted(CHIPS))}")
    if chip and chip != info.chip:
        raise UsageError(f"{what} is for {info.chip} (its image header says so), not {chip}",
                         f"drop --chip or use the {chip} firmware")
    digest = hashlib.sha256(data).hexdigest()
    folder = cache_dir() / info.chip
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{digest[:16]}-*"):
        e = _entry(old)
        if e and e.sha256 == digest:
            return e, False
    dest = folder / f"{digest[:16]}-{Path(name).name}"
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



# -- getting a release from micropython.org ----------------------------------------------------------------------

MAX_IMAGE = 16 << 20  # no ESP32-family release image is larger than the largest flash chip


@dataclass(frozen=True)
class Release:
    """One release image a micropython.org download page links to."""

    board: str  # micropython.org's board name, ESP32_GENERIC_S3
    version: str  # 1.24.1
    date: str  # build date in the file name, 20241129
    url: str

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def port_for(board_or_port: str) -> tuple[str, str | None]:
    """(micropython.org board name, chip its images must be for) from a board file name (the generic build for
    the board's chip) or a micropython.org board name; the chip is None for boards other than the generic ones."""
    if board_or_port in boards.names():
        chip = boards.load(board_or_port).chip
        return PORT_OF_CHIP[chip], chip
    if re.fullmatch(r"[A-Za-z0-9_]+", board_or_port):
        port = board_or_port.upper()
        return port, CHIP_OF_PORT.get(port)
    raise UsageError(f"{board_or_port!r} is neither a board file nor a micropython.org board name",
                     f"use one of {', '.join(boards.names())}, or {', '.join(PORT_OF_CHIP.values())}")


def download_page(port: str, base_url: str = MICROPYTHON_ORG) -> str:
    return f"{base_url.rstrip('/')}/download/{port}/"


def _offline(url: str, e: Exception) -> NetworkError:
    reason = getattr(e, "reason", None) or e
    return NetworkError(f"could not download {url} ({reason}): no network, or the server is down",
                        "check the connection and retry, or download the .bin on another machine and run: "
                        "fieldnode firmware add FILE")


def _fetch(url: str, timeout: float, progress=None) -> bytes:
    """The body at ``url``; ``progress(done, total, "download")`` as it arrives. NetworkError when it cannot."""
    req = urllib.request.Request(url, headers={"User-Agent": f"fieldnode/{__version__}"})
    buf = bytearray()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            total = int(r.headers.get("Content-Length") or 0)
            while chunk := r.read(64 * 1024):
                buf += chunk
                if len(buf) > MAX_IMAGE:
                    raise NetworkError(f"{url} sent more than {MAX_IMAGE >> 20} MiB", "check --base-url")
                if progress and total:
                    progress(min(len(buf), total), total, "download")
    except urllib.error.HTTPError as e:  # before OSError: an HTTPError is one
        raise NetworkError(f"{url} answered HTTP {e.code} {e.reason}",
                           "retry later, or download the .bin by hand and run: fieldnode firmware add FILE") from e
    except (OSError, http.client.HTTPException) as e:  # refused, unreachable, timed out, cut off
        raise _offline(url, e) from e
    if progress and not total:
        progress(len(buf), len(buf), "download")
    return bytes(buf)


def releases(port: str, base_url: str = MICROPYTHON_ORG, timeout: float = 30.0) -> list[Release]:
    """The releases of ``port`` its download page links to, newest first: ``<port>-<yyyymmdd>-v<x.y.z>.bin`` only,
    so previews, variants (``-SPIRAM``, ``-OTA``), other boards and the .app-bin/.elf/.map files are left out."""
    page = download_page(port, base_url)
    try:
        html = _fetch(page, timeout).decode("utf-8", "replace")
    except NetworkError as e:
        if isinstance(e.__cause__, urllib.error.HTTPError) and e.__cause__.code == 404:
            raise UsageError(f"there is no download page for {port} ({page}: HTTP 404)",
                             f"check the name, e.g. {', '.join(PORT_OF_CHIP.values())}, or a board file") from e
        raise
    name = re.compile(rf"{re.escape(port)}-(\d{{8}})-v(\d+\.\d+\.\d+)\.bin")
    found = {}
    for href in re.findall(r"""href\s*=\s*["']([^"']+)["']""", html):
        m = name.fullmatch(urlsplit(href).path.rsplit("/", 1)[-1])
        if m:
            found.setdefault(m[2], Release(port, m[2], m[1], urljoin(page, href)))
    return sorted(found.values(), key=lambda r: tuple(map(int, r.version.split("."))), reverse=True)


def get(board_or_port: str, version: str | None = None, base_url: str = MICROPYTHON_ORG, timeout: float = 30.0,
        progress=None) -> tuple[Entry, bool, Release]:
    """Download a MicroPython release (``version`` such as "1.24.1", default the newest) for a board file or a
    micropython.org board name, and ``add`` it to the cache. Returns (entry, added, release).

    The image is checked as ``add`` checks a file (header, chip) and nothing is cached when it fails."""
    port, chip = port_for(board_or_port)
    found = releases(port, base_url, timeout)
    if not found:
        raise UsageError(f"no MicroPython release images for {port} on {download_page(port, base_url)}",
                         "check the board name, or download the .bin by hand and run: fieldnode firmware add FILE")
    if version is None:
        rel = found[0]
    else:
        want = version.strip().lstrip("vV")
        rel = next((r for r in found if r.version == want), None)
        if rel is None:
            raise UsageError(f"MicroPython {want} is not on {port}'s download page; versions there: "
                             f"{', '.join(r.version for r in found)}",
                             "pass one of them to --version, or leave --version out for the newest")
    data = _fetch(rel.url, timeout, progress)
    try:
        entry, added = add_image(data, rel.name, chip, what=rel.url)
    except UsageError as e:
        want = chip or "an ESP32, ESP32-S3 or ESP32-C3"
        raise UsageError(f"refused: {e.message}", f"nothing was cached; {port} must be a MicroPython build for "
                         f"{want}: download the right .bin and run: fieldnode firmware add FILE") from e
    return entry, added, rel
