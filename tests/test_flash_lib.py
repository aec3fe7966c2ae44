"""fieldnode.flash against the ROM bootloader model on a socket:// port: the happy path and every refusal."""

import os
import time
from types import SimpleNamespace

import pytest
import serial
from fieldnode import boards, espimage, firmware
from fieldnode import flash as fl
from fieldnode.errors import DeviceError, UsageError
from fieldnode.sim.flash import FlashImage
from fieldnode.sim.rom import RomBootloader
from fieldnode.sim.romserve import SocketPort

MAC = bytes.fromhex("246f28a1b2c3")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def serve(tmp_path):
    made = []

    def make(chip, size, handler=None):
        flash = FlashImage(tmp_path / f"flash-{len(made)}.bin", size)
        rom = RomBootloader(flash, chip, MAC)
        port = SocketPort(handler or rom.feed).start()
        made.append((port, flash))
        return port.url, rom, flash

    yield make
    for port, flash in made:
        port.stop()
        assert port.error is None, repr(port.error)
        flash.close()


def fw(tmp_path, chip, version="v1.24.1"):
    p = tmp_path / f"mp-{chip}-{version}.bin"
    p.write_bytes(espimage.build_firmware(chip, version))
    return p


@pytest.mark.parametrize("board,chip,size,offset", [("m5stack-core2", "esp32", 16 << 20, 0x1000),
                                                    ("lilygo-t-sim7080g-s3", "esp32s3", 16 << 20, 0x0)])
def test_flash_writes_at_board_offset_and_keeps_files(serve, tmp_path, board, chip, size, offset):
    url, rom, flash = serve(chip, size)
    files = b"littlefs blocks" * 100
    flash.write(0x200000, files)  # the vfs partition: a flash without --erase must not touch it
    image = fw(tmp_path, chip)
    seen = []
    r = fl.flash(url, board, image, progress=lambda d, t, s: seen.append((s, d, t)), after="no-reset")
    data = image.read_bytes()
    assert flash.read(offset, len(data)) == data
    assert flash.read(0x200000, len(files)) == files
    assert r.chip == chip and r.mac == "24:6f:28:a1:b2:c3" and r.offset == offset and r.verified
    assert r.firmware_version == "v1.24.1" and r.flash_size == "16MB"
    stages = [s for s, _, _ in seen]
    assert "write" in stages and stages[-1] == "verify" and seen[-1][1] == seen[-1][2]


def test_erase_wipes_the_filesystem(serve, tmp_path):
    url, rom, flash = serve("esp32", 16 << 20)
    flash.write(0x200000, b"old files" * 10)
    fl.flash(url, "m5stack-core2", fw(tmp_path, "esp32"), erase=True, after="no-reset")
    assert flash.read(0x200000, 90) == b"\xff" * 90


def test_wrong_chip_for_board_is_refused_and_nothing_written(serve, tmp_path):
    url, rom, flash = serve("esp32c3", 4 << 20)
    before = flash.read(0, 0x20000)
    with pytest.raises(DeviceError, match="ESP32-C3, but board m5stack-core2 has an ESP32") as e:
        fl.flash(url, "m5stack-core2", fw(tmp_path, "esp32"), after="no-reset")
    assert e.value.code == 4
    assert flash.read(0, 0x20000) == before


def test_firmware_for_another_chip_refused_before_connecting(serve, tmp_path):
    url, rom, flash = serve("esp32", 16 << 20)
    with pytest.raises(UsageError, match="is for esp32s3, but the board has an esp32"):
        fl.flash(url, "m5stack-core2", fw(tmp_path, "esp32s3"))
    assert rom.log == []  # the board was never spoken to


def test_flash_smaller_than_board_file_says(serve, tmp_path):
    url, rom, flash = serve("esp32", 4 << 20)
    with pytest.raises(DeviceError, match="has 4MB of flash, but board m5stack-core2 says 16MB"):
        fl.flash(url, "m5stack-core2", fw(tmp_path, "esp32"), after="no-reset")


def test_missing_firmware_and_empty_cache(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        fl.flash("socket://127.0.0.1:1", "m5stack-core2", tmp_path / "nope.bin")
    with pytest.raises(UsageError, match="none in the cache") as e:
        fl.flash("socket://127.0.0.1:1", "m5stack-core2")
    assert "fieldnode firmware add" in e.value.hint


def test_cached_firmware_is_used_when_none_given(serve, tmp_path):
    firmware.add(fw(tmp_path, "esp32", "v1.23.0"))
    url, rom, flash = serve("esp32", 16 << 20)
    r = fl.flash(url, "m5stack-core2", after="no-reset")
    assert r.firmware_version == "v1.23.0"
    assert flash.read(0x1000, 1) == b"\xe9"


def test_no_such_port(tmp_path):
    with pytest.raises(DeviceError, match="no such port: /dev/ttyNOPE9"):
        fl.flash("/dev/ttyNOPE9", "m5stack-core2", fw(tmp_path, "esp32"))


def test_nothing_listening(tmp_path):
    with pytest.raises(DeviceError, match="nothing listens"):
        fl.check_port("socket://127.0.0.1:9")


def test_port_busy(tmp_path):
    master, slave = os.openpty()
    name = os.ttyname(slave)
    holder = serial.Serial(name, exclusive=True)
    try:
        with pytest.raises(DeviceError, match="busy") as e:
            fl.flash(name, "m5stack-core2", fw(tmp_path, "esp32"))
        assert "close the serial monitor" in e.value.hint
    finally:
        holder.close()
        os.close(master)
        os.close(slave)


def test_not_an_esp_chip(serve, tmp_path):
    url, rom, flash = serve("esp32", 16 << 20, handler=lambda data: b"")  # a device that never answers SYNC
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="no ESP chip answered") as e:
        fl.flash(url, "m5stack-core2", fw(tmp_path, "esp32"), connect_attempts=1)
    print(f"gave up after {time.monotonic() - t0:.2f} s")
    assert "download mode" in e.value.hint


def test_find_port_by_usb_id(monkeypatch):
    ports = []
    monkeypatch.setattr(fl.serial.tools.list_ports, "comports", lambda: ports)
    core2 = boards.load("m5stack-core2")["usb"]
    vid, pid = int(core2["vid"], 0), int(core2["pid"], 0)
    with pytest.raises(DeviceError, match=f"no port with USB id {vid:04x}:{pid:04x}"):
        fl.find_port("m5stack-core2")
    c3 = boards.load("esp32-c3-devkitm")["usb"]
    ports.append(SimpleNamespace(device="/dev/ttyACM0", vid=int(c3["vid"], 0), pid=int(c3["pid"], 0)))
    ports.append(SimpleNamespace(device="/dev/ttyUSB0", vid=vid, pid=pid))
    assert fl.find_port("m5stack-core2") == "/dev/ttyUSB0"
    assert fl.find_port("esp32-c3-devkitm") == "/dev/ttyACM0"
    ports.append(SimpleNamespace(device="/dev/ttyUSB1", vid=vid, pid=pid))
    with pytest.raises(DeviceError, match="2 ports match m5stack-core2"):
        fl.find_port("m5stack-core2")
