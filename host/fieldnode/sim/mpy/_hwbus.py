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
    s = _sock or _connect()
    s.write(struct.pack(">BH", op, len(payload)) + payload)
    head = _read_exact(s, 3)
    status = head[0]
    n = (head[1] << 8) | head[2]
    data = _read_exact(s, n) if n else b""
    if status:
        raise OSError(status)
    return data
