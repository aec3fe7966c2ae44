"""What the ROM bootloader model needs to know about each chip: identity, registers and the SPI flash chip.

A host identifies a chip in download mode by reading registers (READ_REG) and, on the ESP32-S3/C3, with the
GET_SECURITY_INFO command; it reads the factory MAC from eFuse registers and the flash chip's JEDEC ID by driving
the SPI1 peripheral's "user command" registers with WRITE_REG. This module holds those facts per chip and a small
register file that behaves like the hardware for the registers a flashing tool touches. Everything else reads as
zero, which is what an idle peripheral register mostly reads.

Sources (Espressif documents):
- esptool docs, "Serial Protocol" > "Initial Synchronisation" and "32-bit Read/Write"; esptool docs, "Boot Mode
  Selection" > "Automatic bootloader" (how a chip is detected: a magic word in ROM for the ESP32, the chip ID from
  GET_SECURITY_INFO on the ESP32-S3 and later).
- ESP-IDF ``esp_chip_id_t`` (esp_app_format.h), also in esptool docs "Firmware Image Format" > "Extended File
  Header": chip IDs ESP32 0x0000, ESP32-C3 0x0005, ESP32-S3 0x0009.
- ESP32 TRM v5, chapter 1 "System and Memory" (peripheral map: UART0 0x3FF4_0000, SPI1 0x3FF4_2000, eFuse
  0x3FF5_A000, APB_CTRL 0x3FF6_6000), chapter 20 "eFuse Controller" (Table 20-1: WIFI_MAC_Address is 56 bits,
  48-bit MAC and its CRC8, in BLOCK0 read registers 1 and 2), chapter 7 "SPI" (SPI_CMD_REG bit 18 SPI_USR starts a
  user transaction and clears itself when done; SPI_USER2_REG bits 31:28 command length, 15:0 command value;
  SPI_MISO_DLEN_REG; SPI_W0..W15 data buffer at 0x80).
- ESP32-S3 TRM chapter 4 "System and Memory" (UART0 0x6000_0000, SPI1 0x6000_2000, eFuse 0x6000_7000), chapter
  "eFuse Controller" (EFUSE_RD_MAC_SPI_SYS_0/1 at eFuse base + 0x44/0x48); ESP32-C3 TRM likewise (eFuse at
  0x6000_8800). SPI1 of the S3/C3 (SPI_MEM) keeps SPI_MEM_USR at bit 18 of its CMD register; its USER, USER1,
  USER2, MOSI_DLEN, MISO_DLEN registers sit at 0x18..0x28 and W0 at 0x58.
- UART_CLKDIV_REG (UART base + 0x14): the ROM's auto-baud leaves divider = UART clock / baud, the UART clock being
  the 40 MHz crystal while the ROM runs (ESP32 TRM chapter 13 "UART Controller", "Baud Rate Detection").
- JEDEC JESD216/RDID (0x9F) answers manufacturer, memory type and capacity (log2 of the size in bytes); 0xC8 is
  GigaDevice, whose GD25Q series is common on ESP32 modules (GD25Q32/64/128 datasheets, "Read Identification").
"""

import struct
from dataclasses import dataclass

SPI_USR_BIT = 1 << 18


@dataclass(frozen=True)
class ChipModel:
    name: str  # the board files' "chip" value
    title: str  # as esptool names the chip
    image_chip_id: int  # esp_chip_id_t: what an image header for this chip carries
    magic: int | None  # word at CHIP_DETECT_MAGIC_ADDR, for chips detected that way
    security_info: bool  # the ROM answers GET_SECURITY_INFO (with a chip ID)
    spi_base: int
    spi_usr: int
    spi_usr1: int
    spi_usr2: int
    spi_mosi_dlen: int
    spi_miso_dlen: int
    spi_w0: int
    uart_base: int
    efuse_mac: int  # eFuse word with MAC bytes 2..5 (the next word holds bytes 0..1)
    bootloader_offset: int


CHIP_DETECT_MAGIC_ADDR = 0x40001000  # esptool docs, "Boot Mode Selection": a word in ROM that differs per chip

