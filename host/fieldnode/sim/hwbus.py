"""The hardware bus between a virtual board's MicroPython process and the simulated parts around it.

The MicroPython-side shims (``sim/mpy/machine.py``, ``time.py``) open one TCP connection to 127.0.0.1 (address
in the ``FIELDNODE_HWBUS`` environment variable) and send framed requests; this server answers them from the
sensor models, the modem model and the virtual clock.

Frame, both ways: 1 byte op (request) or status (response), 2 bytes big-endian length, payload. The op codes, the
payloads and the status bits are written once, in ``sim/mpy/_hwops.py``: the shims import it, and ``sim/hwops.py``
loads the same file by path as ``ops``. Status 0 is success; otherwise an errno the shim raises as ``OSError`` (ENODEV
for an I2C NACK, as the ESP32 port does; EIO for a bus error). Bit ``PENDING`` of the status says the simulator has
events for the program (pin edges its ``Pin.irq`` asked for): the shim fetches them with ``PIN_EDGES`` after any
request, so they reach it whatever the program was doing on the bus (``sim/mpy/_irq.py``).

Time has microseconds here (``MONO_US``, ``WAIT``) where ``TIME``/``SLEEP`` have milliseconds; a bus without a
board keeps them to whole milliseconds of its clock. A board refines those ops and adds its own with
``register(op, handler)`` (``sim/boardbus.py``).
"""

import errno
import socket
import struct
import threading

from .hwops import OPS_FILE, op_codes, ops

KNOWN_OPS = frozenset(op_codes().values())  # the table does not change at run time: read it once, not per register


