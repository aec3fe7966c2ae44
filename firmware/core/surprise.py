"""Anomaly likelihood detector ("surprise"): integer arithmetic, 32 bytes of state, nothing allocated per update.

Usage (through ``core.detector.make``, which picks the method from the config)::

    d = make({"raise": 3.5})        # or Surprise(cfg); ValueError names a bad key
    d.from_bytes(rtc_blob)          # after deep sleep (ValueError on a blob that is not a state)
    ev = d.update(reading)          # an int: a raw reading or a feature in its fixed-point format
    if ev & RAISED: ...             # d.score: 0..65535 (Q16 of 0..1), d.lz: the likelihood statistic
    rtc_blob = d.to_bytes()         # STATE_SIZE (32) bytes: the wake cycle keeps them in RTC memory

The method is the one that makes HTM score on NAB (Ahmad et al., "Unsupervised real-time anomaly detection for
streaming data", 2017: the anomaly likelihood), on a cheaper raw score. Per ``update(x)``:

1. **Raw surprise** r: how far the reading is from a slow EWMA level, in units of an EWMA of the absolute
   deviation (the spread), saturating at 16 spreads (Q8): ``r = |16x - L| / S``. L and S carry their fractions
   (16 bits) so that large shifts do not drag them (a plain ``>>`` floors every step).
2. **Short mean** m of r over about ``2**short_shift`` readings: one wild reading or a run of odd ones.
3. **Likelihood** of m against its own history: the long mean M and mean absolute deviation V of m (EWMAs over
   ``2**long_shift`` readings), ``lz = (m - M) / V`` in deviations (Q4). A series that is always noisy has a
   high M and V and so a high bar; a quiet one a low bar: the threshold adapts to each signal, which is what a
   fixed threshold on r cannot do. An excess over 8 V is clipped before it enters M and V, so one burst cannot
   hide the next.
4. **Score**: the Gaussian tail of lz (sigma = 1.2533 V for a normal m), as HTM's log score:
   ``-log10(P(tail)) / 10`` in Q16 (a table at half-deviation steps, linear in between): a 0..1 likelihood that
   NAB's threshold sweep can use.
5. **Decision**: raise when lz >= ``raise`` and no raise happened in the last ``holdoff`` readings (NAB counts
   one detection per anomaly window; the hold-off keeps one event from costing several false positives); the
   alarm clears when lz < ``clear``. Nothing is raised during ``warmup`` (EWMAs start as running means).

Flags returned: RAISED, CLEARED (edges), ACTIVE (state after the update), HIT (lz >= raise now), WARMUP.
Every intermediate stays below 2**30 in magnitude (a small int on a 32-bit port), the state words live in an
``array('i')``: an update allocates nothing (tests/test_core_surprise.py measures it under MicroPython).
"""

import struct
from array import array

from micropython import const

from core.fixed import bits

RAISED = const(1)
CLEARED = const(2)
ACTIVE = const(4)
HIT = const(8)
WARMUP = const(16)

_XMAX = const(0xFFFFFF)
_RMAX = const(4096)  # raw surprise saturates at 16 spreads (Q8)
_CAP = const(8)  # an excess over 8 long deviations is clipped before it enters the long statistics
_VFLOOR = const(64)  # the long deviation's floor, Q20

DEFAULTS = {
    "method": "surprise",
    "level_shift": 5,
    "spread_shift": 10,
    "short_shift": 4,
    "long_shift": 11,
    "warmup": 300,
    "raise": 3.5,
    "clear": 1.75,
    "holdoff": 100,
    "min_spread": 1,
}

# state words (array 'i')
_CNT = const(0)  # readings seen (saturates at 65535)
_LVL = const(1)  # level, Q4 of the reading
_SPR = const(2)  # spread: mean |16x - level|, Q4
_SM = const(3)  # short mean of the raw surprise, Q20 (r << 12)
_LM = const(4)  # long mean of the short mean, Q20
_LD = const(5)  # long mean |short mean - long mean|, Q20
_QUIET = const(6)  # readings left in the hold-off
_FLAGS = const(7)  # bit 0: alarm active
_FL = const(8)  # fractions of the level and spread EWMAs (units of 2**-16)
_FS = const(9)
_NW = const(10)
STATE_SIZE = const(32)
_MAGIC = const(0x5E)
# magic, flags, count, hold-off, level, spread, short mean, long mean, long deviation, two fractions, pad
_FMT = "<BBHHiiiiiHHH"

