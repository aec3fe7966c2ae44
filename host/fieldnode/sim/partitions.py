"""The partition table, OTA boot selection and NVS store of a virtual board, all kept in its flash image.

Layouts are those of MicroPython's ESP32 port (``ports/esp32/partitions-4MiBplus.csv`` and
``partitions-4MiB-ota.csv``, see FACTS.md), with the "vfs" partition where the board file puts it. When the
image holds a real partition table at 0x8000 (esptool wrote a MicroPython build there) that table wins.

Table format (ESP-IDF "Partition Tables", binary format): 32-byte entries ``AA 50 type subtype offset:u32le
size:u32le label[16] flags:u32le``; an ``EB EB`` entry carries the MD5; 0xFF ends the table.
OTA data (ESP-IDF "Over The Air Updates", ``esp_ota_select_entry_t``): two sectors, each starting with
``ota_seq:u32 seq_label[20] ota_state:u32 crc:u32`` where crc is CRC-32 over ota_seq; the valid entry with the
highest sequence selects app slot ``(seq - 1) % number_of_ota_slots``.
"""

import json
import struct
import zlib
from dataclasses import dataclass

TYPE_APP, TYPE_DATA = 0, 1
SUB_FACTORY, SUB_OTA0 = 0x00, 0x10
SUB_OTADATA, SUB_PHY, SUB_NVS, SUB_FAT = 0x00, 0x01, 0x02, 0x81
TABLE_OFFSET = 0x8000
# ota_state values (esp_ota_img_states_t)
IMG_NEW, IMG_PENDING, IMG_VALID, IMG_INVALID, IMG_ABORTED, IMG_UNDEFINED = 0, 1, 2, 3, 4, 0xFFFFFFFF


@dataclass(frozen=True)
class Part:
    label: str
    type: int
    subtype: int
    offset: int
    size: int

    def as_list(self):
        return [self.label, self.type, self.subtype, self.offset, self.size]


def default_layout(board, kind: str = "factory") -> list[Part]:
    flash = board.flash_bytes
    vfs_off, vfs_size = board.vfs
    if kind == "ota":
        parts = [Part("nvs", TYPE_DATA, SUB_NVS, 0x9000, 0x4000),
                 Part("otadata", TYPE_DATA, SUB_OTADATA, 0xD000, 0x2000),
                 Part("phy_init", TYPE_DATA, SUB_PHY, 0xF000, 0x1000),
                 Part("ota_0", TYPE_APP, 0x10, 0x10000, 0x180000),
                 Part("ota_1", TYPE_APP, 0x11, 0x190000, 0x180000)]
        # In the OTA layout the filesystem follows the second app slot.
        vfs_off = max(vfs_off, 0x310000)
        vfs_size = min(vfs_size, flash - vfs_off)
        return parts + [Part("vfs", TYPE_DATA, SUB_FAT, vfs_off, vfs_size)]
    if kind != "factory":
        raise ValueError(f"partition layout {kind!r} is not one of factory, ota")
    return [Part("nvs", TYPE_DATA, SUB_NVS, 0x9000, 0x6000), Part("phy_init", TYPE_DATA, SUB_PHY, 0xF000, 0x1000),
            Part("factory", TYPE_APP, SUB_FACTORY, 0x10000, vfs_off - 0x10000),
            Part("vfs", TYPE_DATA, SUB_FAT, vfs_off, vfs_size)]


def parse_table(raw: bytes) -> list[Part] | None:
    """Partitions from a binary table, or None when ``raw`` does not start with one."""
    parts = []
    for i in range(0, len(raw) - 31, 32):
        e = raw[i: i + 32]
        if e[:2] != b"\xaa\x50":
            break
        typ, sub, off, size = struct.unpack_from("<BBII", e, 2)
        label = e[12:28].split(b"\0", 1)[0].decode("ascii", "replace")
        parts.append(Part(label, typ, sub, off, size))
    return parts or None


def build_table(parts: list[Part]) -> bytes:
    out = b"".join(b"\xaa\x50" + struct.pack("<BBII", p.type, p.subtype, p.offset, p.size)
                   + p.label.encode()[:16].ljust(16, b"\0") + b"\0\0\0\0" for p in parts)
    import hashlib
    out += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(out).digest()
    return out.ljust(0xC00, b"\xff")


def layout_for(flash, board, kind: str = "factory") -> list[Part]:
    """The table in the image if there is one (plus the board's vfs if it lacks one), else the default layout."""
    parts = parse_table(flash.read(TABLE_OFFSET, 0xC00))
    if not parts:
        return default_layout(board, kind)
    if not any(p.label == "vfs" for p in parts):
        off, size = board.vfs
        parts.append(Part("vfs", TYPE_DATA, SUB_FAT, off, size))
    return parts


def _crc(seq: int) -> int:
    return zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF


