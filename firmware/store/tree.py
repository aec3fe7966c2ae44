"""Directories and whole files on the flash filesystem, for staging app updates (update.py): sizes, hashes,
appends and copies in small blocks (no file is ever read whole into RAM), and removing a directory tree.

    tree.makedirs("app_a/proto")
    tree.append("app_a/app.mpy.part", chunk)     # closed after every chunk: littlefs commits on close, so after
    tree.size("app_a/app.mpy.part")              #   a power cut the size says what is there
    tree.sha256("app_a/app.mpy.part") == digest
    tree.rmtree("app_b")
"""

import hashlib
import os

from micropython import const

_BLOCK = const(1024)
_DIR = const(0x4000)


def size(path):
    """Size in bytes, or -1 when there is no such file."""
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def is_dir(path):
    try:
        return os.stat(path)[0] & _DIR != 0
    except OSError:
        return False


def makedirs(path):
    cur = ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + "/" + part if cur or path.startswith("/") else part
        try:
            os.mkdir(cur)
        except OSError:
            pass  # there already (or the parent is missing, which the next mkdir reports)


def rmtree(path):
    """Remove ``path`` and everything under it; nothing happens when it is not there."""
    try:
        entries = list(os.ilistdir(path))
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for e in entries:
        p = path + "/" + e[0]
        if e[1] == _DIR:
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def sha256(path):
    """The SHA-256 digest of a file, read in blocks; None when it cannot be read."""
    h = hashlib.sha256()
    buf = bytearray(_BLOCK)
    mv = memoryview(buf)
    try:
        with open(path, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(mv[:n])
    except OSError:
        return None
    return h.digest()


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def copy(src, dst):
    buf = bytearray(_BLOCK)
    mv = memoryview(buf)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            n = fi.readinto(buf)
            if not n:
                break
            fo.write(mv[:n])
