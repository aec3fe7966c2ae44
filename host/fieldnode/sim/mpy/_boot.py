# The virtual board's start-up, in the order the ESP32 port does it (ports/esp32/modules/_boot.py, inisetup.py and
# main.c): mount the littlefs "vfs" partition at / (format it if the partition is blank, refuse if it holds
# something else), run boot.py, then main.py unless the REPL is in raw mode, then the REPL (the -i option).
# The simulator's modules (machine, time, network, esp32, select, socket) are imported first, from the host's
# directory, which is then unmounted so that / is the board's own filesystem only, with sys.path as on a board.
def _start():
    g = globals()
    del g["_start"]  # the REPL's globals are main.py's, as on a board
    import _hwbus
    import json
    import sys

    import time
    import machine  # noqa: F401  (imported while the host directory is still mounted)
    import esp32
    import network  # noqa: F401
    import select  # noqa: F401  (select.poll on the virtual clock, sim/mpy/select.py: asyncio waits in it)
    import socket  # noqa: F401  (the gated one, sim/mpy/socket.py)
    import usocket  # noqa: F401
    import _irq  # noqa: F401  (machine.Timer, Pin.irq: loaded on first use elsewhere, here before the unmount)
    import _uart  # noqa: F401  (machine.UART: likewise)
    import vfs
    import os

    info = json.loads(_hwbus.call(_hwbus.BOOT_INFO))
    mode = info["mode"]
    _hwbus.call(_hwbus.EVENT, b"boot:up")
    vfs.umount("/")
    bdev = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    bdev = bdev[0] if bdev else None
    try:
        vfs.mount(bdev, "/")
    except OSError:
        # inisetup.check_bootsec: only a blank partition is formatted; anything else is reported, never erased.
        buf = bytearray(4096)
        bdev.readblocks(0, buf)
        if buf != b"\xff" * len(buf):
            _hwbus.call(_hwbus.EVENT, b"fs:corrupted")
            while True:
                print("The filesystem appears to be corrupted. If you had important data there, you\n"
                      "may want to make a flash snapshot to try and recover it. Otherwise, perform\n"
                      "factory reprogramming of MicroPython firmware (completely erase flash, followed\n"
                      "by firmware programming).\n")
                if mode == "headless":
                    raise SystemExit(3)
                time.sleep(3)
        print("Performing initial setup")
        vfs.VfsLfs2.mkfs(bdev)
        vfs.mount(bdev, "/")
        with open("/boot.py", "w") as f:
            f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n"
                    "#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n")
        _hwbus.call(_hwbus.EVENT, b"fs:formatted")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    _hwbus.call(_hwbus.EVENT, b"boot:mounted")
    for name in ("boot.py", "main.py"):
        if name == "main.py" and mode == "raw":
            break  # main.py runs only when the board starts in the friendly REPL (ports/esp32/main.c)
        try:
            os.stat(name)
        except OSError:
            continue
        try:
            execfile(name, g)
        except SystemExit:
            raise
        except BaseException as e:
            sys.print_exception(e)


_start()
