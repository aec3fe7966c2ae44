"""TDK InvenSense MPU-6886 (M5Stack Core2, StickC, ATOM Matrix) at register level, with its FIFO.

Datasheet: TDK InvenSense MPU-6886 DS-000193. Registers (section 10): SMPLRT_DIV 0x19, CONFIG 0x1A (FIFO_MODE
bit 6, DLPF_CFG[2:0]), GYRO_CONFIG 0x1B (FS_SEL[4:3], FCHOICE_B[1:0]), ACCEL_CONFIG 0x1C (ACCEL_FS_SEL[4:3]),
ACCEL_CONFIG2 0x1D, FIFO_EN 0x23 (GYRO_FIFO_EN bit 4, ACCEL_FIFO_EN bit 3), INT_STATUS 0x3A (FIFO_OFLOW_INT
bit 4, DATA_RDY_INT bit 0), ACCEL_XOUT_H 0x3B..GYRO_ZOUT_L 0x48 (big-endian int16; TEMP_OUT 0x41),
USER_CTRL 0x6A (FIFO_EN bit 6, FIFO_RST bit 2), PWR_MGMT_1 0x6B (DEVICE_RESET bit 7, SLEEP bit 6),
FIFO_COUNTH/L 0x72/0x73, FIFO_R_W 0x74, WHO_AM_I 0x75 = 0x19.
Sample rate: 1 kHz / (1 + SMPLRT_DIV) when FCHOICE_B = 0 and 0 < DLPF_CFG < 7, else 8 kHz (register 0x19).
Sensitivity: accel 16384/8192/4096/2048 LSB/g for +-2/4/8/16 g; gyro 131/65.5/32.8/16.4 LSB/dps;
temperature 326.8 LSB/degC, 0 at 25 degC. FIFO: 1 KB; a record is accel (6), temperature (2), gyro (6) bytes
for the enabled sensors; FIFO_MODE 0 overwrites the oldest data when full, 1 drops new data.

``clock_ppm`` offsets the part's internal oscillator (the sample rate is the chip's, not the host's).
"""

import struct

from ..physics import numpy
from .base import RegisterModel

WHO_AM_I = 0x19
FIFO_SIZE = 1024
_ACC_SENS = (16384, 8192, 4096, 2048)
_GYR_SENS = (131.0, 65.5, 32.8, 16.4)
_SAMPLE = struct.Struct(">7h")  # ACCEL_X..Z, TEMP, GYRO_X..Z: big-endian int16, registers 0x3B..0x48 (datasheet 9)


def _i16(v: float) -> int:
    return max(-32768, min(32767, int(round(v))))


