"""Sensirion SHT3x-DIS (SHT30/31/35; M5Stack ENV II and ENV III) at the command level.

Datasheet: Sensirion "Datasheet SHT3x-DIS" (v6/v7). 16-bit commands, MSB first (section 4.3). Single shot without
clock stretching (Table 9): 0x2400 high, 0x240B medium, 0x2416 low repeatability; with stretching 0x2C06, 0x2C0D,
0x2C10. A read before the measurement has completed is not acknowledged (section 4.4: "the sensor ... will not
acknowledge the read header"), nor is a read when no data is waiting. Measurement duration, maximum (Table 4):
15 ms high, 6 ms medium, 4 ms low repeatability. Data: T MSB, T LSB, CRC, RH MSB, RH LSB, CRC (section 4.4).
Conversion (section 4.13): T = -45 + 175 * S_T / 65535 degC, RH = 100 * S_RH / 65535 %. Soft reset 0x30A2
(section 4.9), status register 0xF32D / clear 0x3041 (section 4.11, Table 17: after reset bits 15 and 4 are set),
heater 0x306D on / 0x3066 off (section 4.10, status bit 13).
"""

from .base import SensorModel, crc8

SINGLE_SHOT = {0x2400: 15, 0x240B: 6, 0x2416: 4, 0x2C06: 15, 0x2C0D: 6, 0x2C10: 4}  # command -> max ms (Table 4)
STRETCH = {0x2C06, 0x2C0D, 0x2C10}
SOFT_RESET = 0x30A2
READ_STATUS = 0xF32D
CLEAR_STATUS = 0x3041
HEATER_ON = 0x306D
HEATER_OFF = 0x3066
BREAK = 0x3093


def raw_temperature(t_c: float) -> int:
    return max(0, min(0xFFFF, round((t_c + 45.0) * 65535.0 / 175.0)))


def raw_humidity(rh: float) -> int:
    return max(0, min(0xFFFF, round(rh * 65535.0 / 100.0)))


def words(*values) -> bytes:
    out = bytearray()
    for v in values:
        w = bytes(((v >> 8) & 0xFF, v & 0xFF))
        out += w + bytes([crc8(w)])
    return bytes(out)


class SHT3x(SensorModel):
    chip = "sht3x"
    addr = 0x44

    def __init__(self, clock=None, addr=None, env=None):
        super().__init__(clock, addr, env)
        self.status = 0x8010  # alert pending + reset detected, as after power-up (Table 17)
        self._out = b""  # bytes waiting to be read
        self._ready_ms = 0
        self.measurements = 0

    def write(self, data: bytes) -> bool:
        self.transactions += 1
        if not data:
            return True
        if len(data) != 2:
            self.status |= 0x0002  # command not processed
            return True
        cmd = (data[0] << 8) | data[1]
        now = self.now_ms()
        if self._out and now < self._ready_ms and cmd != BREAK and cmd != SOFT_RESET:
            return False  # busy measuring: the sensor does not acknowledge a new command
        self.status &= ~0x0002
        if cmd in SINGLE_SHOT:
            self.measurements += 1
            t, rh = self.value("temperature_c"), self.value("humidity_pct")
            if self.status & 0x2000:
                t += 3.0  # the heater warms the die a few degrees (section 4.10)
            self._out = words(raw_temperature(t), raw_humidity(rh))
            # With clock stretching the SCL line is held until the data is ready; the bus model cannot stretch,
            # so the data counts as ready at once.
            self._ready_ms = now if cmd in STRETCH else now + SINGLE_SHOT[cmd]
        elif cmd == READ_STATUS:
            self._out, self._ready_ms = words(self.status), now
        elif cmd == CLEAR_STATUS:
            self.status &= ~0x8C13 & 0xFFFF
        elif cmd == SOFT_RESET:
            self.status = 0x8010
            self._out = b""
        elif cmd == HEATER_ON:
            self.status |= 0x2000
        elif cmd == HEATER_OFF:
            self.status &= ~0x2000
        elif cmd == BREAK:
            self._out = b""
        else:
            self.status |= 0x0002
        return True

    def read(self, n: int):
        self.transactions += 1
        if not self._out or self.now_ms() < self._ready_ms:
            return None  # NACK of the read header: no data yet (section 4.4)
        data, self._out = self._out[:n], b""
        return data + bytes(max(0, n - len(data)) * [0xFF])
