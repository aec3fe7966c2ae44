"""The ROM bootloader model byte by byte: framing, status formats, errors, ROM vs stub behaviour, flash semantics.

Expected values come from Espressif's "Serial Protocol" document (cited in fieldnode.sim.rom), not from the model.
"""

import hashlib
import struct
import zlib

import pytest
from fieldnode.sim import slip
from fieldnode.sim.flash import FlashImage, PowerCut
from fieldnode.sim.rom import RomBootloader, checksum
from fieldnode.sim.romchips import crc8_maxim
from hypothesis import given, settings
from hypothesis import strategies as st

MAC = bytes.fromhex("246f28a1b2c3")


def cmd(op, data=b"", chk=0):
    return slip.encode(struct.pack("<BBHI", 0, op, len(data), chk) + data)


def answers(wire):
    """Decoded responses: (op, value, data) for each response packet; raw packets as bytes."""
    out = []
    for p in slip.Decoder().feed(wire):
        if len(p) >= 8 and p[0] == 1:
            _, op, size, value = struct.unpack("<BBHI", p[:8])
            assert size == len(p) - 8, "size field must match the data length"
            out.append((op, value, p[8:]))
        else:
            out.append(p)
    return out


def one(rom, op, data=b"", chk=0):
    res = answers(rom.feed(cmd(op, data, chk)))
    assert len(res) == 1, res
    assert res[0][0] == op
    return res[0]


def data_cmd(payload, seq):
    return struct.pack("<IIII", len(payload), seq, 0, 0) + payload, checksum(payload)


@pytest.fixture
def flash(tmp_path):
    f = FlashImage(tmp_path / "flash.bin", 4 << 20)
    yield f
    f.close()


def rom_for(flash, chip="esp32"):
    return RomBootloader(flash, chip, MAC)


def start_stub(rom):
    code = b"\x01" * 64
    one(rom, 0x05, struct.pack("<IIII", len(code), 1, 0x1800, 0x40080000))
    one(rom, 0x07, *data_cmd(code, 0))
    res = answers(rom.feed(cmd(0x06, struct.pack("<II", 0, 0x40080004))))
    assert res[-1] == b"OHAI"
    assert rom.stub_running


# -- framing ---------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=5), st.integers(1, 7))
def test_slip_roundtrip_in_any_chunking(payloads, chunk):
    wire = b"garbage" + b"".join(slip.encode(p) for p in payloads)
    d = slip.Decoder()
    got = []
    for i in range(0, len(wire), chunk):
        got += d.feed(wire[i: i + chunk])
    assert got == payloads


def test_slip_escapes_both_special_bytes():
    assert slip.encode(b"\xc0\xdb\x01") == b"\xc0\xdb\xdc\xdb\xdd\x01\xc0"


# -- sync and identity -----------------------------------------------------------------------------------------

def test_sync_answers_eight_times_with_four_status_bytes_from_rom(flash):
    rom = rom_for(flash)
    res = answers(rom.feed(cmd(0x08, b"\x07\x07\x12\x20" + b"\x55" * 32)))
    assert len(res) == 8
    assert all(r[0] == 0x08 and r[1] != 0 and r[2] == b"\0\0\0\0" for r in res)


def test_bad_sync_payload_is_refused(flash):
    op, _, data = one(rom_for(flash), 0x08, b"\x07\x07\x12\x21" + b"\x55" * 32)
    assert data[:2] == b"\x01\x05"


def test_esp32_is_detected_by_magic_and_refuses_security_info(flash):
    rom = rom_for(flash, "esp32")
    assert one(rom, 0x0A, struct.pack("<I", 0x40001000))[1] == 0x00F01D83
    assert one(rom, 0x14)[2][:2] == b"\x01\x05"  # ESP32 ROM: invalid message


@pytest.mark.parametrize("chip,chip_id", [("esp32s3", 9), ("esp32c3", 5)])
def test_s3_c3_report_chip_id_in_security_info(flash, chip, chip_id):
    _, _, data = one(rom_for(flash, chip), 0x14)
    assert len(data) == 20 + 4 and data[20:22] == b"\0\0"
    assert struct.unpack("<IBBBBBBBBII", data[:20])[9] == chip_id


def test_esp32_efuse_mac_words_and_crc(flash):
    rom = rom_for(flash, "esp32")
    w1 = one(rom, 0x0A, struct.pack("<I", 0x3FF5A004))[1]
    w2 = one(rom, 0x0A, struct.pack("<I", 0x3FF5A008))[1]
    assert struct.pack(">II", w2, w1)[2:] == MAC
    assert (w2 >> 16) & 0xFF == crc8_maxim(MAC)


