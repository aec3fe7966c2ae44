"""Sensirion SHT3x-DIS (SHT30/31/35; M5Stack ENV II and ENV III) at the command level.

Datasheet: Sensirion "Datasheet SHT3x-DIS" (v6/v7). 16-bit commands, MSB first (section 4.3). Single shot without
clock stretching (Table 9): 0x2400 high, 0x240B medium, 0x2416 low repeatability; with stretching 0x2C06, 0x2C0D,
0x2C10. A read before the measurement has completed is not acknowledged (section 4.4: "the sensor ... will not
acknowledge the read header"), nor is a read when no data is waiting. Measurement duration, maximum (Table 4):
15 ms high, 6 ms medium, 4 ms low repeatability. Data: T MSB, T LSB, CRC, RH MSB, RH LSB, CRC (section 4.4).
Conversion (section 4.13): T = -45 + 175 * S_T / 65535 degC, RH = 100 * S_RH / 65535 %. Soft reset 0x30A2
(section 4.9), status register 0xF32D / clear 0x3041 (section 4.11, Table 17: after reset bits 15 and 4 are set),
heater 0x306D on / 0x3066 off (section 4.10, status bit 13). Periodic acquisition at 0.5/1/2/4/10 measurements per
second (Table 10) and ART 0x2B32 (4 Hz, section 4.7), read with fetch 0xE000 (section 4.6: no new data, no ACK of
the read header), stopped with break 0x3093 (section 4.8); other commands in periodic mode are not processed.
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
FETCH = 0xE000  # fetch data in periodic mode (section 4.6)
ART = 0x2B32  # accelerated response time: periodic at 4 Hz (section 4.7)
# Periodic data acquisition (Table 10): command -> (period ms, repeatability's max measurement ms)
PERIODIC = {}
for _mps, _cmds in ((0.5, (0x2032, 0x2024, 0x202F)), (1, (0x2130, 0x2126, 0x212D)), (2, (0x2236, 0x2220, 0x222B)),
                    (4, (0x2334, 0x2322, 0x2329)), (10, (0x2737, 0x2721, 0x272A))):
    for _cmd, _ms in zip(_cmds, (15, 6, 4), strict=True):
        PERIODIC[_cmd] = (1000 / _mps, _ms)
PERIODIC[ART] = (250, 15)


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
        self._periodic = None  # (start ms, period ms, measurement ms) while in periodic mode
        self._fetched = -1  # the index of the last periodic measurement fetched

    def _measure(self, now):
        self.measurements += 1
        t, rh = self.value("temperature_c"), self.value("humidity_pct")
        if self.status & 0x2000:
            t += 3.0  # the heater warms the die a few degrees (section 4.10)
        return words(raw_temperature(t), raw_humidity(rh))

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
        if cmd != READ_STATUS:
            self.status &= ~0x0002  # bit 1 tells of the last command; reading the status does not change it
        if self._periodic is not None and cmd not in (FETCH, BREAK, SOFT_RESET, READ_STATUS, CLEAR_STATUS,
                                                      HEATER_ON, HEATER_OFF):
            self.status |= 0x0002  # 4.5: in periodic mode only fetch, break and the status/heater commands
            return True
        if cmd in PERIODIC:
            per, ms = PERIODIC[cmd]
            self._periodic, self._fetched, self._out = (now, per, ms), -1, b""
        elif cmd == FETCH:
            # 4.6: the latest measurement, once; none since the last fetch: the read header is not acknowledged
            if self._periodic is None:
                self.status |= 0x0002
                return True
            start, per, ms = self._periodic
            n = int((now - start - ms) // per) if now - start >= ms else -1
            if n > self._fetched:
                self._fetched = n
                self._out, self._ready_ms = self._measure(now), now
            else:
                self._out = b""
        elif cmd in SINGLE_SHOT:
            self._out = self._measure(now)
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
            self._periodic = None
        elif cmd == HEATER_ON:
            self.status |= 0x2000
        elif cmd == HEATER_OFF:
            self.status &= ~0x2000
        elif cmd == BREAK:
            self._out = b""  # 4.8: stop periodic acquisition, back to single shot
            self._periodic = None
        else:
            self.status |= 0x0002
        return True

    def read(self, n: int):
        self.transactions += 1
        if not self._out or self.now_ms() < self._ready_ms:
            return None  # NACK of the read header: no data yet (section 4.4)
        data, self._out = self._out[:n], b""
        return data + bytes(max(0, n - len(data)) * [0xFF])
