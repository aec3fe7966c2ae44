"""Serve a byte-handler (such as ``RomBootloader.feed``) on a local TCP port, as a ``socket://`` serial port.

pyserial's ``socket://host:port`` URLs, which esptool and mpremote accept as ports, make such a server look like a
serial port. DTR/RTS do not travel over a raw socket, so esptool runs with ``--before no-reset`` against it (it
switches to that by itself for ``socket://`` ports) and the chip starts in download mode.

    rom = RomBootloader(FlashImage(path, 4 << 20), "esp32", mac)
    with SocketPort(rom.feed) as port:
        esptool.main(["--port", port.url, "chip-id"])
"""

import selectors
import socket
import threading


class SocketPort:
    """One client at a time; ``handler(bytes) -> bytes`` answers what the client sends."""

    def __init__(self, handler, host: str = "127.0.0.1", port: int = 0):
        self.handler = handler
        self._srv = socket.create_server((host, port))
        self._srv.setblocking(False)
        self.host, self.port = self._srv.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = None
        self.error = None  # an exception the handler raised, kept for the caller

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def start(self) -> "SocketPort":
        self._thread = threading.Thread(target=self._serve, name=f"socketport-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._srv.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._srv, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    if key.fileobj is self._srv:
                        try:
                            conn, _addr = self._srv.accept()
                        except BlockingIOError:
                            continue
                        conn.setblocking(True)
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sel.register(conn, selectors.EVENT_READ)
                    else:
                        self._client(sel, key.fileobj)
        finally:
            for key in list(sel.get_map().values()):
                if key.fileobj is not self._srv:
                    key.fileobj.close()
            sel.close()

    def _client(self, sel, conn) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            conn.close()
            return
        try:
            out = self.handler(data)
        except Exception as e:  # keep serving; the test or caller inspects .error
            self.error = e
            out = b""
        if out:
            try:
                conn.sendall(out)
            except OSError:
                sel.unregister(conn)
                conn.close()