CHIPS = {
    "esp32": ChipModel(
        name="esp32", title="ESP32", image_chip_id=0x0000, magic=0x00F01D83, security_info=False,
        spi_base=0x3FF42000, spi_usr=0x1C, spi_usr1=0x20, spi_usr2=0x24, spi_mosi_dlen=0x28, spi_miso_dlen=0x2C,
        spi_w0=0x80, uart_base=0x3FF40000, efuse_mac=0x3FF5A004, bootloader_offset=0x1000),
    "esp32s3": ChipModel(
        name="esp32s3", title="ESP32-S3", image_chip_id=0x0009, magic=None, security_info=True,
        spi_base=0x60002000, spi_usr=0x18, spi_usr1=0x1C, spi_usr2=0x20, spi_mosi_dlen=0x24, spi_miso_dlen=0x28,
        spi_w0=0x58, uart_base=0x60000000, efuse_mac=0x60007044, bootloader_offset=0x0),
    "esp32c3": ChipModel(
        name="esp32c3", title="ESP32-C3", image_chip_id=0x0005, magic=None, security_info=True,
        spi_base=0x60002000, spi_usr=0x18, spi_usr1=0x1C, spi_usr2=0x20, spi_mosi_dlen=0x24, spi_miso_dlen=0x28,
        spi_w0=0x58, uart_base=0x60000000, efuse_mac=0x60008844, bootloader_offset=0x0),
}

IMAGE_CHIP_IDS = {m.image_chip_id: m.name for m in CHIPS.values()}

XTAL_HZ = 40_000_000
ROM_BAUD = 115200  # ESP32 family ROMs start their UART at 115200 ("Serial Protocol", "Initial Synchronisation")

# ESP32 extras: chip revision v3.0 (ESP32-D0WD-V3, as on WROOM-32E modules): eFuse BLOCK0 word 3 bit 15
# (CHIP_VER_REV1), word 5 bit 20 (CHIP_VER_REV2) and APB_CTRL_DATE bit 31 are all set on v3 silicon (ESP32 ECO
# and workarounds for bugs, "Identifying chip revision"). Word 5 bits 25:24 hold the minor revision (0).
ESP32_APB_CTL_DATE = 0x3FF6607C
ESP32_EFUSE_BASE = 0x3FF5A000
# RTC calibration the ESP32 ROM leaves behind: the ROM estimates the crystal from the 8 MHz RC clock; 8 MHz is
# stored in eFuse word 4 bits 7:0 in units of 80 kHz (100), and TIMG0 RTCCALICFG1 bits 31:7 hold the count
# (1024) that makes that estimate 40 MHz (count * 15625 * ck8m / 40).
ESP32_RTCCALICFG1 = 0x3FF5F06C