def test_crc8_matches_espidf_for_a_published_mac():
    # esp32.com thread 6743: IDF computed calc_crc = 0x3d for MAC 30:ae:a4:53:dc:b1.
    assert crc8_maxim(bytes.fromhex("30aea453dcb1")) == 0x3D


@pytest.mark.parametrize("chip,base,w0", [("esp32", 0x3FF42000, 0x80), ("esp32s3", 0x60002000, 0x58)])
def test_flash_jedec_id_through_spi_user_command(flash, chip, base, w0):
    rom = rom_for(flash, chip)
    usr, usr2, miso = (0x1C, 0x24, 0x2C) if chip == "esp32" else (0x18, 0x20, 0x28)

    def wr(addr, val):
        one(rom, 0x09, struct.pack("<IIII", addr, val, 0xFFFFFFFF, 0))

    wr(base + miso, 23)
    wr(base + usr, (1 << 31) | (1 << 28))
    wr(base + usr2, (7 << 28) | 0x9F)
    wr(base, 1 << 18)
    assert one(rom, 0x0A, struct.pack("<I", base))[1] & (1 << 18) == 0  # done
    ident = one(rom, 0x0A, struct.pack("<I", base + w0))[1] & 0xFFFFFF
    assert ident == 0xC8 | 0x40 << 8 | 22 << 16  # GigaDevice, 4 MiB = 2**22


def test_change_baudrate_updates_uart_divider(flash):
    rom = rom_for(flash, "esp32")
    one(rom, 0x0F, struct.pack("<II", 460800, 0))
    div = one(rom, 0x0A, struct.pack("<I", 0x3FF40014))[1] & 0xFFFFF
    assert div == 40_000_000 // 460800


# -- errors ----------------------------------------------------------------------------------------------------

def test_size_field_mismatch_is_invalid_message(flash):
    rom = rom_for(flash)
    wire = slip.encode(struct.pack("<BBHI", 0, 0x0A, 9, 0) + b"\0\0\0\0")
    assert answers(rom.feed(wire))[0][2][:2] == b"\x01\x05"


def test_unknown_and_stub_only_commands_refused_by_rom(flash):
    rom = rom_for(flash)
    for op in (0xD0, 0xD1, 0xD2, 0x77):
        assert one(rom, op)[2] == b"\x01\x05\0\0"


def test_bad_checksum_rom_and_stub_codes(flash):
    rom = rom_for(flash)
    one(rom, 0x02, struct.pack("<IIII", 0x1000, 1, 0x400, 0x10000))
    payload, chk = data_cmd(b"\xaa" * 0x400, 0)
    assert one(rom, 0x03, payload, chk ^ 1)[2][:2] == b"\x01\x07"
    start_stub(rom)
    one(rom, 0x02, struct.pack("<IIIII", 0x400, 1, 0x400, 0x10000, 0))
    assert one(rom, 0x03, payload, chk ^ 1)[2] == b"\x01\xc1"


def test_out_of_sequence_block_is_refused(flash):
    rom = rom_for(flash)
    one(rom, 0x02, struct.pack("<IIII", 0x2000, 2, 0x400, 0))
    assert one(rom, 0x03, *data_cmd(b"\x00" * 0x400, 1))[2][:2] == b"\x01\x06"


def test_write_without_erase_fails_readback_like_nor_flash(flash):
    flash.program(0x20000, b"\x00" * 0x400)  # bits already cleared: the ROM cannot write 0xAA there
    rom = rom_for(flash)
    one(rom, 0x02, struct.pack("<IIII", 0, 1, 0x400, 0x20000))  # erase size 0
    assert one(rom, 0x03, *data_cmd(b"\xaa" * 0x400, 0))[2][:2] == b"\x01\x08"


# -- writing, the stub, leaving ----------------------------------------------------------------------------------

def test_rom_erases_whole_region_on_begin(flash):
    flash.program(0x10000, b"\x00" * 0x3000)
    rom = rom_for(flash)
    one(rom, 0x02, struct.pack("<IIII", 0x3000, 3, 0x1000, 0x10000))
    assert flash.read(0x10000, 0x3000) == b"\xff" * 0x3000


