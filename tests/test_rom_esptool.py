"""Unmodified esptool (its Python API, esptool.main, and the installed command) against the ROM bootloader model,
served on a local TCP port as a socket:// serial port."""

import subprocess
import sys
from pathlib import Path

import esptool
import pytest
from esptool import cmds
from fieldnode import espimage
from fieldnode.sim.flash import FlashImage
from fieldnode.sim.rom import RomBootloader
from fieldnode.sim.romserve import SocketPort

MAC = bytes.fromhex("246f28a1b2c3")
ESPTOOL = str(Path(sys.executable).parent / "esptool")
NO_RESET = ["--before", "no-reset", "--after", "no-reset"]


@pytest.fixture
def board(tmp_path):
    """A ROM bootloader for a chosen chip on a socket:// port: board("esp32s3") -> (url, rom, flash)."""
    made = []

    def make(chip="esp32", size=4 << 20):
        flash = FlashImage(tmp_path / f"{chip}-{len(made)}.bin", size)
        rom = RomBootloader(flash, chip, MAC)
        port = SocketPort(rom.feed).start()
        made.append((port, flash))
        return port.url, rom, flash

    yield make
    for port, flash in made:
        port.stop()
        assert port.error is None, f"the ROM model raised: {port.error!r}"
        flash.close()


def firmware_file(tmp_path, chip, version="v1.24.1"):
    p = tmp_path / f"fw-{chip}.bin"
    p.write_bytes(espimage.build_firmware(chip, version))
    return p


@pytest.mark.parametrize("chip,name", [("esp32", "ESP32"), ("esp32s3", "ESP32-S3"), ("esp32c3", "ESP32-C3")])
def test_api_detects_chip_mac_and_flash_id(board, chip, name):
    url, rom, _ = board(chip, 8 << 20)
    with cmds.detect_chip(url, connect_mode="no-reset", connect_attempts=2) as esp:
        assert esp.CHIP_NAME == name
        assert bytes(esp.read_mac()) == MAC
        esp = cmds.run_stub(esp)
        assert rom.stub_running
        cmds.attach_flash(esp)
        assert esp.flash_id() & 0xFF == 0xC8
        assert cmds.detect_flash_size(esp) == "8MB"


def test_api_write_verify_erase_with_stub(board, tmp_path):
    url, rom, flash = board("esp32s3")
    fw = firmware_file(tmp_path, "esp32s3")
    data = fw.read_bytes()
    with cmds.detect_chip(url, connect_mode="no-reset", connect_attempts=2) as esp:
        esp = cmds.run_stub(esp)
        cmds.attach_flash(esp)
        cmds.write_flash(esp, [(0x0, str(fw))])
        assert flash.read(0, len(data)) == data
        cmds.verify_flash(esp, [(0x0, str(fw))])
        cmds.erase_flash(esp)
        assert flash.read(0, 4096) == b"\xff" * 4096
        with pytest.raises(esptool.FatalError, match="Verification failed"):
            cmds.verify_flash(esp, [(0x0, str(fw))])


def test_main_rom_only_write_and_verify(board, tmp_path, capsys):
    url, rom, flash = board("esp32")
    fw = firmware_file(tmp_path, "esp32")
    esptool.main(["--port", url, *NO_RESET, "--no-stub", "write-flash", "0x1000", str(fw)])
    esptool.main(["--port", url, *NO_RESET, "--no-stub", "verify-flash", "0x1000", str(fw)])
    assert not rom.stub_running
    assert flash.read(0x1000, fw.stat().st_size) == fw.read_bytes()
    assert "digest matched" in capsys.readouterr().out


def test_image_for_another_chip_is_refused_and_flash_untouched(board, tmp_path, capsys):
    url, rom, flash = board("esp32")
    before = flash.read(0, 0x20000)
    fw = firmware_file(tmp_path, "esp32s3")
    with pytest.raises(esptool.FatalError, match="is not an ESP32 image"):
        esptool.main(["--port", url, *NO_RESET, "write-flash", "0x1000", str(fw)])
    assert flash.read(0, 0x20000) == before


def test_esptool_command_line(board, tmp_path):
    """The installed esptool command, one run per verb, each a fresh process as a user would run it."""
    url, rom, flash = board("esp32")
    fw = firmware_file(tmp_path, "esp32")
    size = fw.stat().st_size

    def run(*args):
        p = subprocess.run([ESPTOOL, "--port", url, *NO_RESET, *args], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    assert "ESP32-D0WD" in run("chip-id")
    assert "24:6f:28:a1:b2:c3" in run("read-mac")
    assert "Detected flash size: 4MB" in run("flash-id")
    run("write-flash", "0x1000", str(fw))
    assert flash.read(0x1000, size) == fw.read_bytes()
    run("erase-flash")
    assert flash.read(0x1000, size) == b"\xff" * size
    run("write-flash", "--no-compress", "0x1000", str(fw))
    assert flash.read(0x1000, size) == fw.read_bytes()
    assert "digest matched" in run("verify-flash", "0x1000", str(fw))
    assert not rom.reboot_requested  # --after no-reset: still in the loader
