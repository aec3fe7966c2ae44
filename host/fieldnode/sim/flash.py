"""A virtual board's SPI flash, backed by an image file of the chip's full size.

NOR flash semantics as on the ESP32's SPI flash (ESP-IDF spi_flash docs; the chips' datasheets): erased bytes
read 0xFF, a program operation can only clear bits (new = old & data), erase works on 4 KiB sectors. Both the
ROM bootloader model (esptool's write-flash, erase-flash) and MicroPython's littlefs block device use this one
object, so the bytes esptool writes are the bytes the filesystem reads.

``write_hook`` lets the power-cut machinery stop the world in the middle of a program operation: it is called
before each page (256 bytes) is programmed and may raise ``PowerCut``; pages programmed before it stay written.
"""

import os
import threading
from pathlib import Path

SECTOR = 4096
PAGE = 256


class PowerCut(Exception):
    """Raised by a write hook to model power failing in the middle of a flash operation."""


class FlashImage:
    def __init__(self, path, size: int):
        self.path = Path(path)
        self.size = size
        self._lock = threading.RLock()
        self.write_hook = None  # callable(offset, length) -> None, may raise PowerCut
        self.writes = 0  # program operations (pages) so far: the index a power-cut test counts by
        new = not self.path.exists()
        self._f = open(self.path, "r+b" if not new else "w+b")
        if new or os.path.getsize(self.path) < size:
            self._f.seek(0, 2)
            have = self._f.tell()
            self._f.write(b"\xff" * (size - have))
            self._f.flush()

    def close(self):
        with self._lock:
            self._f.close()

    def _check(self, off, n):
        if off < 0 or n < 0 or off + n > self.size:
            raise ValueError(f"flash access {off:#x}+{n:#x} outside {self.size:#x}")

    def read(self, off: int, n: int) -> bytes:
        with self._lock:
            self._check(off, n)
            self._f.seek(off)
            return self._f.read(n)

    def program(self, off: int, data: bytes) -> None:
        """Program bytes (bits can only go from 1 to 0), page by page."""
        with self._lock:
            self._check(off, len(data))
            pos = 0
            while pos < len(data):
                page_end = (off + pos) // PAGE * PAGE + PAGE
                chunk = data[pos: pos + page_end - (off + pos)]
                if self.write_hook:
                    self.write_hook(off + pos, len(chunk))
                self._f.seek(off + pos)
                old = self._f.read(len(chunk))
                self._f.seek(off + pos)
                self._f.write(bytes(a & b for a, b in zip(old, chunk, strict=True)))
                self._f.flush()
                self.writes += 1
                pos += len(chunk)

    def erase(self, off: int, n: int) -> None:
        """Erase whole sectors covering [off, off+n)."""
        with self._lock:
            start = off // SECTOR * SECTOR
            end = -(-(off + n) // SECTOR) * SECTOR
            self._check(start, end - start)
            for s in range(start, end, SECTOR):
                if self.write_hook:
                    self.write_hook(s, SECTOR)
                self._f.seek(s)
                self._f.write(b"\xff" * SECTOR)
            self._f.flush()

    def erase_all(self) -> None:
        self.erase(0, self.size)

    def write(self, off: int, data: bytes) -> None:
        """Erase the sectors touched, then program: what a block device's write does."""
        with self._lock:
            if off % SECTOR == 0 and len(data) % SECTOR == 0:
                self.erase(off, len(data))
                self.program(off, data)
            else:
                start = off // SECTOR * SECTOR
                end = -(-(off + len(data)) // SECTOR) * SECTOR
                buf = bytearray(self.read(start, end - start))
                buf[off - start: off - start + len(data)] = data
                self.erase(start, end - start)
                self.program(start, bytes(buf))