class MPU6886(RegisterModel):
    chip = "mpu6886"
    addr = 0x68

    def __init__(self, clock=None, addr=None, env=None, clock_ppm: float = 0.0):
        super().__init__(clock, addr, env)
        self.clock_ppm = clock_ppm
        self._reset()

    def _reset(self):
        self.regs = bytearray(128)
        self.regs[0x6B] = 0x41  # PWR_MGMT_1 reset value: SLEEP, CLKSEL 1
        self.fifo = bytearray()
        self.overflowed = False
        self._next_ms = None  # virtual time of the next sample (float ms)
        self.samples_made = 0
        self.samples_dropped = 0

    # -- timing --------------------------------------------------------------------------------------------
    def period_ms(self) -> float:
        r = self.regs
        dlpf, fchoice_b = r[0x1A] & 0x07, r[0x1B] & 0x03
        base = 1000.0 if fchoice_b == 0 and 0 < dlpf < 7 else 8000.0
        rate = base / (1 + r[0x19]) if base == 1000.0 else base
        return 1000.0 / rate * (1.0 + self.clock_ppm * 1e-6)

    def _record_len(self) -> int:
        f = self.regs[0x23]
        n = 0
        if f & 0x08:
            n += 6
        if f & 0x18:
            n += 2  # temperature goes with either sensor
        if f & 0x10:
            n += 6
        return n

    def _sample(self, t_ms: float) -> bytes:
        ts = (t_ms - self.env.t0_ms) / 1000.0 if self.env.t0_ms is not None else 0.0
        ax, ay, az = self.env.accel_at(ts)
        gx, gy, gz = self.env.gyro_at(ts)
        temp = self.env.value_at("temperature_c", ts)
        a = _ACC_SENS[(self.regs[0x1C] >> 3) & 3]
        g = _GYR_SENS[(self.regs[0x1B] >> 3) & 3]
        vals = (_i16(ax * a), _i16(ay * a), _i16(az * a), _i16((temp - 25.0) * 326.8),
                _i16(gx * g), _i16(gy * g), _i16(gz * g))
        return _SAMPLE.pack(*vals)  # the same bytes as seven to_bytes(2, "big"), at a third of the cost

    def _samples(self, start: float, per: float, n: int) -> list:
        """The records of ``n`` samples from ``start`` every ``per`` ms: ``_sample`` of each, the same bytes, with
        the acceleration of the whole window computed at once (``Environment.accel_many``)."""
        np = numpy()

        t_ms = start + np.arange(n) * per  # start + i * per, as _sample's callers compute each instant
        ts = (t_ms - self.env.t0_ms) / 1000.0
        acc = self.env.accel_many(ts)
        if acc is None or n < 2:
            return [self._sample(x) for x in t_ms.tolist()]
        env = self.env
        a = _ACC_SENS[(self.regs[0x1C] >> 3) & 3]
        g = _GYR_SENS[(self.regs[0x1B] >> 3) & 3]
        cols = [acc[0] * a, acc[1] * a, acc[2] * a, (env.value_many("temperature_c", ts) - 25.0) * 326.8]
        cols += [env.value_many(name, ts) * g for name in ("gyro_dps_x", "gyro_dps_y", "gyro_dps_z")]
        # _i16: round half to even, then clamp to int16; big-endian, the seven registers of a sample in order
        vals = np.clip(np.rint(np.stack(cols, axis=1)), -32768, 32767).astype(">i2").tobytes()
        return [vals[i:i + 14] for i in range(0, 14 * n, 14)]

    def _advance(self):
        """Produce the samples due up to now: data registers always, the FIFO when enabled."""
        now = self.now_ms()
        self.env.t(now)  # fix the scenario's t0 on first use
        if self.regs[0x6B] & 0x40:  # asleep
            self._next_ms = None
            return
        per = self.period_ms()
        if self._next_ms is None:
            self._next_ms = now + per
            return
        if now < self._next_ms:
            return
        due = int((now - self._next_ms) // per) + 1
        fifo_on = (self.regs[0x6A] & 0x40) and self._record_len()
        rec_len = self._record_len()
        keep = due if fifo_on else 1  # without the FIFO only the newest sample is visible
        if fifo_on:
            cap = FIFO_SIZE // rec_len + 1
            if due > cap:  # only the last FIFO-full can survive (mode 0) or the first (mode 1)
                keep = cap
        start = self._next_ms + (due - keep) * per if not (self.regs[0x1A] & 0x40) else self._next_ms
        last = None
        for rec in self._samples(start, per, keep):
            last = rec
            self.samples_made += 1
            if fifo_on:
                self._push(self._fifo_record(rec))
        if due > keep:
            self.samples_dropped += due - keep
            self.overflowed = True
            self.regs[0x3A] |= 0x10
        if last is not None:
            self.regs[0x3B:0x49] = last
            self.regs[0x3A] |= 0x01
        self._next_ms += due * per

    def _fifo_record(self, rec: bytes) -> bytes:
        f = self.regs[0x23]
        out = b""
        if f & 0x08:
            out += rec[0:6]
        if f & 0x18:
            out += rec[6:8]
        if f & 0x10:
            out += rec[8:14]
        return out

    def _push(self, rec: bytes):
        if len(self.fifo) + len(rec) > FIFO_SIZE:
            self.overflowed = True
            self.regs[0x3A] |= 0x10
            if self.regs[0x1A] & 0x40:
                self.samples_dropped += 1
                return  # FIFO_MODE 1: no more writes
            del self.fifo[: len(self.fifo) + len(rec) - FIFO_SIZE]
            self.samples_dropped += 1
        self.fifo += rec

    # -- registers -----------------------------------------------------------------------------------------
    def next_ptr(self, reg):
        return reg if reg == 0x74 else (reg + 1) & 0xFF  # FIFO_R_W does not auto-increment

    def write(self, data):
        self._advance()
        return super().write(data)

    def read(self, n):
        self._advance()
        if self.ptr == 0x74 and n:
            # a burst from FIFO_R_W (the pointer stays there): the oldest n bytes at once, 0xFF once it is empty,
            # the same bytes read_reg gives one at a time
            self.transactions += 1
            out = bytes(self.fifo[:n])
            del self.fifo[:n]
            return out + b"\xff" * (n - len(out))
        return super().read(n)

    def write_reg(self, reg, v):
        if reg == 0x6B and v & 0x80:
            self._reset()
            return
        if reg == 0x6A and v & 0x04:
            self.fifo = bytearray()
            self.overflowed = False
            v &= ~0x04
        if reg < 128:
            self.regs[reg] = v

    def read_reg(self, reg):
        if reg == 0x75:
            return WHO_AM_I
        if reg == 0x74:
            if not self.fifo:
                return 0xFF
            b = self.fifo[0]
            del self.fifo[0]
            return b
        if reg == 0x72:
            return (len(self.fifo) >> 8) & 0x1F
        if reg == 0x73:
            return len(self.fifo) & 0xFF
        if reg == 0x3A:
            v = self.regs[0x3A]
            self.regs[0x3A] = 0  # cleared on read
            return v
        return self.regs[reg] if reg < 128 else 0
