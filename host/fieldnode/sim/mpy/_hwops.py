# The hardware bus's op codes and status bits: the one table both ends read. The MicroPython shims get them
# through _hwbus (from _hwops import *); the host loads this very file by path (fieldnode.sim.hwops.ops), so a
# code is written once. Plain assignments: the file must run under CPython too (no const()).
#
# Frame, both ways: 1 byte op (request) or status (answer), 2 bytes big-endian length, payload.
# Host side: the bare bus (sim/hwbus.py) answers the first block; a virtual board (sim/boardbus.py) refines the
# time and pin ops and adds the rest.

# -- the bare bus: parts on I2C, UART, GPIO and ADC, and the virtual clock -------------------------------------
I2C_WRITE = 0x01  # bus:u8 addr:u8 data... -> ''
I2C_READ = 0x02  # bus:u8 addr:u8 n:u16 [memaddr...] -> data (with memaddr: readfrom_mem, the register write then
#                   the read in one request, one transaction as on the ESP32; not a new op: the shims' heap is tight)
I2C_SCAN = 0x03  # bus:u8 -> addrs
UART_WRITE = 0x10  # id:u8 data... -> ''
UART_READ = 0x11  # id:u8 n:u16 -> data
UART_ANY = 0x12  # id:u8 -> n:u16
TIME = 0x20  # -> ms:u64 (virtual epoch ms); a board answers ms:u64 us:u64 (the RTC's time, the clock in us)
SLEEP = 0x21  # ms:u32 -> ms:u64 (time after)
MONO = 0x22  # -> ms:u64 (virtual time since the board's clock began: what ticks count, not moved by RTC sets)
MONO_US = 0x23  # -> us:u64 (the board's clock in microseconds: what ticks_us counts)
WAIT = 0x24  # rel:u8 us:u64 cap_us:u64 -> now_us:u64 end_us:u64 (sleep to end = now + us if rel else us; stop
#              early at cap_us when not 0, or at a pin edge the program waits for; see VirtualBoard.wait_until_us)
WAIT_IO = 0x25  # end_us:u64 cap_us:u64 wall_us:u64 uart ids... -> now_us:u64 flags:u8 (select.poll's wait: the
#                 same stops as WAIT, and data readable on a watched UART; see sim/iowait.py)
PIN_WRITE = 0x30  # pin:u8 value:u8 -> ''
PIN_READ = 0x31  # pin:u8 -> value:u8
PIN_IRQ = 0x32  # pin:u8 trigger:u8 -> '' (which edges of an input the program's Pin.irq wants: 1 rising, 2 falling)
PIN_EDGES = 0x33  # -> (t_us:u64 pin:u8 level:u8)* the edges that happened since the last fetch, oldest first
ADC_READ = 0x40  # pin:u8 -> raw:u16 (12-bit as the ESP32's ADC reads)
EVENT = 0x50  # text -> '' (state changes for the energy timeline and the log)

# -- a virtual board: flash, RTC, sleep and resets, Wi-Fi, NVS -------------------------------------------------
FLASH_READ = 0x60  # addr:u32 n:u16 -> data
FLASH_PROGRAM = 0x61  # addr:u32 data -> '' (NOR: bits only go 1 -> 0)
FLASH_ERASE = 0x62  # addr:u32 n:u32 -> '' (whole 4 KiB sectors)
PARTITIONS = 0x63  # -> json [[label, type, subtype, offset, size], ...]
OTA_BOOT = 0x64  # -> json {"running": label, "boot": label}; payload label -> set the boot partition
OTA_VALID = 0x65  # -> '' mark the running app valid (answers ESP-IDF's error code when rollback is not built in)
BOOT_INFO = 0x68  # -> json {"mode", "reset_cause", "wake_reason", "uid", "board", "chip", "freq"}
RTC_MEM = 0x69  # '' -> data (read); 0x01 data -> '' (write)
RTC_SET = 0x6A  # epoch_ms:u64 -> '' (RTC.datetime(...) sets the wall clock)
DEEPSLEEP = 0x70  # ms:u32 (0: until a wake source) -> never answers: the process ends here
LIGHTSLEEP = 0x71  # ms:u32 -> json {"wake": reason, "t": ms, "edges": [pin...], "slept_ms": ms}
RESET = 0x72  # kind:u8 (0 machine.reset, 1 bootloader) -> never answers
FREQ = 0x73  # hz:u32 -> '' (the CPU clock, for the energy timeline)
WDT_START = 0x74  # ms:u32 -> ''
WDT_FEED = 0x75  # -> ''
WAKE_CONF = 0x76  # json {"ext0": [pin, level] | None, "ext1": [[pins], level] | None, "pins": {...}} -> ''
WLAN = 0x80  # json request -> json answer
NVS_LOAD = 0x84  # namespace -> json {key: [kind, value]}
NVS_STORE = 0x85  # json {"ns": namespace, "data": {...}} -> ''

# -- not ops: bits of an answer's status byte, and of WAIT_IO's flags ------------------------------------------
# Status 0 is success; otherwise an errno (low 7 bits) the shim raises as OSError. PENDING says the simulator has
# events for the program (pin edges its Pin.irq asked for): the shim fetches them with PIN_EDGES.
PENDING = 0x80
IO_REALTIME = 1  # the board's clock follows the wall clock
IO_IDLE = 2  # nothing was due on the virtual clock before the deadline, so it stood still
IO_DATA = 4  # a watched UART has data
