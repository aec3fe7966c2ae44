"""``fieldnode flash`` end to end through the CLI entry point, against the ROM bootloader model."""

import json

import pytest
from fieldnode import espimage
from fieldnode.cli import main
from fieldnode.sim.flash import FlashImage
from fieldnode.sim.rom import RomBootloader
from fieldnode.sim.romserve import SocketPort


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))


@pytest.fixture
def esp32(tmp_path):
    flash = FlashImage(tmp_path / "flash.bin", 16 << 20)
    port = SocketPort(RomBootloader(flash, "esp32", bytes.fromhex("246f28010203")).feed).start()
    yield port.url, flash
    port.stop()
    flash.close()


def test_flash_json(esp32, tmp_path, capsys):
    url, flash = esp32
    fw = tmp_path / "fw.bin"
    fw.write_bytes(espimage.build_firmware("esp32", "v1.24.1"))
    rc = main(["flash", "--board", "m5stack-core2", "--port", url, "--firmware", str(fw), "--after", "no-reset",
               "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    r = json.loads(out)
    assert r["chip"] == "esp32" and r["offset"] == "0x1000" and r["verified"] and r["mac"] == "24:6f:28:01:02:03"
    assert r["repl"] is None  # --after no-reset: no reset, so no REPL wait
    assert "write" in err and "verify" in err  # progress went to stderr
    assert flash.read(0x1000, fw.stat().st_size) == fw.read_bytes()


def test_flash_errors_are_one_line_with_exit_codes(esp32, tmp_path, capsys):
    url, flash = esp32
    s3 = tmp_path / "s3.bin"
    s3.write_bytes(espimage.build_firmware("esp32s3"))
    cases = [
        (["--board", "m5stack-core2", "--port", url, "--firmware", str(s3)], 2, "is for esp32s3"),
        (["--board", "lilygo-t-sim7080g-s3", "--port", url, "--firmware", str(s3)], 4, "but board lilygo"),
        (["--board", "m5stack-core2", "--port", "/dev/ttyNOPE0", "--firmware", str(tmp_path / "x.bin")], 2,
         "not found"),
        (["--board", "no-such-board", "--port", url], 3, "no board named"),
    ]
    for args, code, text in cases:
        assert main(["flash", *args, "--after", "no-reset"]) == code, args
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and text in err[-1], err
