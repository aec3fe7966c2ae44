"""Files on a virtual board's littlefs root without a serial client: what ``mpremote cp``/``cat``/``ls`` would do,
done by a MicroPython process of its own that mounts the board's flash image (``scripts/fs_helpers.py``).

    fs = BoardFs(board.environ, lambda: board.proc is not None)
    fs.put({"main.py": "print('hi')\\n"})
    fs.read("main.py")   # b"print('hi')\\n"

Reading while the board runs is safe (a littlefs mount does not write); writing beside it is not, and is refused.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError, DeviceError
from ..paths import micropython_cmd

SCRIPT = Path(__file__).with_name("scripts") / "fs_helpers.py"
HEAP = 262144  # littlefs and a file's bytes, nothing of the firmware's


class BoardFs:
    """``environ()`` the board's MicroPython environment (its shims and flash image); ``running()`` whether its
    program runs now."""

    def __init__(self, environ, running):
        self._environ = environ
        self._running = running

    def put(self, files: dict | str | Path, dest: str = "/") -> None:
        """Copy files onto the board's filesystem: a dict {path: str | bytes} or a host directory (recursively),
        as ``mpremote cp -r`` would, formatting a blank filesystem first as the board's first boot does."""
        src = _stage(files)
        try:
            self._run("copy", str(src), dest, write=True)
        finally:
            if isinstance(files, dict):
                shutil.rmtree(src, ignore_errors=True)

    def read(self, path: str) -> bytes:
        """A file's bytes from the board's filesystem (DeviceError if it is not there)."""
        out = self._run("cat", path)
        if not out.startswith("HEX:"):
            raise DeviceError(f"{path}: not on the board's filesystem", "list it with: mpremote fs ls")
        return bytes.fromhex(out[4:].strip())

    def list(self, path: str = "/") -> list[str]:
        return [line for line in self._run("ls", path).splitlines() if line]

    def _run(self, *args: str, write: bool = False) -> str:
        if write and self._running():
            raise DeviceError("the board is running", "use the serial port (mpremote) while it runs")
        r = subprocess.run([micropython_cmd(), "-X", f"heapsize={HEAP}", str(SCRIPT), *args], capture_output=True,
                           env=self._environ(), timeout=60)
        if r.returncode != 0:
            raise DeviceError(f"filesystem operation failed: {r.stderr.decode(errors='replace').strip()[-300:]}",
                              "check the path; a power cut may have left the volume unmountable")
        return r.stdout.decode("utf-8", "replace")


def _stage(files) -> Path:
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
