# socket for the virtual board: the unix port's sockets, passing traffic only while the board's Wi-Fi station is
# associated and has an address, as lwIP on the ESP32 does. The simulator's endpoints (the collector on 127.0.0.1)
# stand for the network beyond the access point; without a board (no FIELDNODE_HWBUS, or a bus without Wi-Fi) every
# call goes straight to the unix port.
#
# What the ESP32 answers (ports/esp32/modsocket.c over lwIP; errno names are the ESP32's, numbers the host's:
# EHOSTUNREACH is 118 on the ESP32's newlib, 113 here, so compare with errno.EHOSTUNREACH, not a number):
# * no association (before connect() succeeds, after disconnect(), active(False) or a beacon timeout): lwIP has no
#   route (ERR_RTE), so a TCP connect and any send raise OSError(EHOSTUNREACH) at once (micropython-esp32 issue
#   #212: "OS Error 118 on sock.connect(addr)" while not connected); a host name does not resolve: OSError(-202)
#   (lwIP's EAI_FAIL as the port raises it); nothing arrives, so receives wait out their timeout: OSError(ETIMEDOUT),
#   or OSError(EAGAIN) on a non-blocking socket;
# * associated but the access point out of range (beacons stopped, the station has not noticed yet, network.WLAN
#   still says connected): datagrams go out into the air and are lost, a TCP connect or send waits for the link
#   (lwIP retransmits) until it is back, gone (EHOSTUNREACH) or the socket's timeout passes (ETIMEDOUT).
# Waits run on the virtual clock in the port's 100 ms steps (SOCKET_POLL_US), delivering the program's timer and pin
# callbacks between them as the port does. Data already received stays readable. select.poll waits on the virtual
# clock and gives a socket that sent (_owed) a moment of wall time for its answer (sim/mpy/select.py). Limits: a
# listening socket takes connections whatever the link; a blocking read while the link is up waits in wall time as
# the unix port's does.

import _builtin  # noqa: E402

_b = _builtin.load("socket")  # the unix port's own socket, which this file hides

import errno  # noqa: E402
import io  # noqa: E402
import select  # noqa: E402

_builtin = _b  # for _hwbus: the simulator's own connection
_POLL_MS = 100  # SOCKET_POLL_US in ports/esp32/modsocket.c

for _k in dir(_b):
    if not _k.startswith("_") and _k not in ("socket", "getaddrinfo"):
        globals()[_k] = getattr(_b, _k)
del _k


def _link():
    """The Wi-Fi station as the network sees it: "up", "lost" or "down" ("up" without a board to ask)."""
    try:
        import _hwbus
        import json

        if not _hwbus.available():
            return "up"
        r = json.loads(_hwbus.call(_hwbus.WLAN, b'{"op": "link"}'))
    except (OSError, ImportError, ValueError):
        return "up"  # a bare hardware bus (no board, no Wi-Fi model): nothing to gate
    return r if r in ("up", "lost", "down") else "up"


def _numeric(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    if host and not _numeric(host) and _link() != "up":
        raise OSError(-202)  # no DNS server reachable
    return _b.getaddrinfo(host, port, af, type, proto, flags)


class socket(io.IOBase):
    # A wrapper, not a subclass: the unix port's select.poll cannot see into a subclass of its native socket (it
    # reports it always readable), while an io.IOBase object is polled through ioctl() and streams through
    # readinto()/write(), so select, asyncio and ssl keep working on it. Anything not gated goes to the real one.
    def __init__(self, af=_b.AF_INET, type=_b.SOCK_STREAM, proto=0, _s=None):
        self._s = _s if _s is not None else _b.socket(af, type, proto)
        self._tcp = type == _b.SOCK_STREAM
        self._timeout = None
        self._owed = False  # sent or began to connect since the last read: sim/mpy/select.py waits for the answer

    def __getattr__(self, name):
        return getattr(self._s, name)

    def __repr__(self):
        return repr(self._s)

    def ioctl(self, req, arg):
        if req == 10:  # MP_STREAM_GET_FILENO: poll the real descriptor
            return self._s.fileno()
        if req == 4:  # MP_STREAM_CLOSE
            self._s.close()
            return 0
        return -errno.EINVAL

    def settimeout(self, t):
        self._timeout = t
        self._s.settimeout(t)

    def setblocking(self, flag):
        self._timeout = None if flag else 0
        self._s.setblocking(flag)

    def makefile(self, *a, **kw):
        return self

    def close(self):
        self._s.close()

    # -- waiting on the virtual clock -------------------------------------------------------------------------
    def _wait_for(self, ready):
        """Wait in 100 ms steps of virtual time until ready() says True (go on) or False (raise EHOSTUNREACH);
        ETIMEDOUT when the socket's timeout passes first, EAGAIN at once when it is non-blocking."""
        import time

        if self._timeout == 0:
            raise OSError(errno.EAGAIN)
        left = None if self._timeout is None else int(self._timeout * 1000)
        while True:
            r = ready()
            if r is not None:
                if not r:
                    raise OSError(errno.EHOSTUNREACH)
                return
            if left is not None and left <= 0:
                raise OSError(errno.ETIMEDOUT)
            step = _POLL_MS if left is None else min(_POLL_MS, left)
            time.sleep_ms(step)
            if left is not None:
                left -= step

    def _readable(self):
        p = select.poll()
        p.register(self._s.fileno(), select.POLLIN)
        return bool(p.poll(0))

    def _out(self):
        """May a frame go out now? True: send it; False: it is lost in the air (a datagram while beacons are
        gone). Raises as lwIP would."""
        st = _link()
        if st == "up":
            return True
        if st == "down":
            raise OSError(errno.EHOSTUNREACH)
        if not self._tcp:
            return False
        self._wait_for(lambda: {"up": True, "down": False}.get(_link()))
        return True

    def _in(self):
        self._owed = False
        if _link() == "up" or self._readable():
            return
        # nothing can arrive until the station is associated again (or something was already received)
        self._wait_for(lambda: True if (_link() == "up" or self._readable()) else None)

    # -- the calls ------------------------------------------------------------------------------------------
    def connect(self, addr):
        if self._tcp:
            self._out()
            self._owed = True  # the handshake: the host answers it
        self._s.connect(addr)

    def accept(self):
        s, addr = self._s.accept()
        return socket(_s=s), addr

    def _sent(self):
        self._owed = True
        return True

    def send(self, data):
        return self._s.send(data) if self._out() and self._sent() else len(data)

    def sendall(self, data):
        if self._out() and self._sent():
            self._s.sendall(data)

    def sendto(self, data, addr):
        return self._s.sendto(data, addr) if self._out() and self._sent() else len(data)

    def write(self, data, *a):
        return self._s.write(data, *a) if self._out() and self._sent() else len(data)

    def recv(self, n):
        self._in()
        return self._s.recv(n)

    def recvfrom(self, n):
        self._in()
        return self._s.recvfrom(n)

    def read(self, *a):
        self._in()
        return self._s.read(*a)

    def readinto(self, *a):
        self._in()
        return self._s.readinto(*a)

    def readline(self):
        self._in()
        return self._s.readline()
