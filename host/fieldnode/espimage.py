"""ESP firmware images: read what chip a firmware file is for, and build small well-formed ones for tests.

A MicroPython release for the ESP32 family (``ESP32_GENERIC-<date>-v1.xx.bin``) is the combined flash image
written at the board's firmware offset: the second-stage bootloader (an ESP image), the partition table at
flash 0x8000 and the application (another ESP image) at 0x10000. Formats, from Espressif's documents:

- esptool docs, "Firmware Image Format": 8-byte header (magic 0xE9, segment count, SPI mode, size/frequency,
  entry point), 16-byte extended header (WP pin, drive settings, **chip ID** at bytes 4-5, minimum revision,
  min/max full revision, reserved, hash-appended flag), segments (load address, length, data), zero padding to
  a 16-byte boundary less one, an XOR checksum byte seeded 0xEF, then the SHA-256 of the image if appended.
- ESP-IDF ``esp_chip_id_t``: ESP32 0x0000, ESP32-C3 0x0005, ESP32-S3 0x0009.
- ESP-IDF "Partition Tables": 32-byte entries (magic 0xAA 0x50, type, subtype, offset, size, 16-byte label,
  flags), then an MD5 entry (0xEB 0xEB, 14 x 0xFF, MD5 of the entries), 0xFF to the end of the sector.
- ESP-IDF "App Image Format", ``esp_app_desc_t`` at the start of the application's first segment: magic word
  0xABCD5432, secure version, 2 reserved words, version[32], project_name[32], time[16], date[16], idf_ver[32].
"""

import hashlib
import struct
from dataclasses import dataclass, field

from .errors import UsageError

IMAGE_MAGIC = 0xE9
APP_DESC_MAGIC = 0xABCD5432
CHIP_IDS = {0x0000: "esp32", 0x0005: "esp32c3", 0x0009: "esp32s3", 0x0002: "esp32s2", 0x000C: "esp32c2",
            0x000D: "esp32c6", 0x0010: "esp32h2", 0x0012: "esp32p4"}
CHIP_ID_OF = {v: k for k, v in CHIP_IDS.items()}
PARTITION_TABLE_OFFSET = 0x8000
APP_OFFSET = 0x10000
# Where each chip's bootloader sits in flash (esptool docs "Flashing Firmware": 0x1000 on the ESP32, 0x0 on the
# ESP32-S3/C3), and load addresses for the segments of a built test image (inside each chip's IRAM/DRAM).
BOOTLOADER_OFFSET = {"esp32": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}
_LOAD = {"esp32": (0x3FFF0030, 0x40078000), "esp32s3": (0x3FCE3808, 0x403C9700),
         "esp32c3": (0x3FCD5820, 0x403CE000)}


@dataclass
class ImageInfo:
    chip: str  # the board files' chip name, or "unknown(0x..)"
    chip_id: int
    segments: int
    entry: int
    app: dict = field(default_factory=dict)  # version, project, idf_ver of the application, when found

    @property
    def version(self) -> str:
        return self.app.get("version", "")


def parse_header(data: bytes, what: str = "image") -> tuple[int, int, int]:
    """(chip_id, segment count, entry point) of an ESP image; UsageError if it is not one."""
    if len(data) < 24 or data[0] != IMAGE_MAGIC:
        first = f"{data[0]:#04x}" if data else "nothing"
        raise UsageError(f"{what} is not an ESP firmware image (first byte {first}, expected 0xe9)",
                         "use the .bin file of a MicroPython release for your board's chip")
    segments, entry = data[1], struct.unpack_from("<I", data, 4)[0]
    chip_id = struct.unpack_from("<H", data, 12)[0]
    return chip_id, segments, entry


