"""The ROM bootloader model behind the virtual board's real port types: a pseudo-terminal, and RFC 2217 with
esptool's own DTR/RTS reset sequence driving a model of the ESP32 dev-board auto-reset circuit."""

import threading

import pytest
from esptool import cmds
from fieldnode import espimage
from fieldnode import flash as fl
from fieldnode.sim.flash import FlashImage
from fieldnode.sim.rom import RomBootloader, download_banner
from fieldnode.sim.serialport import PtyPort, Rfc2217Server

MAC = bytes.fromhex("246f28a1b2c3")


@pytest.fixture
def flash(tmp_path):
    f = FlashImage(tmp_path / "flash.bin", 16 << 20)
    yield f
    f.close()


def test_esptool_over_a_pty(flash, tmp_path):
    rom = RomBootloader(flash, "esp32", MAC)
    port = PtyPort(lambda data: port.write(rom.feed(data)))
    try:
        with cmds.detect_chip(port.path, connect_mode="no-reset", connect_attempts=2) as esp:
            assert esp.CHIP_NAME == "ESP32" and bytes(esp.read_mac()) == MAC
            esp = cmds.run_stub(esp)
            cmds.attach_flash(esp)
            data = espimage.build_firmware("esp32")
            cmds.write_flash(esp, [(0x1000, data)])
            cmds.verify_flash(esp, [(0x1000, data)])
        assert flash.read(0x1000, len(data)) == data
    finally:
        port.close()


class AutoResetBoard:
    """The two-transistor circuit of ESP32 dev boards (ESP32-DevKitC schematic): RTS drives EN low and DTR drives
    GPIO0 low, each only while the other line is not asserted. The RC on EN delays the chip's start, so GPIO0
    pulled low shortly after EN is released still selects download mode (over RFC 2217 the two line changes of
    esptool's reset arrive tens of ms apart; Espressif's esp_rfc2217_server works around the same thing). With
    GPIO0 high the chip boots the "firmware", which answers every input with a REPL prompt."""

    WINDOW_S = 1.0

    def __init__(self, flash):
        self.flash = flash
        self.rom = None
        self.mode = "off"
        self.boots = []
        self._en_low = False
        self._pending = None
        self._lock = threading.Lock()
        self.port = Rfc2217Server(self.on_input, self.on_lines)

    def on_lines(self, dtr, rts):
        with self._lock:
            en_low, gpio0_low = rts and not dtr, dtr and not rts
            if en_low:
                self.mode, self.rom, self._pending = "reset", None, None
            elif self._en_low:  # EN released: the chip starts after the RC delay
                self._pending = threading.Timer(self.WINDOW_S, self._boot_firmware)
                self._pending.start()
            if gpio0_low and self._pending is not None:
                self._pending.cancel()
                self._pending = None
                self.mode, self.rom = "download", RomBootloader(self.flash, "esp32", MAC)
                self.boots.append("download")
                self.port.write(download_banner("esp32", "POWERON_RESET"))
            self._en_low = en_low

    def _boot_firmware(self):
        with self._lock:
            self._pending = None
            self.mode, self.rom = "firmware", None
            self.boots.append("firmware")

    def on_input(self, data):
        with self._lock:
            rom, mode = self.rom, self.mode
        if rom is not None:
            out = rom.feed(data)
            if out:
                self.port.write(out)
        elif mode == "firmware":
            self.port.write(b"\r\nMicroPython v1.24.1 on 2026-01-01; Generic ESP32 module with ESP32\r\n>>> ")


def test_esptool_reset_sequence_over_rfc2217(flash):
    """esptool's own DTR/RTS sequences: classic reset into download mode, hard reset into the firmware. (Whole
    flash runs over RFC 2217 are slow, about 0.1 s per command, because pyserial's client renegotiates the port
    settings each time esptool changes its timeout; they run over socket:// and the pty above.)"""
    board = AutoResetBoard(flash)
    try:
        esp = cmds.detect_chip(board.port.url, connect_attempts=2)  # default-reset
        try:
            assert esp.CHIP_NAME == "ESP32" and board.boots == ["download"]
            assert bytes(esp.read_mac()) == MAC
            cmds.reset_chip(esp, "hard-reset")
        finally:
            esp._port.close()
        assert fl.wait_for_repl(board.port.url, timeout=5)
        assert board.boots == ["download", "firmware"]
    finally:
        board.port.close()
