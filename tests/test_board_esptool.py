"""esptool's own reset sequence over RFC 2217 puts the virtual board into the ROM bootloader and back."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from fieldnode.sim.board import VirtualBoard

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.xdist_group("board-esptool")


def test_esptool_erase_flash_over_rfc2217_wipes_files_and_reboots_micropython(tmp_path):
    pytest.importorskip("fieldnode.sim.rom")
    b = VirtualBoard("m5stack-atom-lite", flash_dir=tmp_path)
    try:
        b.put_files({"keep.txt": "field notes"})
        b.start()
        r = subprocess.run([str(BIN / "esptool"), "--port", b.url, "erase-flash"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ESP32" in r.stdout and "Hard resetting via RTS pin" in r.stdout
        assert any(e["kind"] == "download_mode" for e in b.events)
        end = time.monotonic() + 10
        while time.monotonic() < end and not any(e.get("text") == "fs:formatted" for e in b.events):
            time.sleep(0.05)
        out = subprocess.run([str(BIN / "mpremote"), "connect", b.url, "exec",
                              "import os, machine; print(os.listdir('/'), machine.reset_cause())"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "['boot.py'] 1" in out.stdout  # a fresh filesystem after the erase; EN reset reads as power-on
    finally:
        b.close()


def test_a_refused_flash_leaves_the_board_running_micropython(tmp_path):
    # The board file is for an ESP32-S3, the virtual board is an ESP32: fieldnode flash refuses after connecting
    # (esptool put the chip in its bootloader), and must reset it back to MicroPython, not leave it there.
    from fieldnode import espimage, flash
    from fieldnode.device import connect
    from fieldnode.errors import DeviceError

    b = VirtualBoard("m5stack-atom-lite", flash_dir=tmp_path / "flash")
    image = tmp_path / "mp-esp32s3.bin"
    image.write_bytes(espimage.build_firmware("esp32s3", "v1.24.1"))
    try:
        b.start()
        seen = []
        with pytest.raises(DeviceError, match="but board lilygo-t-sim7080g-s3 has an ESP32-S3"):
            flash.flash(b.url, "lilygo-t-sim7080g-s3", image, progress=lambda d, t, s: seen.append((s, d)))
        assert seen[0] == ("connect", 0)  # on screen before the bootloader sync
        assert any(e["kind"] == "download_mode" for e in b.events)
        with connect(b.port, timeout=20) as dev:  # MicroPython answers again, no RESET button needed
            assert dev.exec("print(6 * 7)").strip() == "42"
    finally:
        b.close()