def crc8_maxim(data: bytes) -> int:
    """CRC-8/MAXIM (reflected polynomial 0x31 = 0x8C): the CRC ESP32 eFuse keeps beside the factory MAC."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def jedec_id(flash_size: int) -> tuple[int, int, int]:
    """(manufacturer, memory type, capacity) of a GigaDevice GD25Q-series chip of this size."""
    capacity = flash_size.bit_length() - 1
    if 1 << capacity != flash_size:
        raise ValueError(f"flash size {flash_size} is not a power of two")
    return 0xC8, 0x40, capacity


class Registers:
    """The registers a flashing tool touches, with the side effects that matter (SPI user commands)."""

    def __init__(self, model: ChipModel, mac: bytes, flash_size: int):
        if len(mac) != 6:
            raise ValueError(f"a MAC is 6 bytes, got {len(mac)}")
        self.model = model
        self.mac = bytes(mac)
        self.flash_size = flash_size
        self.flash_status = [0x00, 0x00, 0x00]  # status registers 1..3 of the flash chip
        self.regs: dict[int, int] = {}
        self.reads: set[int] = set()  # every address read: shows what a client looked at
        self.set_baud(ROM_BAUD)
        m = model
        if m.magic is not None:
            self.regs[CHIP_DETECT_MAGIC_ADDR] = m.magic
        if m.name == "esp32":
            crc = crc8_maxim(self.mac)
            # BLOCK0 word 1: MAC bytes 2..5, word 2: CRC8 in bits 23:16, MAC bytes 0..1 in bits 15:0.
            self.regs[ESP32_EFUSE_BASE + 4] = int.from_bytes(self.mac[2:6], "big")
            self.regs[ESP32_EFUSE_BASE + 8] = (crc << 16) | int.from_bytes(self.mac[0:2], "big")
            self.regs[ESP32_EFUSE_BASE + 12] = 1 << 15  # CHIP_VER_REV1; pkg 0 (D0WD), dual core, BT
            self.regs[ESP32_EFUSE_BASE + 16] = 100  # CK8M frequency, 80 kHz units
            self.regs[ESP32_EFUSE_BASE + 20] = 1 << 20  # CHIP_VER_REV2
            self.regs[ESP32_APB_CTL_DATE] = 1 << 31
            self.regs[ESP32_RTCCALICFG1] = 1024 << 7
        else:
            # EFUSE_RD_MAC_SPI_SYS_0: MAC bytes 2..5; _1 bits 15:0: MAC bytes 0..1.
            self.regs[m.efuse_mac] = int.from_bytes(self.mac[2:6], "big")
            self.regs[m.efuse_mac + 4] = int.from_bytes(self.mac[0:2], "big")
            # BLOCK1 word 3 bits 20:18, WAFER_VERSION_MINOR_LO (ESP-IDF esp_efuse_table.csv, bit 114): revision
            # v0.2 of the ESP32-S3 and v0.4 of the ESP32-C3, the revisions modules ship with today.
            self.regs[m.efuse_mac + 12] = (2 if m.name == "esp32s3" else 4) << 18

    def set_baud(self, baud: int) -> None:
        """The UART divider the ROM's auto-baud (or CHANGE_BAUDRATE) leaves for this baud rate."""
        whole, frac = divmod(XTAL_HZ * 16 // max(baud, 1), 16)
        self.regs[self.model.uart_base + 0x14] = (frac << 20) | (whole & 0xFFFFF)

    def read(self, addr: int) -> int:
        self.reads.add(addr)
        return self.regs.get(addr, 0)

    def write(self, addr: int, value: int, mask: int = 0xFFFFFFFF) -> None:
        old = self.regs.get(addr, 0)
        self.regs[addr] = (old & ~mask | value & mask) & 0xFFFFFFFF
        m = self.model
        if addr == m.spi_base and self.regs[addr] & SPI_USR_BIT:
            self._spi_user_command()
            self.regs[addr] &= ~SPI_USR_BIT  # the hardware clears SPI_USR when the transaction is done

    def _spi_user_command(self) -> None:
        """Run the SPI flash command set up in SPI1's user registers; the answer lands in W0.. (little endian)."""
        m = self.model
        b = m.spi_base
        usr = self.regs.get(b + m.spi_usr, 0)
        cmd = self.regs.get(b + m.spi_usr2, 0) & 0xFFFF
        miso_bits = (self.regs.get(b + m.spi_miso_dlen, 0) & 0x3FFFF) + 1 if usr & (1 << 28) else 0
        mosi_bits = (self.regs.get(b + m.spi_mosi_dlen, 0) & 0x3FFFF) + 1 if usr & (1 << 27) else 0
        mosi = b"".join(struct.pack("<I", self.regs.get(b + m.spi_w0 + 4 * i, 0)) for i in range(16))
        mosi = mosi[: (mosi_bits + 7) // 8]
        answer = self._flash_command(cmd, mosi)
        nbytes = (miso_bits + 7) // 8
        answer = (answer + b"\xff" * nbytes)[:nbytes]
        for i in range(0, nbytes, 4):
            word = answer[i: i + 4].ljust(4, b"\x00")
            self.regs[b + m.spi_w0 + i] = struct.unpack("<I", word)[0]

    def _flash_command(self, cmd: int, mosi: bytes) -> bytes:
        """The flash chip's side of a command (GD25Q datasheet command table)."""
        st = self.flash_status
        if cmd == 0x9F:  # RDID
            return bytes(jedec_id(self.flash_size))
        if cmd == 0x05:  # RDSR1
            return bytes([st[0]])
        if cmd == 0x35:  # RDSR2
            return bytes([st[1]])
        if cmd == 0x15:  # RDSR3
            return bytes([st[2]])
        if cmd == 0x06:  # WREN sets WEL (status bit 1)
            st[0] |= 0x02
            return b""
        if cmd == 0x04:  # WRDI
            st[0] &= ~0x02
            return b""
        if cmd in (0x01, 0x31, 0x11):  # WRSR1 (optionally with SR2), WRSR2, WRSR3: need WEL first
            if st[0] & 0x02 and mosi:
                if cmd == 0x01:
                    st[0] = mosi[0] & 0xFC
                    if len(mosi) > 1:
                        st[1] = mosi[1]
                elif cmd == 0x31:
                    st[1] = mosi[0]
                else:
                    st[2] = mosi[0]
                st[0] &= ~0x02
            return b""
        return b""  # anything else: the bus floats high (0xFF)