# -log10(upper Gaussian tail at z = lz / 1.2533) / 10, Q16, at lz = 0, 0.5, 1 ... 8 deviations
_LOGTAIL = (1973, 3029, 4409, 6139, 8241, 10732, 13624, 16926, 20646, 24789, 29360, 34363, 39801, 45676, 51990,
            58744, 65535)


def _ewma(v, d, s, st, i):
    # v + d / 2**s (0 <= s <= 16), the fraction carried in st[i] (< 2**16)
    f = ((d & ((1 << s) - 1)) << (16 - s)) + st[i]  # < 2**17
    st[i] = f & 0xFFFF
    return v + (d >> s) + (f >> 16)


def _ratio(num, den, q):
    # num / den in Q(q) for 0 <= num, den < 2**29, q <= 8, both scaled down so that num << q stays a small int
    k = bits(num) + q - 29
    if k > 0:
        num >>= k
        den >>= k
    if den < 1:
        den = 1
    return (num << q) // den


def _num(cfg, key, lo, hi, integer=False):
    v = cfg.get(key, DEFAULTS[key])
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise ValueError("detector config '%s': expected %s, got %r" % (key, "an integer" if integer else "a number",
                                                                        v))
    if v < lo or v > hi:
        raise ValueError("detector config '%s' = %r is out of range: give %s to %s" % (key, v, lo, hi))
    return v


def validate(cfg):
    """Check a config dict; return it merged with DEFAULTS. ValueError names the key and what is allowed."""
    for key in cfg:
        if key not in DEFAULTS and key != "replay" and not key.startswith("_"):
            raise ValueError("detector config: unknown key '%s' for method surprise (known: %s); the keys of the "
                             "old detector need \"method\": \"baseline\"" % (key, ", ".join(sorted(DEFAULTS))))
    out = {"method": "surprise"}
    for key in ("level_shift", "spread_shift", "short_shift", "long_shift"):
        out[key] = _num(cfg, key, 0, 12, True)
    out["warmup"] = _num(cfg, "warmup", 0, 65535, True)
    out["holdoff"] = _num(cfg, "holdoff", 0, 65535, True)
    out["raise"] = _num(cfg, "raise", 0.25, 1000)
    out["clear"] = _num(cfg, "clear", 0, 1000)
    out["min_spread"] = _num(cfg, "min_spread", 0, _XMAX)
    if out["clear"] >= out["raise"]:
        raise ValueError("detector config: 'clear' (%r) must be below 'raise' (%r) for hysteresis"
                         % (out["clear"], out["raise"]))
    return out