class Ota:
    """Boot selection over the otadata partition, with rollback as ESP-IDF's bootloader does it."""

    def __init__(self, flash, parts: list[Part], rollback: bool = True):
        self.flash = flash
        self.parts = parts
        self.rollback = rollback
        self.data = next((p for p in parts if p.type == TYPE_DATA and p.subtype == SUB_OTADATA), None)
        self.slots = sorted((p for p in parts if p.type == TYPE_APP and 0x10 <= p.subtype < 0x20),
                            key=lambda p: p.subtype)
        self.running = self._first_app().label

    def _first_app(self) -> Part:
        apps = [p for p in self.parts if p.type == TYPE_APP]
        return next((p for p in apps if p.subtype == SUB_FACTORY), apps[0] if apps else Part("factory", 0, 0, 0, 0))

    def _entries(self):
        out = []
        for i in range(2):
            raw = self.flash.read(self.data.offset + i * 0x1000, 32)
            seq, state, crc = struct.unpack_from("<I", raw, 0)[0], *struct.unpack_from("<II", raw, 24)
            if seq != 0xFFFFFFFF and crc == _crc(seq):
                out.append((seq, state, i))
        return out

    def _write(self, slot: int, seq: int, state: int):
        entry = struct.pack("<I", seq) + b"\xff" * 20 + struct.pack("<II", state, _crc(seq))
        self.flash.erase(self.data.offset + slot * 0x1000, 0x1000)
        self.flash.program(self.data.offset + slot * 0x1000, entry)

    def boot_label(self) -> str:
        if not self.data or not self.slots:
            return self._first_app().label
        entries = [e for e in self._entries() if e[1] not in (IMG_INVALID, IMG_ABORTED)]
        if not entries:
            return self._first_app().label
        seq = max(entries)[0]
        return self.slots[(seq - 1) % len(self.slots)].label

    def on_hard_boot(self) -> str:
        """What the second-stage bootloader does at reset; returns the label of the app that runs."""
        if self.data and self.slots and self.rollback:
            for seq, state, slot in self._entries():
                if state == IMG_NEW:
                    self._write(slot, seq, IMG_PENDING)  # first boot of a new image: it must confirm itself
                elif state == IMG_PENDING:
                    self._write(slot, seq, IMG_ABORTED)  # it did not: roll back to the previous image
        self.running = self.boot_label()
        return self.running

    def set_boot(self, label: str) -> None:
        if label not in [s.label for s in self.slots]:
            if self.data is None and label == self._first_app().label:
                return
            raise OSError(22, f"{label} is not an OTA app partition")
        entries = self._entries()
        top = max((e[0] for e in entries), default=0)
        n = len(self.slots)
        want = [s.label for s in self.slots].index(label)
        seq = top + 1
        while (seq - 1) % n != want:
            seq += 1
        slot = 0 if not entries else (max(entries)[2] + 1) % 2
        self._write(slot, seq, IMG_NEW if self.rollback else IMG_UNDEFINED)

    def mark_valid(self) -> None:
        if not self.rollback or not self.data:
            raise OSError(-261, "rollback is not enabled in this build (ESP_ERR_NOT_FOUND)")
        for seq, state, slot in self._entries():
            if state == IMG_PENDING and self.slots[(seq - 1) % len(self.slots)].label == self.running:
                self._write(slot, seq, IMG_VALID)


class NvsStore:
    """esp32.NVS contents, kept in the "nvs" partition so that erase-flash clears them and a power cut does not.

    Not ESP-IDF's page format: a record ``FNVS len:u32 crc:u32 json`` written to one of two halves of the
    partition in turn, newest valid one wins, so an interrupted commit leaves the previous contents.
    """

    MAGIC = b"FNVS"

    def __init__(self, flash, part: Part | None):
        self.flash = flash
        self.part = part

    def _halves(self):
        half = self.part.size // 2 // 0x1000 * 0x1000
        return [(self.part.offset, half), (self.part.offset + half, half)]

    def _read(self):
        best = (-1, {}, 0)
        if not self.part:
            return best
        for i, (off, size) in enumerate(self._halves()):
            head = self.flash.read(off, 16)
            if head[:4] != self.MAGIC:
                continue
            n, crc, gen = struct.unpack_from("<III", head, 4)
            if n > size - 16:
                continue
            body = self.flash.read(off + 16, n)
            if zlib.crc32(body) != crc:
                continue
            if gen > best[0]:
                best = (gen, json.loads(body), i)
        return best

    def load(self, ns: str) -> dict:
        return self._read()[1].get(ns, {})

    def store(self, ns: str, data: dict) -> None:
        if not self.part:
            raise OSError(19, "no nvs partition")
        gen, everything, where = self._read()
        everything[ns] = data
        body = json.dumps(everything).encode()
        off, size = self._halves()[(where + 1) % 2 if gen >= 0 else 0]
        if len(body) + 16 > size:
            raise OSError(-0x1105, "NVS is full (ESP_ERR_NVS_NOT_ENOUGH_SPACE)")
        self.flash.erase(off, size)
        self.flash.program(off, self.MAGIC + struct.pack("<III", len(body), zlib.crc32(body), gen + 1) + body)
