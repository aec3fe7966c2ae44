# The MicroPython side of the virtual board's hardware bus (see host/fieldnode/sim/hwbus.py for the frames).
# One TCP connection to the host simulator, opened on first use from FIELDNODE_HWBUS=host:port.
import os
import socket
import struct

I2C_WRITE = 0x01
I2C_READ = 0x02
I2C_SCAN = 0x03
UART_WRITE = 0x10
UART_READ = 0x11
UART_ANY = 0x12
TIME = 0x20
SLEEP = 0x21
PIN_WRITE = 0x30
PIN_READ = 0x31
ADC_READ = 0x40
EVENT = 0x50

_sock = None
_hdr = bytearray(3)


def available():
    return bool(os.getenv("FIELDNODE_HWBUS"))


def _connect():
    global _sock
    addr = os.getenv("FIELDNODE_HWBUS")
    if not addr:
        raise OSError(19, "no simulated hardware (FIELDNODE_HWBUS is not set)")
    host, port = addr.split(":")
    s = socket.socket()
    s.connect(socket.getaddrinfo(host, int(port))[0][-1])
    _sock = s
    return s


def _read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.read(n - len(buf))
        if not chunk:
            raise OSError(5, "hardware bus closed")
        buf += chunk
    return buf


def call(op, payload=b""):
    global _sock
    s = _sock or _connect()
    try:
        s.write(struct.pack(">BH", op, len(payload)) + payload)
        head = _read_exact(s, 3)
        status = head[0]
        n = (head[1] << 8) | head[2]
        data = _read_exact(s, n) if n else b""
    except KeyboardInterrupt:
        # Ctrl-C in the middle of a request: its answer would arrive out of step, so start a new connection.
        s.close()
        _sock = None
        raise
    if status:
        raise OSError(status)
    return data

# Board ops (host side: host/fieldnode/sim/boardbus.py; keep in step)
MONO = 0x22  # -> ms:u64 (virtual time since the board's clock began: what ticks count, not moved by RTC sets)
FLASH_READ = 0x60  # addr:u32 n:u16 -> data
FLASH_PROGRAM = 0x61  # addr:u32 data -> '' (NOR: bits only go 1 -> 0)
FLASH_ERASE = 0x62  # addr:u32 n:u32 -> '' (whole 4 KiB sectors)
PARTITIONS = 0x63  # -> json [[label, type, subtype, offset, size], ...]
OTA_BOOT = 0x64  # -> json {"running": label, "boot": label}; payload label -> set the boot partition
OTA_VALID = 0x65  # -> '' mark the running app valid (OSError when rollback is not built in)
BOOT_INFO = 0x68  # -> json {"mode", "reset_cause", "wake_reason", "uid", "board", "freq"}
RTC_MEM = 0x69  # '' -> data (read); 0x01 data -> '' (write)
RTC_SET = 0x6A  # epoch_ms:u64 -> '' (RTC.datetime(...) sets the wall clock)
DEEPSLEEP = 0x70  # ms:u32 (0: until a wake source) -> never answers: the process ends here
LIGHTSLEEP = 0x71  # ms:u32 -> json {"wake": reason, "t": ms}
RESET = 0x72  # kind:u8 (0 machine.reset, 1 bootloader) -> never answers
FREQ = 0x73  # hz:u32 -> '' (the CPU clock, for the energy timeline)
WDT_START = 0x74  # ms:u32 -> ''
WDT_FEED = 0x75  # -> ''
WAKE_CONF = 0x76  # json {"ext0": [pin, level] | None, "ext1": [[pins], level] | None, "pins": {...}} -> ''
WLAN = 0x80  # json request -> json answer
NVS_LOAD = 0x84  # namespace -> json {key: [kind, value]}
NVS_STORE = 0x85  # json {"ns": namespace, "data": {...}} -> ''