def test_stub_erases_just_in_time_and_writes_deflated(flash):
    flash.program(0x10000, b"\x00" * 0x3000)
    rom = rom_for(flash)
    start_stub(rom)
    raw = bytes(range(256)) * 16  # 4 KiB: one sector
    comp = zlib.compress(raw)
    one(rom, 0x10, struct.pack("<IIIII", len(raw), 1, 0x4000, 0x10000, 0))
    assert flash.read(0x10000, 16) == b"\x00" * 16  # nothing erased yet
    assert one(rom, 0x11, *data_cmd(comp, 0))[2] == b"\0\0"
    assert flash.read(0x10000, len(raw)) == raw
    assert flash.read(0x11000, 16) == b"\x00" * 16  # the next sector was never touched
    _, _, md5 = one(rom, 0x13, struct.pack("<IIII", 0x10000, len(raw), 0, 0))
    assert md5[:16] == hashlib.md5(raw).digest() and md5[16:] == b"\0\0"


def test_rom_md5_is_hex(flash):
    rom = rom_for(flash)
    _, _, data = one(rom, 0x13, struct.pack("<IIII", 0, 4096, 0, 0))
    assert data[:32] == hashlib.md5(b"\xff" * 4096).hexdigest().encode() and len(data) == 36


def test_stub_sync_value_zero_and_two_status_bytes(flash):
    rom = rom_for(flash)
    start_stub(rom)
    res = answers(rom.feed(cmd(0x08, b"\x07\x07\x12\x20" + b"\x55" * 32)))
    assert len(res) == 8 and all(r[1] == 0 and r[2] == b"\0\0" for r in res)


def test_mem_end_without_uploaded_entry_does_not_start_stub(flash):
    rom = rom_for(flash)
    res = answers(rom.feed(cmd(0x06, struct.pack("<II", 0, 0x40080000))))
    assert len(res) == 1 and not rom.stub_running


def test_leaving_the_loader(flash):
    rom = rom_for(flash)
    start_stub(rom)
    one(rom, 0x02, struct.pack("<IIIII", 0, 0, 0x4000, 0, 0))
    one(rom, 0x04, struct.pack("<I", 1))  # stub: end of write, stays
    assert rom.stub_running and not rom.reboot_requested
    one(rom, 0x04, struct.pack("<I", 0))  # stub: "reboot" restarts the ROM loader
    assert not rom.stub_running and not rom.reboot_requested
    one(rom, 0x02, struct.pack("<IIII", 0, 0, 0x400, 0))
    one(rom, 0x04, struct.pack("<I", 1))  # ROM: run user code
    assert rom.reboot_requested


def test_stub_read_flash_with_acks_and_md5(flash):
    content = bytes(range(256)) * 40
    flash.write(0x30000, content)
    rom = rom_for(flash)
    start_stub(rom)
    res = answers(rom.feed(cmd(0xD2, struct.pack("<IIII", 0x30000, len(content), 0x1000, 2))))
    assert res[0][0] == 0xD2
    got = [p for p in res[1:]]
    assert len(got) == 2  # no more than two packets in flight
    received = b"".join(got)
    while True:
        more = answers(rom.feed(slip.encode(struct.pack("<I", len(received)))))
        if len(received) == len(content):
            assert more == [hashlib.md5(content).digest()]
            break
        received += b"".join(more)
    assert received == content


def test_stub_erase_region_requires_sector_multiples(flash):
    rom = rom_for(flash)
    start_stub(rom)
    assert one(rom, 0xD1, struct.pack("<II", 0x1000, 0x800))[2] == b"\x01\xc0"
    flash.program(0x2000, b"\x00" * 16)
    assert one(rom, 0xD1, struct.pack("<II", 0x2000, 0x1000))[2] == b"\0\0"
    assert flash.read(0x2000, 16) == b"\xff" * 16


def test_power_cut_during_write_leaves_earlier_pages(flash):
    rom = rom_for(flash)
    one(rom, 0x02, struct.pack("<IIII", 0x1000, 1, 0x1000, 0x40000))
    pages = []

    def hook(off, n):
        pages.append(off)
        if len(pages) == 3:
            raise PowerCut()

    flash.write_hook = hook
    with pytest.raises(PowerCut):
        rom.feed(cmd(0x03, *data_cmd(b"\x5a" * 0x1000, 0)))
    assert flash.read(0x40000, 0x200) == b"\x5a" * 0x200 and flash.read(0x40200, 16) == b"\xff" * 16
