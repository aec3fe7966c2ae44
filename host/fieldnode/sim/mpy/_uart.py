# machine.UART for the virtual board (sim/mpy/machine.py loads it on first use): the ESP32 port's UART as a
# stream, its bytes from and to the simulator's UART device models (a modem) over the hardware bus.
import _hwbus
import io
import struct

import time


class UART(io.IOBase):
    # A stream, as the port's UART is: select.poll and asyncio.StreamReader poll it with ioctl(MP_STREAM_POLL).
    INV_TX = 1
    INV_RX = 2

    def __init__(self, id, baudrate=115200, *, tx=None, rx=None, timeout=0, timeout_char=0, rxbuf=256, **kw):
        self._id = id
        self._poll_uart = id  # sim/mpy/select.py: a poll that waits for this UART asks the board to stop at its data
        self.baudrate = baudrate
        self._timeout = timeout

    def init(self, baudrate=115200, *, timeout=None, **kw):
        self.baudrate = baudrate
        if timeout is not None:
            self._timeout = timeout

    def deinit(self):
        pass

    def any(self):
        d = _hwbus.call(_hwbus.UART_ANY, bytes([self._id]))
        return (d[0] << 8) | d[1]

    def _wait(self):
        # Blocking reads wait up to `timeout` ms for the first byte, on the virtual clock.
        left = self._timeout
        while left > 0 and not self.any():
            step = 10 if left > 10 else left
            time.sleep_ms(step)
            left -= step

    def read(self, nbytes=-1):
        # uart_read_bytes on the ESP32 (C) runs no callback while it waits: they come after it returns
        _hwbus.hold()
        try:
            self._wait()
            n = self.any()
            if not n:
                return None
            if nbytes is not None and nbytes >= 0:
                n = min(n, nbytes)
            return _hwbus.call(_hwbus.UART_READ, struct.pack(">BH", self._id, n))
        finally:
            _hwbus.release()

    def readinto(self, buf, nbytes=-1):
        want = len(buf) if nbytes is None or nbytes < 0 else nbytes
        data = self.read(want)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        line = b""
        _hwbus.hold()
        try:
            while True:
                c = self.read(1)
                if not c:
                    return line or None
                line += c
                if c == b"\n":
                    return line
        finally:
            _hwbus.release()

    def write(self, buf):
        _hwbus.call(_hwbus.UART_WRITE, bytes([self._id]) + bytes(buf))
        return len(buf)

    def ioctl(self, req, arg):
        # As ports/esp32/machine_uart.c answers MP_STREAM_POLL (3): readable while the RX buffer holds data, always
        # writable (the port's "FIXME: uart_tx_any_room"); other requests EINVAL
        if req == 3:
            return (1 if arg & 1 and self.any() else 0) | (arg & 4)
        return -22

    def flush(self):
        pass

    def txdone(self):
        return True
