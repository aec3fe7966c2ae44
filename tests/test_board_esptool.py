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