class HwBus:
    """Serve one board's peripherals. ``i2c`` maps bus id -> {addr: I2CDevice}; ``uart`` maps id -> UARTDevice;
    ``adc`` maps pin -> callable(now_ms) -> raw 0..4095; ``pins`` the GPIO levels (a dict this bus reads and writes,
    shared with whoever drives the inputs).

    Hooks, all optional: ``on_pin(pin, value, now_ms)`` a GPIO write; ``on_event(text, now_ms)`` a firmware event;
    ``on_sleep(ms)`` time passes (advance others, e.g. modem sockets); ``on_request()`` before every request is
    answered (a board's watchdog and timed faults); ``pending() -> bool`` events wait for the program (sets
    ``PENDING`` in every answer)."""

    def __init__(self, clock, i2c=None, uart=None, adc=None, on_pin=None, on_event=None, on_sleep=None,
                 on_request=None, pending=None, pins=None):
        self.clock = clock
        self.i2c = i2c or {}
        self.uart = uart or {}
        self.adc = adc or {}
        self.pins: dict[int, int] = {} if pins is None else pins
        self.on_pin = on_pin
        self.on_event = on_event
        self.on_sleep = on_sleep
        self.on_request = on_request
        self.pending = pending
        o = ops
        self._handlers = {
            o.I2C_WRITE: self._i2c_write, o.I2C_READ: self._i2c_read, o.I2C_SCAN: self._i2c_scan,
            o.UART_WRITE: self._uart_write, o.UART_READ: self._uart_read, o.UART_ANY: self._uart_any,
            o.TIME: lambda p: struct.pack(">Q", self.clock.now_ms()), o.SLEEP: self._sleep,
            o.MONO_US: lambda p: struct.pack(">Q", self.clock.now_ms() * 1000), o.WAIT: self._wait,
            o.WAIT_IO: self._wait_io,
            o.PIN_IRQ: lambda p: b"",  # a bare bus drives no inputs: no edges to report
            o.PIN_EDGES: lambda p: b"",
            o.PIN_WRITE: self._pin_write, o.PIN_READ: lambda p: bytes([self.pins.get(p[0], 0)]),
            o.ADC_READ: self._adc_read, o.EVENT: self._event,
        }
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.address = "%s:%d" % self._sock.getsockname()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hwbus")
        self._thread.start()

    def register(self, op: int, handler) -> None:
        """Answer ``op`` with ``handler(payload) -> bytes`` (an ``OSError`` becomes an error status), in place of
        the bare bus's own answer if it has one. Only ops of ``_hwops.py``: both ends must know the code."""
        if op not in KNOWN_OPS:
            raise ValueError(f"op {op:#04x} is not in {OPS_FILE.name}: add it there, for both ends")
        self._handlers[op] = handler

    def handled_ops(self) -> set[int]:
        return set(self._handlers)

    @staticmethod
    def known_ops() -> set[int]:
        return set(KNOWN_OPS)

    def close(self):
        self._stop = True
        try:
            # shutdown() wakes the accept() blocked in _serve; close() alone does not, and that thread then accepts
            # on whatever socket reuses the descriptor: the next board's bus, whose process it would answer.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(2)

    # -- serving -------------------------------------------------------------------------------------------
    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        f = conn.makefile("rwb", buffering=0)
        try:
            while True:
                head = _read_exact(f, 3)
                if head is None:
                    return
                op, n = head[0], struct.unpack(">H", head[1:])[0]
                payload = _read_exact(f, n) if n else b""
                try:
                    status, out = 0, self.handle(op, payload or b"")
                except OSError as e:
                    status, out = (e.errno or errno.EIO) & 0x7F, b""
                if self.pending is not None and self.pending():
                    status |= ops.PENDING
                conn.sendall(bytes([status]) + struct.pack(">H", len(out)) + out)
        except (ConnectionError, OSError):
            return
        finally:
            conn.close()

    def handle(self, op: int, p: bytes) -> bytes:
        if self.on_request is not None:
            self.on_request()
        fn = self._handlers.get(op)
        if fn is None:
            raise OSError(errno.EINVAL, "unknown op")
        return fn(p)

    # -- the bare bus's answers -----------------------------------------------------------------------------
    def _i2c_write(self, p):
        if not self._i2c_dev(p[0], p[1]).write(bytes(p[2:])):
            raise OSError(errno.ENODEV, "NACK")
        return b""

    def _i2c_read(self, p):
        if len(p) > 4:
            # readfrom_mem: the register address written first, checked as I2C_WRITE checks it, at the same virtual
            # time (no bus op advances the clock between the two), then the read
            self._i2c_write(p[:2] + p[4:])
        data = self._i2c_dev(p[0], p[1]).read(struct.unpack(">H", p[2:4])[0])
        if data is None:
            raise OSError(errno.ENODEV, "NACK")
        return bytes(data)

    def _i2c_scan(self, p):
        return bytes(sorted(a for a, d in self.i2c.get(p[0], {}).items() if d.present))

    def _uart_write(self, p):
        self._uart(p[0]).write(bytes(p[1:]))
        return b""

    def _uart_read(self, p):
        return self._uart(p[0]).read(struct.unpack(">H", p[1:3])[0])

    def _uart_any(self, p):
        return struct.pack(">H", min(self._uart(p[0]).any(), 0xFFFF))

    def _run_clock(self, ms: int) -> int:
        if self.on_sleep:
            self.on_sleep(ms)
        t = self.clock.advance(ms)
        for dev in self.uart.values():
            dev.poll(t)
        return t

    def _sleep(self, p):
        return struct.pack(">Q", self._run_clock(struct.unpack(">I", p[:4])[0]))

    def _wait(self, p):
        # whole milliseconds on a bare bus: the end rounded up, the cap (a timer) honoured
        now = self.clock.now_ms()
        rel, us, cap = struct.unpack(">BQQ", p[:17])
        end = now * 1000 + us if rel else us
        stop = min(end, cap) if cap else end
        ms = max(0, -(-(stop - now * 1000) // 1000))
        if ms:
            self._run_clock(ms)
        return struct.pack(">QQ", self.clock.now_ms() * 1000, end)

    def _wait_io(self, p):
        from .iowait import wait_io_bus

        return wait_io_bus(self, p)

    def _pin_write(self, p):
        self.pins[p[0]] = p[1]
        if self.on_pin:
            self.on_pin(p[0], p[1], self.clock.now_ms())
        return b""

    def _adc_read(self, p):
        fn = self.adc.get(p[0])
        return struct.pack(">H", max(0, min(4095, int(fn(self.clock.now_ms())))) if fn else 0)

    def _event(self, p):
        if self.on_event:
            self.on_event(p.decode("utf-8", "replace"), self.clock.now_ms())
        return b""

    def _i2c_dev(self, bus, addr):
        dev = self.i2c.get(bus, {}).get(addr)
        if dev is None or not dev.present:
            raise OSError(errno.ENODEV, "NACK")
        if dev.bus_error:
            raise OSError(errno.EIO, "bus error")
        return dev

    def _uart(self, uid):
        dev = self.uart.get(uid)
        if dev is None:
            raise OSError(errno.ENODEV, "no device on this UART")
        return dev


def _read_exact(f, n):
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
