# The MicroPython side of the virtual board's hardware bus (see host/fieldnode/sim/hwbus.py for the frames).
# One TCP connection to the host simulator, opened on first use from FIELDNODE_HWBUS=host:port.
#
# A request and its answer must not be split by a soft interrupt (sim/mpy/_irq.py): the VM runs scheduled
# callbacks at any jump, and a callback that used the bus in between would read another request's answer. On the
# ESP32 these operations are C and run no callbacks. hold()/release() mark such a stretch (call() holds itself);
# _irq puts its callbacks off until the last release.
import os
import struct
import sys


def _port_socket():
    # The simulator's own connection is not the board's network traffic: the unix port's socket module, not the
    # gated sim/mpy/socket.py (nor loading it: it costs heap the program may not spend on sockets).
    me = sys.modules.get("socket")
    if me is not None and hasattr(me, "_builtin"):
        return me._builtin
    path = sys.path[:]
    del sys.path[:]
    sys.modules.pop("socket", None)
    try:
        import socket as s
    finally:
        sys.path.extend(path)
        sys.modules.pop("socket", None)
        if me is not None:
            sys.modules["socket"] = me
    return s


socket = _port_socket()

I2C_WRITE = 0x01
I2C_READ = 0x02
I2C_SCAN = 0x03
UART_WRITE = 0x10
UART_READ = 0x11
UART_ANY = 0x12
TIME = 0x20
SLEEP = 0x21
MONO_US = 0x23
WAIT = 0x24
WAIT_IO = 0x25
PIN_WRITE = 0x30
PIN_READ = 0x31
PIN_IRQ = 0x32
PIN_EDGES = 0x33
ADC_READ = 0x40
EVENT = 0x50

_sock = None
_hold = 0
_in_pending = False
pending = None  # called when an answer says events wait for the program (status bit 0x80); set by _irq
resume = None  # called once the last hold() is released; set by _irq while it has callbacks put off


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


def hold():
    global _hold
    _hold += 1


def release():
    global _hold
    _hold -= 1
    if not _hold and resume is not None:
        resume()


def call(op, payload=b""):
    global _sock, _hold, _in_pending
    s = _sock or _connect()
    _hold += 1
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
    finally:
        _hold -= 1
    if status & 0x80 and pending is not None and not _in_pending:
        _in_pending = True
        try:
            pending()
        finally:
            _in_pending = False
    if not _hold and resume is not None:
        resume()
    if status & 0x7F:
        raise OSError(status & 0x7F)
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
