"""Small files that are replaced whole or not at all: write a temporary file, close it, rename it over the old one.

littlefs renames atomically (the ESP32 port's default filesystem; MicroPython docs, "Filesystems"), so a power cut
leaves either the old or the new file. Each file carries a CRC-32 of its content, so a file cut short on a
filesystem without atomic rename (FAT) is recognised, and the reader falls back to the temporary copy, which is
complete whenever its CRC matches. A file exists as soon as it is opened; that is why the data goes to the
temporary name first.
"""

import os
import struct

try:
    from binascii import crc32
except ImportError:  # a port built without it: CRC-32 (IEEE 802.3, reflected 0xEDB88320), bit by bit
    def crc32(data, crc=0):
        crc ^= 0xFFFFFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
        return crc ^ 0xFFFFFFFF


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write(path, data):
    """Replace ``path`` with ``data`` (plus a 4-byte CRC) atomically."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack(">I", crc32(data) & 0xFFFFFFFF))
        f.write(data)
    try:
        os.rename(tmp, path)
    except OSError:  # FAT does not replace an existing file
        remove(path)
        os.rename(tmp, path)


def _read_one(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if len(raw) < 4:
        return None
    data = raw[4:]
    if struct.unpack(">I", raw[:4])[0] != crc32(data) & 0xFFFFFFFF:
        return None
    return data


def read(path):
    """The content last written to ``path``, or None when there is none (never a torn one)."""
    data = _read_one(path)
    if data is None:
        data = _read_one(path + ".tmp")
    return data
