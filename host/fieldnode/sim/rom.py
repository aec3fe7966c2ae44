"""The ESP32-family ROM serial bootloader ("download mode"), as seen from the serial port, over a virtual flash.

A virtual board hands every byte the host sends to ``RomBootloader.feed`` and sends back what it returns. The
model speaks the protocol in Espressif's esptool documentation, "Serial Protocol" (cited by section below), well
enough for an unmodified esptool: chip detection, MAC, flash ID, writing (plain and deflated), MD5 verification,
erasing, reading, baud-rate changes and the run/reset commands.

The stub loader. By default esptool uploads its "flasher stub" into RAM (MEM_BEGIN/MEM_DATA/MEM_END) and the stub
announces itself with the unsolicited packet "OHAI" ("Initial Synchronisation"). The model cannot execute Xtensa
or RISC-V code, so when MEM_END jumps to an entry point inside code just uploaded it takes that code to be the
stub and from then on answers as the stub does: two status bytes instead of four, raw MD5 digests, the stub-only
commands (ERASE_FLASH, ERASE_REGION, READ_FLASH, RUN_USER_CODE) and erase-as-you-write ("Writing Data"). With
``--no-stub`` esptool talks to the ROM model throughout, which erases on FLASH_BEGIN and refuses the stub-only
commands as a real ROM does. Both paths run in the tests.

Leaving download mode: FLASH_END / FLASH_DEFL_END sent to the ROM ("run user code" or "reboot") and the stub's
RUN_USER_CODE set ``reboot_requested``; the board then boots the firmware. A hard reset through DTR/RTS is the
board's business. FLASH_END with "reboot" sent to the stub restarts the ROM loader (esptool's ``--after
no-reset``): the stub is gone and the ROM answers again.
"""

import hashlib
import struct
import zlib

from . import slip
from .flash import SECTOR, FlashImage
from .romchips import CHIPS, ROM_BAUD, Registers

# Command opcodes ("Serial Protocol" > "Commands").
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5 = 0x10, 0x11, 0x12, 0x13
GET_SECURITY_INFO = 0x14
ERASE_FLASH, ERASE_REGION, READ_FLASH, RUN_USER_CODE = 0xD0, 0xD1, 0xD2, 0xD3

# ROM loader errors ("Status bytes" > "ROM Loader Errors").
ROM_INVALID_MSG, ROM_FAILED, ROM_BAD_CRC, ROM_WRITE_ERR, ROM_READ_ERR, ROM_READ_LEN, ROM_DEFLATE = (
    0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B)
# Stub loader errors ("Software Loader Status & Error": 0xC*, 0xFF for an unimplemented command).
STUB_BAD_LEN, STUB_BAD_CHECKSUM, STUB_SPI_FAILED, STUB_NOT_FLASHING, STUB_INFLATE, STUB_TOO_MUCH = (
    0xC0, 0xC1, 0xC4, 0xC6, 0xC7, 0xC9)
STUB_UNIMPLEMENTED = 0xFF

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32
SYNC_VALUE = 0x55201207  # what a ROM puts in the value field of its SYNC answers ("Tracing ..." example trace)
SYNC_ANSWERS = 8  # a ROM answers one SYNC several times; esptool reads eight answers per SYNC it sends
OHAI = b"OHAI"


class _Reject(Exception):
    """A command refused with a protocol error code."""

    def __init__(self, rom_code: int, stub_code: int):
        super().__init__(rom_code, stub_code)
        self.rom_code = rom_code
        self.stub_code = stub_code


def checksum(data: bytes) -> int:
    """The _DATA commands' checksum: 0xEF XOR every byte of the data to write ("Checksum")."""
    c = 0xEF
    for b in data:
        c ^= b
    return c