def inspect(data: bytes, offset: int | None = None, what: str = "firmware") -> ImageInfo:
    """What chip a firmware file (written at flash ``offset``) is for, and its application's version.

    ``offset`` defaults to the chip's bootloader offset; the application is looked for at flash 0x10000."""
    chip_id, segments, entry = parse_header(data, what)
    chip = CHIP_IDS.get(chip_id, f"unknown({chip_id:#06x})")
    if offset is None:
        offset = BOOTLOADER_OFFSET.get(chip, 0)
    info = ImageInfo(chip, chip_id, segments, entry)
    app_at = APP_OFFSET - offset
    if 0 <= app_at and len(data) >= app_at + 24 + 8 + 256 and data[app_at] == IMAGE_MAGIC:
        seg = app_at + 24 + 8  # first segment's data
        magic, = struct.unpack_from("<I", data, seg)
        if magic == APP_DESC_MAGIC:
            def text(at, n):
                return data[seg + at: seg + at + n].split(b"\0", 1)[0].decode("utf-8", "replace")
            info.app = {"version": text(16, 32), "project": text(48, 32), "idf_ver": text(112, 32)}
    return info


# -- building images (tests, demos, the virtual board when no real MicroPython release is at hand) -------------

def build_image(chip: str, segments: list[tuple[int, bytes]], entry: int, hash_appended: bool = True) -> bytes:
    """A well-formed ESP image for ``chip`` with these (load address, data) segments."""
    head = struct.pack("<BBBBI", IMAGE_MAGIC, len(segments), 0x02, 0x20, entry)  # DIO, 4MB, 40 MHz
    # WP pin 0xEE (none), drive settings, chip ID, min rev 0, min/max full rev, reserved, hash flag.
    ext = struct.pack("<B3sHBHH4sB", 0xEE, b"\0\0\0", CHIP_ID_OF[chip], 0, 0, 0xFFFF, b"\0" * 4,
                      1 if hash_appended else 0)
    body = bytearray(head + ext)
    csum = 0xEF
    for addr, seg in segments:
        seg = bytes(seg) + b"\0" * (-len(seg) % 4)
        body += struct.pack("<II", addr, len(seg)) + seg
        for b in seg:
            csum ^= b
    body += b"\0" * (15 - len(body) % 16)
    body.append(csum)
    if hash_appended:
        body += hashlib.sha256(body).digest()
    return bytes(body)


def app_desc(version: str, project: str = "micropython", idf_ver: str = "v5.2.2") -> bytes:
    d = struct.pack("<IIII", APP_DESC_MAGIC, 0, 0, 0)
    d += version.encode()[:31].ljust(32, b"\0") + project.encode()[:31].ljust(32, b"\0")
    d += b"00:00:00".ljust(16, b"\0") + b"Jan  1 2026".ljust(16, b"\0") + idf_ver.encode()[:31].ljust(32, b"\0")
    return d.ljust(256, b"\0")


def partition_table(entries: list[tuple[str, int, int, int, int]]) -> bytes:
    """(label, type, subtype, offset, size) entries as a binary partition table sector."""
    raw = b"".join(struct.pack("<2sBBII16sI", b"\xaa\x50", t, st, off, size, label.encode().ljust(16, b"\0"), 0)
                   for label, t, st, off, size in entries)
    raw += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(raw).digest()
    return raw.ljust(0x1000, b"\xff")


def build_firmware(chip: str, version: str = "v1.24.1", app_size: int = 4096) -> bytes:
    """A small combined firmware file laid out as a MicroPython release for ``chip``: bootloader, partition
    table (the generic 4 MiB layout: nvs, phy_init, factory app) and an application with an app descriptor."""
    dram, iram = _LOAD[chip]
    boot = build_image(chip, [(dram, b"\x11" * 64), (iram, b"\x22" * 256)], iram)
    app = build_image(chip, [(dram, app_desc(version) + bytes(range(256)) * (app_size // 256)),
                             (iram, b"\x33" * 512)], iram)
    base = BOOTLOADER_OFFSET[chip]
    table = partition_table([("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
                             ("factory", 0, 0, APP_OFFSET, 0x1F0000)])
    out = bytearray(b"\xff" * (APP_OFFSET - base))
    out[0: len(boot)] = boot
    out[PARTITION_TABLE_OFFSET - base: PARTITION_TABLE_OFFSET - base + len(table)] = table
    return bytes(out + app)
