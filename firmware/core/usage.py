"""Usage meter for pay-per-use service: run time above a threshold, on/off cycles, integrated totals.

Usage::

    from core.usage import UsageMeter
    u = UsageMeter(on=120, off=100)       # running while the value is >= on, until it drops below off
    u.restore(rtc_blob, flash_blob)       # the newest valid copy wins (either may be None or torn)
    u.update(value, dt_ms)                # value: 0..65535 (e.g. W, mL/s), dt_ms since the previous update
    u.run_s, u.cycles, u.total            # counters that only ever grow (total in value-units * seconds)
    blob = u.to_bytes()                   # STATE_SIZE bytes, CRC-16 and a generation number

Integration holds each value over the interval that follows it (the previous value times ``dt_ms``); the
interval's run time counts when the meter was running at its start. Counters never decrease: updates only add,
they saturate at 2**32 - 1 (2**64 - 1 for ``total``) instead of wrapping, and ``restore`` takes the copy with the
highest generation, refusing torn or foreign blobs by CRC. Save (``to_bytes``) to both RTC memory and flash
before you report the counters, and a reset can never make a reported counter go backwards.

Everything is a small int per update except ``total`` once it passes 2**30 (a long int on a 32-bit port; it is
updated once per wake, not per sample).
"""

import struct

from micropython import const

STATE_SIZE = const(32)
_MAGIC = const(0x55)
_FMT = "<BBHIIIIIIH"  # magic, flags, run_ms, gen, run_s, cycles, total_lo, total_hi, acc, prev; then CRC-16
_U32 = const(0xFFFFFFFF)
_VMAX = const(0xFFFF)


def crc16(buf, n):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of buf[:n]."""
    c = 0xFFFF
    for i in range(n):
        c ^= buf[i] << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c


class UsageMeter:
    def __init__(self, on, off=None):
        if off is None:
            off = on
        if not (0 <= off <= on <= _VMAX):
            raise ValueError("usage meter: need 0 <= off (%r) <= on (%r) <= 65535" % (off, on))
        self.on = on
        self.off = off
        self._buf = bytearray(STATE_SIZE)
        self.running = False
        self.gen = 0
        self.run_s = 0
        self.run_ms = 0
        self.cycles = 0
        self.total = 0
        self.acc = 0  # value * ms not yet a whole value * second (< 1000)
        self.prev = 0

    def update(self, value, dt_ms):
        """Account dt_ms (>= 0) at the previous value and state, then take ``value`` (clamped to 0..65535)."""
        if dt_ms < 0:
            raise ValueError("usage meter: dt_ms is %d; time only moves forward" % dt_ms)
        if value < 0:
            value = 0
        elif value > _VMAX:
            value = _VMAX
        if dt_ms:
            ds = dt_ms // 1000
            dm = dt_ms - ds * 1000
            if self.running:
                ms = self.run_ms + dm
                s = self.run_s + ds + ms // 1000
                self.run_ms = ms % 1000
                self.run_s = s if s < _U32 else _U32
            pv = self.prev
            if pv:
                acc = self.acc + pv * dm  # < 1000 + 65535 * 999 < 2**26
                t = self.total + pv * ds + acc // 1000
                self.acc = acc % 1000
                self.total = t if t < 0xFFFFFFFFFFFFFFFF else 0xFFFFFFFFFFFFFFFF
        if self.running:
            if value < self.off:
                self.running = False
        elif value >= self.on:
            self.running = True
            if self.cycles < _U32:
                self.cycles += 1
        self.prev = value

    def to_bytes(self):
        """A new generation of the state: STATE_SIZE bytes (one buffer, reused: copy it if you keep it)."""
        if self.gen < _U32:
            self.gen += 1
        b = self._buf
        struct.pack_into(_FMT, b, 0, _MAGIC, 1 if self.running else 0, self.run_ms, self.gen, self.run_s,
                         self.cycles, self.total & _U32, self.total >> 32, self.acc, self.prev)
        c = crc16(b, STATE_SIZE - 2)
        b[STATE_SIZE - 2] = c & 0xFF
        b[STATE_SIZE - 1] = c >> 8
        return b

    @staticmethod
    def valid(b):
        return (b is not None and len(b) == STATE_SIZE and b[0] == _MAGIC
                and crc16(b, STATE_SIZE - 2) == b[STATE_SIZE - 2] | (b[STATE_SIZE - 1] << 8))

    def restore(self, *blobs):
        """Take the valid blob with the highest generation (never one older than the state held now).

        Returns True when a blob was taken; False when none was valid and newer (the state is then unchanged).
        """
        best = None
        bgen = -1
        for b in blobs:
            if UsageMeter.valid(b):
                g = struct.unpack_from("<I", b, 4)[0]
                if g > bgen:
                    best = b
                    bgen = g
        if best is None or bgen < self.gen:
            return False
        _, fl, run_ms, gen, run_s, cyc, tlo, thi, acc, prev = struct.unpack_from(_FMT, best, 0)
        # a counter never goes backwards, even against a newer-generation copy that holds less
        self.gen = gen
        self.running = bool(fl & 1)
        if (run_s, run_ms) > (self.run_s, self.run_ms):
            self.run_s = run_s
            self.run_ms = run_ms
        if cyc > self.cycles:
            self.cycles = cyc
        t = (thi << 32) | tlo
        if t > self.total:
            self.total = t
            self.acc = acc
        self.prev = prev
        return True
