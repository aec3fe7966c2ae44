# The MicroPython side of the virtual board's hardware bus (the frames and op codes: _hwops.py).
# One TCP connection to the host simulator, opened on first use from FIELDNODE_HWBUS=host:port.
#
# A request and its answer must not be split by a soft interrupt (sim/mpy/_irq.py): the VM runs scheduled
# callbacks at any jump, and a callback that used the bus in between would read another request's answer. On the
# ESP32 these operations are C and run no callbacks. hold()/release() mark such a stretch (call() holds itself);
# _irq puts its callbacks off until the last release.
import os
import struct
import sys

from _hwops import *  # noqa: F403 - the op codes and status bits, one table for both ends (_hwops.py)


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

_sock = None
_hold = 0
_in_pending = False
pending = None  # called when an answer says events wait for the program (status bit PENDING); set by _irq
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
    if status & PENDING and pending is not None and not _in_pending:  # noqa: F405
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
