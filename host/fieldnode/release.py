"""``fieldnode release``: an app update for a board, built and signed, for the collector to serve.

    rel, path = release.build_release("m5stack-core2", "1.2.0")     # -> $FIELDNODE_HOME/releases/...fnu
    rel = release.load(path)              # refuses a file whose tag or hashes do not match (ReleaseError)

A release file is a zip: ``manifest.bin`` (proto/fetch.py's binary manifest: version, board, architecture, and
each file's path, size and SHA-256), ``manifest.tag`` (HMAC-SHA256 of the manifest under the release key),
``release.json`` (the same in words, for people) and ``files/<path>``. The files are the app bundle (build.py)
minus what stays with the device (DEVICE_OWN: boot.py, main.py, the loader that rolls back, board.json), which
only ``fieldnode deploy`` changes: a loader that came over the link could not roll itself back.

Versions are major.minor.patch, packed into one number as major << 16 | minor << 8 | patch (the downlink command
that offers an update carries it in its 32-bit signed value, so major is at most 32767). The app as deployed over
USB is version 0.0.0.

How an update is authenticated, and why this way: **per-device HMAC with the device key**, the collector signing
per device when it serves (``fetch.sign_manifest``: HMAC-SHA256(device key, "M" || device id || manifest), all
32 bytes; file hashes in the manifest cover the files).

* The device already holds one secret, its 16-byte key from provisioning, and already checks HMAC-SHA256 with it
  on every reply (proto/auth.py over hashlib.sha256, which the ESP32 computes in hardware). Checking a 2 KB
  manifest costs milliseconds and no new code on the device.
* A fleet signing key would have to be a public-key one: a symmetric fleet key in every device means that reading
  it out of one device (an ESP32 without flash encryption gives up its flash to anyone with a USB cable) lets
  its reader sign code for the whole fleet. MicroPython has no Ed25519 or ECDSA (hashlib and cryptolib's AES
  are all there is; mbedTLS's public-key code is not exposed to Python), and a pure-Python Ed25519 verification is
  big-integer work measured in seconds on a 240 MHz ESP32 with a 110 KB heap -- more code to trust on the device,
  not less.
* With per-device keys a key read out of one device forges updates for that device only, which its reader holds
  already. What it costs: the collector, which holds the device keys anyway (to verify reports, and to sign the
  downlinks that can already reboot and reconfigure a device), can sign code. So the release also carries a tag
  under the release key (``$FIELDNODE_HOME/release.key``, made on the first release, kept beside the device
  registry), and the collector serves only a release whose tag verifies and whose files match their hashes: a
  file changed on the serving host after ``fieldnode release`` is refused there, never signed for a device.
"""

import hashlib
import hmac
import json
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import boards, build, fwbridge
from .errors import ConfigError, UsageError
from .paths import home

# The device's own wire format (firmware/proto/fetch.py), through the bridge rather than the collector's copy: the
# collector serves releases (collector/updates.py imports this module), so this one must not import the collector.
fetch = fwbridge.load("proto.fetch")

DEVICE_OWN = ("/boot.py", "/main.py", "/loader.mpy", "/loader.py", "/board.json")
MAX_MAJOR = 0x7FFF
SUFFIX = ".fnu"
KEY_FILE = "release.key"


class ReleaseError(ConfigError):
    """A release file that is not one, or whose tag or hashes do not match."""


def parse_version(text) -> int:
    """The packed number of "1.2.3" (or of a number already packed)."""
    if isinstance(text, int):
        v = text
    else:
        m = re.fullmatch(r"\s*(\d+)\.(\d+)\.(\d+)\s*", str(text))
        if not m:
            raise UsageError(f"version {text!r} is not major.minor.patch", "give a version such as 1.2.0")
        major, minor, patch = (int(x) for x in m.groups())
        if major > MAX_MAJOR or minor > 255 or patch > 255:
            raise UsageError(f"version {text} is out of range",
                             f"major 0..{MAX_MAJOR}, minor and patch 0..255 (they share one 32-bit number)")
        v = major << 16 | minor << 8 | patch
    if not 0 < v <= MAX_MAJOR << 16 | 0xFFFF:
        raise UsageError(f"version {fetch.vstr(v) if v > 0 else v} cannot be released",
                         "0.0.0 is the app as deployed over USB; use 0.0.1 or later")
    return v


@dataclass
class Release:
    version: int
    board: str
    arch: str
    files: list = field(default_factory=list)  # [(device path without the leading "/", bytes)] in fetch order
    body: bytes = b""  # the manifest (proto.fetch.manifest_body)
    path: Path | None = None

    @property
    def name(self) -> str:
        return fetch.vstr(self.version)

    @property
    def size(self) -> int:
        return sum(len(b) for _, b in self.files)

    def info(self) -> dict:
        return {"version": self.name, "board": self.board, "arch": self.arch, "files": len(self.files),
                "bytes": self.size, "manifest_bytes": len(self.body) + fetch.MAC_LEN,
                "chunks": chunks(self), "path": str(self.path) if self.path else None}


