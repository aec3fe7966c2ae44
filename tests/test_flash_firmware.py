"""Firmware images and the firmware cache: chip from the header, no overwrites, clear refusals."""

import json
import os

import pytest
from esptool import cmds
from fieldnode import espimage, firmware
from fieldnode.cli import main
from fieldnode.errors import UsageError


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("chip", ["esp32", "esp32s3", "esp32c3"])
def test_built_images_are_valid_for_esptool_and_name_their_chip(tmp_path, chip, capsys):
    data = espimage.build_firmware(chip, "v1.25.0")
    cmds.image_info(data)  # esptool's own parser: header, checksum and SHA-256 must be valid
    out = capsys.readouterr().out
    assert "Checksum: 0x" in out and "(valid)" in out and "invalid" not in out
    info = espimage.inspect(data)
    assert info.chip == chip and info.version == "v1.25.0" and info.app["project"] == "micropython"
    assert espimage.CHIP_IDS[info.chip_id] == chip


def test_not_an_image_and_truncated():
    with pytest.raises(UsageError, match="not an ESP firmware image"):
        espimage.inspect(b"PK\x03\x04 a zip file, not firmware" * 2)
    with pytest.raises(UsageError, match="first byte nothing"):
        espimage.inspect(b"")


def test_add_reads_chip_and_deduplicates(tmp_path):
    p = write(tmp_path, "ESP32_GENERIC_S3-v1.24.1.bin", espimage.build_firmware("esp32s3"))
    e, added = firmware.add(p)
    assert added and e.chip == "esp32s3" and e.path.parent.name == "esp32s3"
    assert e.path.read_bytes() == p.read_bytes()
    e2, added2 = firmware.add(p)
    assert not added2 and e2.path == e.path
    assert [x.path for x in firmware.entries()] == [e.path]


def test_same_name_other_content_never_overwrites(tmp_path):
    a = firmware.add(write(tmp_path, "fw.bin", espimage.build_firmware("esp32", "v1.23.0")))[0]
    b = firmware.add(write(tmp_path, "fw.bin", espimage.build_firmware("esp32", "v1.24.1")))[0]
    assert a.path != b.path and a.path.exists() and b.path.exists()
    assert {e.version for e in firmware.entries("esp32")} == {"v1.23.0", "v1.24.1"}


def test_add_refuses_wrong_chip_and_non_images(tmp_path):
    p = write(tmp_path, "c3.bin", espimage.build_firmware("esp32c3"))
    with pytest.raises(UsageError, match="is for esp32c3 .* not esp32s3"):
        firmware.add(p, chip="esp32s3")
    with pytest.raises(UsageError, match="not an ESP firmware image"):
        firmware.add(write(tmp_path, "notes.txt", b"hello"))
    with pytest.raises(UsageError, match="not found"):
        firmware.add(tmp_path / "missing.bin")
    assert firmware.entries() == []


def test_stray_files_in_cache_are_ignored_not_deleted(tmp_path):
    firmware.add(write(tmp_path, "fw.bin", espimage.build_firmware("esp32")))
    stray = firmware.cache_dir() / "esp32" / "README"
    stray.write_text("mine")
    assert len(firmware.entries()) == 1 and stray.read_text() == "mine"


def test_resolve_prefers_newest_and_checks_chip(tmp_path):
    old = firmware.add(write(tmp_path, "a.bin", espimage.build_firmware("esp32", "v1.22.0")))[0]
    new = firmware.add(write(tmp_path, "b.bin", espimage.build_firmware("esp32", "v1.24.1")))[0]
    os.utime(old.path, (1_700_000_000, 1_700_000_000))
    path, info = firmware.resolve("esp32")
    assert path == new.path and info.version == "v1.24.1"
    with pytest.raises(UsageError, match="none in the cache"):
        firmware.resolve("esp32c3")


def test_cli_firmware_add_and_list(tmp_path, capsys):
    p = write(tmp_path, "ESP32_GENERIC_C3.bin", espimage.build_firmware("esp32c3", "v1.24.1"))
    assert main(["firmware", "add", str(p), "--chip", "esp32c3"]) == 0
    assert "added: esp32c3 v1.24.1" in capsys.readouterr().out
    assert main(["firmware", "add", str(p)]) == 0
    assert "already cached" in capsys.readouterr().out
    assert main(["firmware", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["chip"], r["version"], r["size"]) for r in rows] == [("esp32c3", "v1.24.1", p.stat().st_size)]
    assert main(["firmware", "add", str(p), "--chip", "esp32"]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["firmware", "list", "--chip", "esp32"]) == 0
    assert "no cached firmware for esp32" in capsys.readouterr().out
