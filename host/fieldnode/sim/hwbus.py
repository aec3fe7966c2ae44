"""The hardware bus between a virtual board's MicroPython process and the simulated parts around it.

The MicroPython-side shims (``sim/mpy/machine.py``, ``time.py``) open one TCP connection to 127.0.0.1 (address
in the ``FIELDNODE_HWBUS`` environment variable) and send framed requests; this server answers them from the
sensor models, the modem model and the virtual clock.

Frame, both ways: 1 byte op (request) or status (response), 2 bytes big-endian length, payload.
Status 0 is success; otherwise an errno the shim raises as ``OSError`` (ENODEV for an I2C NACK, as the ESP32
port does; EIO for a bus error). Bit 0x80 of the status (``PENDING``) says the simulator has events for the program
(pin edges its ``Pin.irq`` asked for): the shim fetches them with ``PIN_EDGES`` after any request, so they reach it
whatever the program was doing on the bus (``sim/mpy/_irq.py``).

Time has microseconds here (``MONO_US``, ``WAIT``) where ``TIME``/``SLEEP`` have milliseconds; a bus without a
board keeps them to whole milliseconds of its clock.
"""

import errno
import socket
import struct
import threading

# Ops (keep in step with sim/mpy/_hwbus.py)
I2C_WRITE = 0x01  # bus:u8 addr:u8 data... -> ''
I2C_READ = 0x02  # bus:u8 addr:u8 n:u16 -> data
I2C_SCAN = 0x03  # bus:u8 -> addrs
UART_WRITE = 0x10  # id:u8 data... -> ''
UART_READ = 0x11  # id:u8 n:u16 -> data
UART_ANY = 0x12  # id:u8 -> n:u16
TIME = 0x20  # -> ms:u64 (virtual epoch milliseconds)
SLEEP = 0x21  # ms:u32 -> ms:u64 (time after)
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
PENDING = 0x80  # status bit: events wait for the program (PIN_EDGES)


class HwBus:
    """Serve one board's peripherals. ``i2c`` maps bus id -> {addr: I2CDevice}; ``uart`` maps id -> UARTDevice."""

    def __init__(self, clock, i2c=None, uart=None, adc=None, on_pin=None, on_event=None, on_sleep=None):
        self.clock = clock
        self.i2c = i2c or {}
        self.uart = uart or {}
        self.adc = adc or {}  # pin -> callable(now_ms) -> raw 0..4095
        self.pins: dict[int, int] = {}
        self.on_pin = on_pin  # callable(pin, value, now_ms)
        self.on_event = on_event  # callable(text, now_ms)
        self.on_sleep = on_sleep  # callable(ms): advance others (modem sockets) as time passes
        self.pending = None  # callable() -> bool: events wait for the program (sets PENDING in every answer)
        # Extra ops a board adds (flash blocks, RTC memory, sleep/reset, Wi-Fi, NVS: see sim/boardbus.py):
        # op -> callable(payload) -> bytes, looked up before the built-in ops so a board can refine one.
        self.ops: dict = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.address = "%s:%d" % self._sock.getsockname()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hwbus")
        self._thread.start()

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
                    status |= PENDING
                conn.sendall(bytes([status]) + struct.pack(">H", len(out)) + out)
        except (ConnectionError, OSError):
            return
        finally:
            conn.close()

    def handle(self, op: int, p: bytes) -> bytes:
        fn = self.ops.get(op)
        if fn is not None:
            return fn(p)
        now = self.clock.now_ms()
        if op == I2C_WRITE:
            dev = self._i2c_dev(p[0], p[1])
            if not dev.write(bytes(p[2:])):
                raise OSError(errno.ENODEV, "NACK")
            return b""
        if op == I2C_READ:
            dev = self._i2c_dev(p[0], p[1])
            n = struct.unpack(">H", p[2:4])[0]
            data = dev.read(n)
            if data is None:
                raise OSError(errno.ENODEV, "NACK")
            return bytes(data)
        if op == I2C_SCAN:
            devs = self.i2c.get(p[0], {})
            return bytes(sorted(a for a, d in devs.items() if d.present))
        if op == UART_WRITE:
            self._uart(p[0]).write(bytes(p[1:]))
            return b""
        if op == UART_READ:
            return self._uart(p[0]).read(struct.unpack(">H", p[1:3])[0])
        if op == UART_ANY:
            return struct.pack(">H", min(self._uart(p[0]).any(), 0xFFFF))
        if op == TIME:
            return struct.pack(">Q", now)
        if op == SLEEP:
            ms = struct.unpack(">I", p[:4])[0]
            if self.on_sleep:
                self.on_sleep(ms)
            t = self.clock.advance(ms)
            for dev in self.uart.values():
                dev.poll(t)
            return struct.pack(">Q", t)
        if op == MONO_US:
            return struct.pack(">Q", now * 1000)
        if op == WAIT:
            # whole milliseconds on a bare bus: the end rounded up, the cap (a timer) honoured
            rel, us, cap = struct.unpack(">BQQ", p[:17])
            end = now * 1000 + us if rel else us
            stop = min(end, cap) if cap else end
            ms = max(0, -(-(stop - now * 1000) // 1000))
            if ms:
                if self.on_sleep:
                    self.on_sleep(ms)
                t = self.clock.advance(ms)
                for dev in self.uart.values():
                    dev.poll(t)
            return struct.pack(">QQ", self.clock.now_ms() * 1000, end)
        if op == WAIT_IO:
            from .iowait import wait_io_bus

            return wait_io_bus(self, p)
        if op == PIN_IRQ:
            return b""  # a bare bus drives no inputs: no edges to report
        if op == PIN_EDGES:
            return b""
        if op == PIN_WRITE:
            self.pins[p[0]] = p[1]
            if self.on_pin:
                self.on_pin(p[0], p[1], now)
            return b""
        if op == PIN_READ:
            return bytes([self.pins.get(p[0], 0)])
        if op == ADC_READ:
            fn = self.adc.get(p[0])
            return struct.pack(">H", max(0, min(4095, int(fn(now)))) if fn else 0)
        if op == EVENT:
            if self.on_event:
                self.on_event(p.decode("utf-8", "replace"), now)
            return b""
        raise OSError(errno.EINVAL, "unknown op")

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