def chunks(rel: Release, changed=None) -> int:
    """Fetch requests for a full download (``changed``: only these paths), the manifest included."""
    n = -(-(len(rel.body) + fetch.MAC_LEN) // fetch.CHUNK)
    for p, b in rel.files:
        if changed is None or p in changed:
            n += max(1, -(-len(b) // fetch.CHUNK))
    return n


def make(files: dict, board: str, arch: str, version) -> Release:
    """A release of ``files`` ({device path: bytes}); DEVICE_OWN paths are left out."""
    version = parse_version(version)
    keep = sorted((p.lstrip("/"), bytes(b)) for p, b in files.items() if p not in DEVICE_OWN)
    if not keep:
        raise UsageError("nothing to release", "the bundle holds no app files")
    body = fetch.manifest_body(version, board, arch, [(p, len(b), hashlib.sha256(b).digest()) for p, b in keep])
    return Release(version, board, arch, keep, body)


def release_key(create: bool = False) -> bytes:
    """The release key from $FIELDNODE_HOME; a new random one when ``create`` and there is none."""
    p = home() / KEY_FILE
    try:
        key = p.read_bytes()
    except FileNotFoundError:
        if not create:
            raise ReleaseError(f"no release key at {p}", "make a release with fieldnode release on this host first, "
                                                         "or copy the release host's key there")
        key = os.urandom(32)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    if len(key) < 16:
        raise ReleaseError(f"release key {p} is {len(key)} bytes", "move it away; the next release makes a new one")
    return key


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"fieldnode-release\0" + body, hashlib.sha256).digest()


def write(rel: Release, path, key: bytes | None = None) -> Path:
    """Write the release file (to a temporary name, then renamed: an old file of that name stays whole)."""
    path = Path(path)
    key = key if key is not None else release_key(create=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = rel.info()
    info.pop("path")
    info["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    info["list"] = [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in rel.files]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.bin", rel.body)
        z.writestr("manifest.tag", _tag(key, rel.body))
        z.writestr("release.json", json.dumps(info, indent=1))
        for p, b in rel.files:
            z.writestr("files/" + p, b)
    os.replace(tmp, path)
    rel.path = path
    return path


def load(path, key: bytes | None = None) -> Release:
    """Read and check a release file: its tag under the release key, then every file against the manifest."""
    path = Path(path)
    key = key if key is not None else release_key()
    try:
        with zipfile.ZipFile(path) as z:
            body = z.read("manifest.bin")
            tag = z.read("manifest.tag")
            if not hmac.compare_digest(tag, _tag(key, body)):
                raise ReleaseError(f"{path}: the release tag does not verify",
                                   "it was changed after fieldnode release, or made with another release key")
            version, board, arch, entries = fetch.parse_manifest(body)
            files = []
            for p, size, digest in entries:
                b = z.read("files/" + p)
                if len(b) != size or hashlib.sha256(b).digest() != digest:
                    raise ReleaseError(f"{path}: {p} does not match its hash in the manifest",
                                       "the file was changed after fieldnode release; release again")
                files.append((p, b))
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise ReleaseError(f"{path}: not a fieldnode release ({e})", "make one with: fieldnode release --board NAME")
    except ValueError as e:
        raise ReleaseError(f"{path}: malformed manifest ({e.args[-1]})", "release again")
    return Release(version, board, arch, files, body, path)


def releases_dir() -> Path:
    return home() / "releases"


def load_dir(path, key: bytes | None = None) -> list:
    """Every release in a directory of them (``*.fnu``, as ``fieldnode release`` writes), each checked as load()
    checks one; the first that is missing, malformed or ambiguous raises an error naming it. An empty directory
    gives []: a collector serves the releases written into it later."""
    d = Path(path)
    if not d.exists():
        raise UsageError(f"release directory {d} does not exist",
                         "give the directory fieldnode release wrote to (-o DIR/NAME.fnu), default "
                         f"{releases_dir()}")
    if not d.is_dir():
        raise UsageError(f"release directory {d} is a file", "give the directory that holds the .fnu files")
    out, seen = [], {}
    for p in sorted(d.glob("*" + SUFFIX)):
        key = key if key is not None else release_key()
        rel = load(p, key)
        other = seen.get((rel.board, rel.version))
        if other is not None:  # the collector could not tell which of the two a device is fetching
            raise ReleaseError(f"{p}: release {rel.name} for {rel.board} is also in {other.name}",
                               "a version is released once; move one of them away")
        seen[(rel.board, rel.version)] = p
        out.append(rel)
    return out


def default_path(rel: Release) -> Path:
    return releases_dir() / f"{rel.board}-{rel.arch}-{rel.name}{SUFFIX}"


def next_version(board: str) -> int:
    """One patch after the newest release of ``board`` in the releases directory, or 1.0.0."""
    best = 0
    for p in releases_dir().glob(f"{board}-*{SUFFIX}"):
        m = re.search(r"-(\d+\.\d+\.\d+)\.fnu$", p.name)
        if m:
            best = max(best, parse_version(m.group(1)))
    return best + 1 if best else 1 << 16


def build_release(board: str, version=None, out=None, arch: str | None = None) -> tuple:
    """Build the bundle for ``board`` (``arch``: x64 for a virtual board), make and write the release.
    Returns (Release, path); the path defaults to the releases directory the collector serves from."""
    version = parse_version(version) if version is not None else next_version(board)
    b = boards.load(board)
    path = Path(out) if out is not None else default_path(Release(version, b.name, arch or b.arch))
    if path.exists():  # devices part-way through a download of it would keep failing its hashes
        raise UsageError(f"{path} exists: a version is never released twice",
                         f"give a new --version (the next is {fetch.vstr(next_version(b.name))}) or another -o")
    with tempfile.TemporaryDirectory(prefix="fieldnode-release-") as tmp:  # not build/: deploy may be reading it
        bundle = build.build(board, Path(tmp), arch=arch)
        rel = make({p: f.read_bytes() for p, f in bundle.files.items()}, bundle.board, bundle.arch, version)
    return rel, write(rel, path)


def describe(rel: Release) -> str:
    i = rel.info()
    return (f"release {i['version']} for {i['board']} ({i['arch']}): {i['files']} files, {i['bytes']} bytes, "
            f"manifest {i['manifest_bytes']} bytes; a full download is {i['chunks']} chunk requests of "
            f"{fetch.REQ_LEN} bytes, replies up to {fetch.REPLY_HEAD + fetch.CHUNK + 6} bytes")

