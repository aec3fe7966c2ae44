"""The ports a virtual board listens on: a pseudo-terminal (what a USB serial adapter looks like) and an RFC 2217
server (``rfc2217://127.0.0.1:PORT``), through which DTR and RTS reach the board as esptool's reset needs.

Both deliver the client's bytes to ``on_input(data)`` and send the board's output with ``write(data)``. Output
written while no client has the port open is dropped, as a USB-UART bridge drops it. The RFC 2217 side uses
pyserial's own ``PortManager`` (RFC 2217 and Telnet option handling), given a port object that turns line
changes into ``on_lines(dtr, rts)`` calls.
"""

import errno
import logging
import os
import select
import socket
import threading
import tty

import serial
from serial.rfc2217 import PortManager

log = logging.getLogger("fieldnode.sim.port")


class PtyPort:
    def __init__(self, on_input):
        self.on_input = on_input
        self._master, slave = os.openpty()
        tty.setraw(slave)  # no echo or newline translation until a client sets its own mode
        self.path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(self._master, False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True, name="pty-port")
        self._thread.start()

    def _read(self):
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        while not self._stop.is_set():
            ev = poller.poll(50)
            if not ev:
                continue
            if ev[0][1] & select.POLLIN:
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    data = b""
                if data:
                    self.on_input(data)
                    continue
            self._stop.wait(0.02)  # POLLHUP: nobody has the port open

    def connected(self) -> bool:
        ev = select.poll()
        ev.register(self._master, select.POLLOUT)
        r = ev.poll(0)
        return bool(r) and not (r[0][1] & select.POLLHUP)

    def write(self, data: bytes) -> None:
        if not self.connected():
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                # The client is not reading: wait a little, then drop (a UART does not wait for its reader).
                if not select.select([], [self._master], [], 1.0)[1]:
                    return
                continue
            except OSError as e:
                if e.errno in (errno.EIO, errno.EBADF):
                    return
                raise
            view = view[n:]

    def close(self):
        self._stop.set()
        self._thread.join(1)
        try:
            os.close(self._master)
        except OSError:
            pass


class _Lines(serial.SerialBase):
    """What PortManager needs of a serial port: settings it may change, and DTR/RTS that reach the board."""

    def __init__(self, on_lines):
        self._on_lines = on_lines
        self.on_baud = None
        super().__init__()
        self._baudrate = 115200
        self.is_open = True

    def open(self):
        self.is_open = True

    def _reconfigure_port(self, force_update=False):
        if self.on_baud:
            self.on_baud(self._baudrate)

    def _update_dtr_state(self):
        self._on_lines(self._dtr_state, self._rts_state)

    def _update_rts_state(self):
        self._on_lines(self._dtr_state, self._rts_state)

    def _update_break_state(self):
        pass

    def reset_input_buffer(self):
        pass

    def reset_output_buffer(self):
        pass

    cts = dsr = True
    ri = cd = False


class Rfc2217Server:
    """One client at a time, as a serial port can have only one; a second connection replaces the first."""

    def __init__(self, on_input, on_lines, on_baud=None, host="127.0.0.1", port=0):
        self.on_input = on_input
        self._lines = _Lines(on_lines)
        self._lines.on_baud = on_baud
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(1)
        self.port = self._sock.getsockname()[1]
        self.url = f"rfc2217://{host}:{self.port}"
        self._conn = None
        self._manager = None
        self._wlock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True, name="rfc2217").start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            old = self._conn
            if old:
                try:
                    old.close()
                except OSError:
                    pass
            # Fresh line state per client: pyserial asserts DTR and RTS on open, which changes nothing on an
            # ESP32 auto-reset circuit (both transistors off).
            self._lines._dtr_state = self._lines._rts_state = True
            with self._wlock:
                self._conn = conn
                self._manager = PortManager(self._lines, _Conn(self, conn))
            threading.Thread(target=self._client, args=(conn, self._manager), daemon=True).start()

    def _client(self, conn, manager):
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                plain = b"".join(manager.filter(data))
                if plain:
                    self.on_input(plain)
        except OSError:
            pass
        finally:
            with self._wlock:
                if self._conn is conn:
                    self._conn = None

    def _send_raw(self, conn, data):
        try:
            conn.sendall(data)
        except OSError:
            pass

    def write(self, data: bytes) -> None:
        with self._wlock:
            conn, manager = self._conn, self._manager
        if conn is not None:
            self._send_raw(conn, b"".join(manager.escape(data)))

    def close(self):
        self._stop = True
        for s in (self._sock, self._conn):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


class _Conn:
    def __init__(self, server, conn):
        self.server, self.conn = server, conn

    def write(self, data):
        self.server._send_raw(self.conn, data)
