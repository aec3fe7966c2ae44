# Run by the micropython binary beside a virtual board, never imported: sim/boardfs.py starts it as
#   micropython fs_helpers.py copy SRC DEST | cat PATH | ls PATH
# with the board's environment (MICROPYPATH: the ESP32 shims; FIELDNODE_FLASH: its flash image). It mounts the
# board's littlefs root ("vfs" partition) at /flash, formatting a blank one as the board's first boot does, and
# copies a host directory onto it or prints a file (HEX:<bytes> or MISSING) or the tree (one path a line).
# This directory is not on the firmware's module path.
import os
import sys

import esp32
import vfs

DIR = 0x4000  # os.ilistdir's type of a directory (S_IFDIR)


def _mount():
    p = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")[0]
    try:
        vfs.mount(p, "/flash")
    except OSError:
        b = bytearray(4096)
        p.readblocks(0, b)
        if b != b"\xff" * 4096:
            raise OSError(5, "the filesystem appears to be corrupted")
        vfs.VfsLfs2.mkfs(p)
        vfs.mount(p, "/flash")


def _mkdirs(path):
    cur = ""
    for part in path.split("/"):
        if not part:
            continue
        cur += "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass


def copy(src, dest):
    _mount()
    base = "/flash" + ("/" + dest.strip("/") if dest.strip("/") else "")
    _mkdirs(base)

    def walk(s, d):
        for name, kind, *_ in os.ilistdir(s):
            if kind == DIR:
                _mkdirs(d + "/" + name)
                walk(s + "/" + name, d + "/" + name)
            else:
                with open(s + "/" + name, "rb") as fi:
                    data = fi.read()
                # written beside, then renamed: a power cut leaves the old file or the new one, never half
                tmp = d + "/." + name + ".tmp"
                with open(tmp, "wb") as fo:
                    fo.write(data)
                os.rename(tmp, d + "/" + name)

    walk(src, base)


def cat(path):
    _mount()
    try:
        with open("/flash/" + path.lstrip("/"), "rb") as f:
            print("HEX:" + f.read().hex())
    except OSError:
        print("MISSING")


def ls(path):
    _mount()

    def walk(p, rel):
        for name, kind, *_ in os.ilistdir(p):
            print(rel + name + ("/" if kind == DIR else ""))
            if kind == DIR:
                walk(p + "/" + name, rel + name + "/")

    walk("/flash/" + path.strip("/"), "/" + (path.strip("/") + "/" if path.strip("/") else ""))


COMMANDS = {"copy": copy, "cat": cat, "ls": ls}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