def download_banner(chip: str, cause: str = "POWERON_RESET", code: int = 0x1) -> bytes:
    """What the chip's ROM prints at 115200 baud when it boots into download mode (its boot log, as on real
    boards), for a board to send before the bootloader takes over the port."""
    if chip == "esp32":
        return (f"ets Jul 29 2019 12:21:46\r\n\r\nrst:{code:#x} ({cause}),"
                "boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n").encode()
    return (f"ESP-ROM:{chip}-20210327\r\nBuild:Mar 27 2021\r\nrst:{code:#x} ({cause}),"
            "boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n").encode()


class RomBootloader:
    """The serial bootloader of one chip over one flash image.

    ``feed(data)`` takes bytes from the host and returns the bytes the chip sends back. ``reboot_requested``
    becomes True when the host asks to leave the loader and run the firmware. ``stub_running`` tells whether
    esptool's flasher stub has been "started". ``log`` lists (command name, outcome) pairs for diagnostics.
    """

    def __init__(self, flash: FlashImage, chip: str, mac: bytes):
        if chip not in CHIPS:
            raise ValueError(f"unknown chip {chip!r}: one of {sorted(CHIPS)}")
        self.flash = flash
        self.chip = CHIPS[chip]
        self.regs = Registers(self.chip, mac, flash.size)
        self._decoder = slip.Decoder()
        self.reboot_requested = False
        self.stub_running = False
        self.baudrate = ROM_BAUD
        self.log: list[tuple[str, str]] = []
        self._ram: dict[int, bytes] = {}
        self._mem = None  # (offset, blocks, blocksize, next seq) of a RAM download
        self._write = None  # state of a flash download, see _begin_write
        self._reading = None  # state of a stub READ_FLASH transfer
        self.declared_flash_size = None

    # -- the wire -----------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for pkt in self._decoder.feed(data):
            out += self._packet(pkt)
        return bytes(out)

    def reset(self) -> None:
        """A chip reset into download mode: the stub and any transfer in progress are gone."""
        self.__init__(self.flash, self.chip.name, self.regs.mac)

    def _packet(self, pkt: bytes) -> bytes:
        if self._reading is not None:
            return self._read_flash_ack(pkt)
        if len(pkt) < 8 or pkt[0] != 0x00:
            return b""  # not a request: a ROM ignores it
        _, op, size, chk = struct.unpack("<BBHI", pkt[:8])
        body = pkt[8:]
        if op == SYNC:
            return self._sync(body)
        if size != len(body):
            return self._error(op, ROM_INVALID_MSG, STUB_BAD_LEN)
        handler = self._handlers().get(op)
        if handler is None:
            self.log.append((f"op {op:#04x}", "unsupported"))
            return self._error(op, ROM_INVALID_MSG, STUB_UNIMPLEMENTED)
        try:
            result = handler(body, chk)
        except _Reject as r:
            self.log.append((handler.__name__.lstrip("_"), f"error {r.rom_code:#x}/{r.stub_code:#x}"))
            return self._error(op, r.rom_code, r.stub_code)
        except (struct.error, IndexError):
            return self._error(op, ROM_INVALID_MSG, STUB_BAD_LEN)
        self.log.append((handler.__name__.lstrip("_"), "ok"))
        if result is None:
            return b""  # a command that sends no answer (RUN_USER_CODE)
        if isinstance(result, _Raw):
            return result[0]
        value, payload = result
        return self._response(op, value, payload)

    def _handlers(self):
        h = {
            FLASH_BEGIN: self._flash_begin, FLASH_DATA: self._flash_data, FLASH_END: self._flash_end,
            MEM_BEGIN: self._mem_begin, MEM_DATA: self._mem_data, MEM_END: self._mem_end,
            WRITE_REG: self._write_reg, READ_REG: self._read_reg, SPI_SET_PARAMS: self._spi_set_params,
            SPI_ATTACH: self._spi_attach, CHANGE_BAUDRATE: self._change_baudrate,
            FLASH_DEFL_BEGIN: self._flash_defl_begin, FLASH_DEFL_DATA: self._flash_data,
            FLASH_DEFL_END: self._flash_end, SPI_FLASH_MD5: self._md5,
        }
        if self.chip.security_info:
            h[GET_SECURITY_INFO] = self._security_info
        if self.stub_running:
            h.update({ERASE_FLASH: self._erase_flash, ERASE_REGION: self._erase_region,
                      READ_FLASH: self._read_flash, RUN_USER_CODE: self._run_user_code})
        else:
            h[READ_FLASH_SLOW] = self._read_flash_slow
        return h

    def _status(self, ok: bool, code: int = 0) -> bytes:
        """The status bytes: two from the stub, four from the ROM ("Status bytes")."""
        st = bytes([0 if ok else 1, code])
        return st if self.stub_running else st + b"\x00\x00"

    def _response(self, op: int, value: int, payload: bytes) -> bytes:
        data = payload + self._status(True)
        return slip.encode(struct.pack("<BBHI", 0x01, op, len(data), value) + data)

    def _error(self, op: int, rom_code: int, stub_code: int) -> bytes:
        data = self._status(False, stub_code if self.stub_running else rom_code)
        return slip.encode(struct.pack("<BBHI", 0x01, op, len(data), 0) + data)

    def _reject(self, rom_code: int, stub_code: int):
        raise _Reject(rom_code, stub_code)

    # -- identity and registers ---------------------------------------------------------------------------------

    def _sync(self, body: bytes) -> bytes:
        if body != SYNC_PAYLOAD:
            return self._error(SYNC, ROM_INVALID_MSG, STUB_BAD_LEN)
        value = 0 if self.stub_running else SYNC_VALUE  # the stub answers 0: esptool's "stub already running"
        self.log.append(("sync", "ok"))
        return self._response(SYNC, value, b"") * SYNC_ANSWERS

    def _read_reg(self, body, chk):
        (addr,) = struct.unpack("<I", body[:4])
        return self.regs.read(addr), b""

    def _write_reg(self, body, chk):
        if not body or len(body) % 16:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        for i in range(0, len(body), 16):  # address, value, mask, delay (us); several writes may follow
            addr, value, mask, _delay = struct.unpack("<IIII", body[i: i + 16])
            self.regs.write(addr, value, mask)
        return 0, b""

    def _security_info(self, body, chk):
        # 32-bit flags, flash_crypt_cnt, 7 key purposes, 32-bit chip ID, 32-bit API version ("Commands",
        # GET_SECURITY_INFO): no security features enabled, as on a board fresh from the factory.
        return 0, struct.pack("<IB7BII", 0, 0, *([0] * 7), self.chip.image_chip_id, 0)

    def _change_baudrate(self, body, chk):
        new, _old = struct.unpack("<II", body[:8])
        if not 300 <= new <= 5_000_000:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        self.baudrate = new
        self.regs.set_baud(new)
        return 0, b""

    def _spi_attach(self, body, chk):
        # The ROM takes two words, the stub one ("SPI Attach command"); 0 is the default flash interface.
        return 0, b""

    def _spi_set_params(self, body, chk):
        _fid, total, _block, _sector, _page, _mask = struct.unpack("<IIIIII", body[:24])
        self.declared_flash_size = total
        return 0, b""

    # -- RAM download and the stub ------------------------------------------------------------------------------

    def _mem_begin(self, body, chk):
        size, blocks, blocksize, offset = struct.unpack("<IIII", body[:16])
        if blocksize == 0 or blocks * blocksize < size:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        self._mem = [offset, blocks, blocksize, 0]
        return 0, b""

    def _mem_data(self, body, chk):
        if self._mem is None:
            self._reject(ROM_FAILED, STUB_NOT_FLASHING)
        n, seq = struct.unpack("<II", body[:8])
        data = body[16:]
        if n != len(data) or n > self._mem[2]:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        if checksum(data) != chk & 0xFF:
            self._reject(ROM_BAD_CRC, STUB_BAD_CHECKSUM)
        if seq != self._mem[3]:
            self._reject(ROM_FAILED, STUB_BAD_LEN)
        self._ram[self._mem[0] + seq * self._mem[2]] = data
        self._mem[3] += 1
        return 0, b""

    def _mem_end(self, body, chk):
        no_exec, entry = struct.unpack("<II", body[:8])
        self._mem = None
        if no_exec or not any(a <= entry < a + len(d) for a, d in self._ram.items()):
            return 0, b""
        # The CPU jumps to the code just uploaded: esptool's flasher stub, which greets with OHAI.
        answer = self._response(MEM_END, 0, b"")
        self.stub_running = True
        self._ram.clear()
        self.log.append(("stub", "running"))
        return _Raw(answer + slip.encode(OHAI))

    # -- flash writes -------------------------------------------------------------------------------------------

    def _begin_write(self, erase_size, blocks, blocksize, offset, deflated):
        if blocksize == 0:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        if offset + erase_size > self.flash.size or offset + blocks * blocksize > self.flash.size and not deflated:
            self._reject(ROM_FAILED, STUB_SPI_FAILED)
        self._write = {"offset": offset, "pos": offset, "blocks": blocks, "blocksize": blocksize, "seq": 0,
                       "size": erase_size, "erased": set(),
                       "inflate": zlib.decompressobj() if deflated else None}
        if not self.stub_running and erase_size:
            # The ROM erases the whole region up front ("Writing Data").
            self._erase_sectors(offset, erase_size)

    def _flash_begin(self, body, chk):
        erase_size, blocks, blocksize, offset = struct.unpack("<IIII", body[:16])
        self._begin_write(erase_size, blocks, blocksize, offset, deflated=False)
        return 0, b""

    def _flash_defl_begin(self, body, chk):
        size, blocks, blocksize, offset = struct.unpack("<IIII", body[:16])
        self._begin_write(size, blocks, blocksize, offset, deflated=True)
        return 0, b""

    def _flash_data(self, body, chk):
        w = self._write
        if w is None:
            self._reject(ROM_FAILED, STUB_NOT_FLASHING)
        n, seq = struct.unpack("<II", body[:8])
        data = body[16:]
        if n != len(data):
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        if checksum(data) != chk & 0xFF:
            self._reject(ROM_BAD_CRC, STUB_BAD_CHECKSUM)
        if seq != w["seq"]:
            self._reject(ROM_FAILED, STUB_BAD_LEN)
        if w["inflate"] is not None:
            try:
                data = w["inflate"].decompress(data)
            except zlib.error:
                self._reject(ROM_DEFLATE, STUB_INFLATE)
            if self.stub_running and w["pos"] + len(data) > w["offset"] + w["size"]:
                self._reject(ROM_FAILED, STUB_TOO_MUCH)
        if w["pos"] + len(data) > self.flash.size:
            self._reject(ROM_WRITE_ERR, STUB_SPI_FAILED)
        self._program(w, data)
        w["seq"] += 1
        return 0, b""

    def _program(self, w, data: bytes) -> None:
        pos = w["pos"]
        if not data:
            return
        if self.stub_running:
            # The stub erases each sector just before it first writes into it ("Writing Data").
            for s in range(pos // SECTOR, (pos + len(data) - 1) // SECTOR + 1):
                if s not in w["erased"]:
                    self.flash.erase(s * SECTOR, SECTOR)
                    w["erased"].add(s)
        self.flash.program(pos, data)
        if self.flash.read(pos, len(data)) != data:
            # The ROM reads a block back after writing it ("ROM Loader Errors", 0x08 flash write error).
            self._reject(ROM_WRITE_ERR, STUB_SPI_FAILED)
        w["pos"] = pos + len(data)

    def _erase_sectors(self, offset: int, size: int) -> None:
        self.flash.erase(offset, size)

    def _flash_end(self, body, chk):
        (run_user_code,) = struct.unpack("<I", body[:4]) if len(body) >= 4 else (1,)
        self._write = None
        if not self.stub_running:
            self.reboot_requested = True  # the ROM leaves the loader either way: run the app, or reboot
            return 0, b""
        if run_user_code:
            return 0, b""  # the stub stays: this only marks the end of the write
        answer = self._response(FLASH_END, 0, b"")
        self.stub_running = False  # the stub resets the CPU, and the ROM loader starts again at its own baud rate
        self.baudrate = ROM_BAUD
        self.regs.set_baud(ROM_BAUD)
        self.log.append(("stub", "exited to ROM"))
        return _Raw(answer)

    # -- verification, reading, erasing -------------------------------------------------------------------------

    def _md5(self, body, chk):
        addr, size = struct.unpack("<II", body[:8])
        if addr + size > self.flash.size:
            self._reject(ROM_READ_ERR, STUB_SPI_FAILED)
        digest = hashlib.md5(self.flash.read(addr, size))
        # The ROM answers 32 hex digits, the stub 16 raw bytes ("Verifying Uploaded Data").
        return 0, digest.digest() if self.stub_running else digest.hexdigest().encode()

    def _read_flash_slow(self, body, chk):
        addr, size = struct.unpack("<II", body[:8])
        if size > 64:
            self._reject(ROM_READ_LEN, STUB_BAD_LEN)
        if addr + size > self.flash.size:
            self._reject(ROM_READ_ERR, STUB_SPI_FAILED)
        return 0, self.flash.read(addr, size).ljust(64, b"\xff")  # always a 64-byte buffer

    def _erase_flash(self, body, chk):
        self.flash.erase_all()
        return 0, b""

    def _erase_region(self, body, chk):
        offset, size = struct.unpack("<II", body[:8])
        if offset % SECTOR or size % SECTOR:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)  # both must be multiples of the sector size
        if offset + size > self.flash.size:
            self._reject(ROM_FAILED, STUB_SPI_FAILED)
        self.flash.erase(offset, size)
        return 0, b""

    def _read_flash(self, body, chk):
        offset, length, packet, inflight = struct.unpack("<IIII", body[:16])
        if packet == 0 or inflight == 0 or offset + length > self.flash.size:
            self._reject(ROM_INVALID_MSG, STUB_BAD_LEN)
        # "Reading Flash": an answer, then raw data packets, at most `inflight` unacknowledged; the host acks
        # each with the total it has received; after the last ack the stub sends the MD5 of what it read.
        self._reading = {"offset": offset, "length": length, "packet": packet, "inflight": inflight,
                         "sent": 0, "acked": 0, "md5": hashlib.md5()}
        return _Raw(self._response(READ_FLASH, 0, b"") + self._read_flash_send())

    def _read_flash_send(self) -> bytes:
        r = self._reading
        out = bytearray()
        while r["sent"] < r["length"] and (r["sent"] - r["acked"]) < r["inflight"] * r["packet"]:
            n = min(r["packet"], r["length"] - r["sent"])
            chunk = self.flash.read(r["offset"] + r["sent"], n)
            r["md5"].update(chunk)
            r["sent"] += n
            out += slip.encode(chunk)
        return bytes(out)

    def _read_flash_ack(self, pkt: bytes) -> bytes:
        r = self._reading
        if len(pkt) != 4:
            self._reading = None  # not an ack: the transfer is abandoned, the packet is a command again
            return self._packet(pkt)
        r["acked"] = max(r["acked"], struct.unpack("<I", pkt)[0])
        out = self._read_flash_send()
        if r["acked"] >= r["length"]:
            out += slip.encode(r["md5"].digest())
            self._reading = None
        return out

    def _run_user_code(self, body, chk):
        self.reboot_requested = True
        return None


class _Raw(tuple):
    """A handler result that is already the complete answer on the wire."""

    def __new__(cls, wire: bytes):
        return super().__new__(cls, (wire,))