class Surprise:
    """See the module docstring. ``cfg``: a dict (validated; None for the defaults)."""

    def __init__(self, cfg=None):
        c = validate(cfg or {})
        self.cfg = c
        self._ls = c["level_shift"]
        self._ss = c["spread_shift"]
        self._sh = c["short_shift"]
        self._lg = c["long_shift"]
        self._warm = c["warmup"]
        self._hold = c["holdoff"]
        self._raise = int(c["raise"] * 16 + 0.5)
        self._clear = int(c["clear"] * 16 + 0.5)
        f = int(c["min_spread"] * 16 + 0.5)
        self._floor = f if f > 0 else 1
        self.st = array("i", [0] * _NW)
        self._buf = bytearray(STATE_SIZE)
        self.reset()

    def reset(self):
        st = self.st
        for i in range(_NW):
            st[i] = 0
        self.score = 0
        self.lz = 0

    @property
    def active(self):
        return bool(self.st[_FLAGS] & 1)

    def update(self, x):
        """Feed one value (int); return the event flags."""
        if x > _XMAX:
            x = _XMAX
        elif x < -_XMAX:
            x = -_XMAX
        st = self.st
        x16 = x << 4
        cnt = st[_CNT]
        lvl = st[_LVL] if cnt else x16
        spr = st[_SPR]
        eff = spr if spr > self._floor else self._floor
        diff = x16 - lvl
        dev = diff if diff >= 0 else -diff
        r = _ratio(dev, eff, 8)
        if r > _RMAX:
            r = _RMAX
        warm = cnt < self._warm
        # during the warm-up the baseline and the long statistics are running means (shift bits(count) while that
        # is below the configured shift), then EWMAs; the short mean is an EWMA from the start
        nb = bits(cnt) if warm else 16
        sm = st[_SM]
        sm += ((r << 12) - sm) >> self._sh
        st[_SM] = sm
        lm = st[_LM] if cnt else sm
        ld = st[_LD]
        vd = ld if ld > _VFLOOR else _VFLOOR
        e = sm - lm
        lz = _ratio(e, vd, 4) if e > 0 else 0
        if lz > 0x3FFF:
            lz = 0x3FFF
        self.lz = lz
        k = lz >> 3
        if k >= 16:
            self.score = 65535
        else:
            a = _LOGTAIL[k]
            self.score = a + (((_LOGTAIL[k + 1] - a) * (lz & 7)) >> 3)
        ae = e if e >= 0 else -e
        if not warm and ae > vd * _CAP:
            ae = vd * _CAP
            e = ae if e > 0 else -ae
        s = nb if nb < self._lg else self._lg
        st[_LM] = lm + (e >> s)
        st[_LD] = ld + ((ae - ld) >> s)
        # the reading's baseline; a deviation beyond 16 spreads is clipped so one spike cannot blow it up
        clip = eff << 4
        if not warm and dev > clip:
            dev = clip
            diff = clip if diff > 0 else -clip
        st[_LVL] = _ewma(lvl, diff, nb if nb < self._ls else self._ls, st, _FL)
        st[_SPR] = _ewma(spr, dev - spr, nb if nb < self._ss else self._ss, st, _FS)
        if cnt < 65535:
            st[_CNT] = cnt + 1
        if warm:
            return WARMUP
        ev = HIT if lz >= self._raise else 0
        q = st[_QUIET]
        if q:
            st[_QUIET] = q - 1
        if not st[_FLAGS] & 1:
            if ev and not q:
                st[_FLAGS] = 1
                st[_QUIET] = self._hold
                ev |= RAISED
        elif lz < self._clear:
            st[_FLAGS] = 0
            ev |= CLEARED
        if st[_FLAGS] & 1:
            ev |= ACTIVE
        return ev

    def to_bytes(self):
        """The state as STATE_SIZE bytes (one buffer, reused: copy it if you keep it)."""
        st = self.st
        struct.pack_into(_FMT, self._buf, 0, _MAGIC, st[_FLAGS], st[_CNT], st[_QUIET], st[_LVL], st[_SPR],
                         st[_SM], st[_LM], st[_LD], st[_FL], st[_FS], 0)
        return self._buf

    def from_bytes(self, b):
        """Restore the state from ``to_bytes()``; ValueError (state unchanged) when b is not one."""
        if b is None or len(b) != STATE_SIZE or b[0] != _MAGIC:
            raise ValueError("detector state: expected %d bytes starting 0x%02X; start fresh with reset()"
                             % (STATE_SIZE, _MAGIC))
        _, fl, cnt, q, lvl, spr, sm, lm, ld, f0, f1, _ = struct.unpack(_FMT, b)
        if spr < 0 or sm < 0 or ld < 0 or lvl > _XMAX * 16 or lvl < -_XMAX * 16 or sm > _RMAX << 12:
            raise ValueError("detector state: a statistic is out of range; start fresh with reset()")
        st = self.st
        st[_FLAGS] = fl & 1
        st[_CNT] = cnt
        st[_QUIET] = q
        st[_LVL] = lvl
        st[_SPR] = spr
        st[_SM] = sm
        st[_LM] = lm
        st[_LD] = ld
        st[_FL] = f0
        st[_FS] = f1
