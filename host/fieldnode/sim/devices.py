"""What a simulated peripheral looks like to the hardware bus.

Sensor models (``sim/sensors/``) subclass ``I2CDevice`` and answer at register level; modem models
(``sim/modems/``) subclass ``UARTDevice`` and speak their AT dialect. Both get the board's ``VirtualClock``.

I2C as the bus carries it: ``writeto(addr, buf)`` calls ``write(buf)``; ``readfrom(addr, n)`` calls ``read(n)``;
``readfrom_mem(addr, reg, n)`` is ``write(bytes([reg]))`` then ``read(n)`` (a repeated start), which is what the
chip sees on the wire. A device that is not ``present`` NACKs (the MCU sees ``OSError(ENODEV)``).
"""


class I2CDevice:
    addr = 0

    def __init__(self, clock=None, addr=None):
        self.clock = clock
        if addr is not None:
            self.addr = addr
        self.present = True
        self.bus_error = False  # a scenario fault: the transaction fails with EIO

    def now_ms(self) -> int:
        return self.clock.now_ms() if self.clock else 0

    def write(self, data: bytes) -> bool:
        """Bytes written by the MCU after the address byte. Return False to NACK."""
        raise NotImplementedError

    def read(self, n: int):
        """Return ``n`` bytes for the MCU, or None to NACK."""
        raise NotImplementedError


class UARTDevice:
    """A device on a UART: the MCU writes bytes to it and reads what it has sent."""

    def __init__(self, clock=None):
        self.clock = clock
        self._out = bytearray()

    def now_ms(self) -> int:
        return self.clock.now_ms() if self.clock else 0

    def write(self, data: bytes) -> None:
        """Bytes from the MCU's TX."""
        raise NotImplementedError

    def poll(self, now_ms: int) -> None:
        """Called as virtual time passes and before every read; emit what is due (replies, URCs)."""

    def emit(self, data: bytes) -> None:
        """Queue bytes for the MCU's RX."""
        self._out += data

    def any(self) -> int:
        self.poll(self.now_ms())
        return len(self._out)

    def read(self, n: int) -> bytes:
        self.poll(self.now_ms())
        data = bytes(self._out[:n])
        del self._out[:n]
        return data
