"""What every register-level sensor model shares: the environment, scenario faults, a register pointer.

Models answer at the byte level, as the parts do: ``write(data)`` is what the MCU sent after the address byte,
``read(n)`` the bytes the part clocks out; ``None``/``False`` is a NACK. Faults from the scenario (``removed``,
``bus_error``) are looked up on the virtual clock at every transaction, so a chip can vanish for a while.
"""

from ..devices import I2CDevice
from ..physics import Environment


def crc8(data, poly=0x31, init=0xFF) -> int:
    """CRC-8 as Sensirion specifies it (SHT3x datasheet section 4.12: polynomial 0x31, init 0xFF, no reflection)."""
    crc = init
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class SensorModel(I2CDevice):
    """Base of the models: ``cls(clock, addr, env)``; ``chip`` names the part for scenario faults."""

    chip = ""

    def __init__(self, clock=None, addr=None, env=None):
        self.env = env if env is not None else Environment()
        self._present = True
        self._bus_error = False
        super().__init__(clock, addr)
        self.transactions = 0

    # ``present``/``bus_error`` are what the hardware bus checks; a scenario fault overrides a manual setting.
    @property
    def present(self) -> bool:
        return self._present and not self.env.chip_fault("removed", self.chip, self.addr, self.now_ms())

    @present.setter
    def present(self, v):
        self._present = bool(v)

    @property
    def bus_error(self) -> bool:
        return self._bus_error or self.env.chip_fault("bus_error", self.chip, self.addr, self.now_ms())

    @bus_error.setter
    def bus_error(self, v):
        self._bus_error = bool(v)

    def value(self, name: str) -> float:
        return self.env.value(name, self.now_ms())


class RegisterModel(SensorModel):
    """A part with an 8-bit register pointer: write [reg, data...] stores from reg on, write [reg] then read
    returns from reg on, the pointer auto-incrementing (as BMP280, QMP6988, MPU6886 and AXP192 all do)."""

    def __init__(self, clock=None, addr=None, env=None):
        super().__init__(clock, addr, env)
        self.ptr = 0

    def write(self, data: bytes) -> bool:
        self.transactions += 1
        if not data:
            return True  # an address-only probe (scan) is ACKed
        self.ptr = data[0]
        for b in data[1:]:
            self.write_reg(self.ptr, b)
            self.ptr = (self.ptr + 1) & 0xFF
        return True

    def read(self, n: int):
        self.transactions += 1
        out = bytearray()
        for _ in range(n):
            out.append(self.read_reg(self.ptr) & 0xFF)
            self.ptr = self.next_ptr(self.ptr)
        return bytes(out)

    def next_ptr(self, reg: int) -> int:
        return (reg + 1) & 0xFF

    def read_reg(self, reg: int) -> int:
        return 0

    def write_reg(self, reg: int, value: int) -> None:
        pass
