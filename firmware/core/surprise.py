"""Anomaly likelihood detector ("surprise"): integer arithmetic, 32 bytes of state, nothing allocated per update.

Usage (through ``core.detector.make``, which picks the method from the config)::

    d = make({"raise": 3.5})        # or Surprise(cfg); ValueError names a bad key
    d.from_bytes(rtc_blob)          # after deep sleep (ValueError on a blob that is not a state)
    ev = d.update(reading)          # an int: a raw reading or a feature in its fixed-point format
    if ev & RAISED: ...             # d.score: 0..65535 (Q16 of 0..1), d.lz: the likelihood statistic
    rtc_blob = d.to_bytes()         # d.size bytes: STATE_SIZE (32), or 440 with a daily profile of 96 bins

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
   **Seasonal channel** (``period`` = readings per cycle, e.g. a day; 0: off): a profile of ``bins`` (<= 96)
   int32 means of the reading at each phase of the cycle (EWMA over visits, ``season_shift``); the reading's
   distance from its bin's mean, in units of its own spread, goes through steps 2-3 with its own statistics, and
   ``season_gain``/4 of that likelihood competes with the surprise's: lz = max(lz, gain * lz2 / 4). This finds
   what the level EWMA cannot: a daily rise that does not come, a day that goes flat (NAB's art_daily_nojump,
   art_daily_flatmiddle). It scores nothing until one cycle filled the profile and ``warmup`` readings passed.
   State: 32 + 24 + 4 * bins bytes (440 at 96 bins), the profile in ``self.prof`` (an ``array('i')``).
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

from core.fixed import bits, config_num
from core.fixed import ewma as _ewma

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
    "min_surprise": 0,
    "period": 0,
    "bins": 96,
    "season_shift": 2,
    "season_gain": 3,
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
# the seasonal channel (``period`` > 0): its short mean, long mean and long deviation as _SM.._LD, then
_SM2 = const(10)
_PH = const(13)  # phase: readings since the cycle began (0 .. period - 1)
_N2 = const(14)  # readings the channel has scored (saturates at 65535)
_S2 = const(15)  # spread of the reading about its bin's profile, Q4
_F2 = const(16)  # fraction of that spread's EWMA
_NW = const(17)
STATE_SIZE = const(32)  # without the seasonal channel; with it, 32 + 24 + 4 * bins (``Surprise.size``)
MAX_PERIOD = const(16384)
MAX_BINS = const(96)
_FMT2 = "<HHiHiiiH"  # phase, count, spread, its fraction, short mean, long mean, long deviation, pad: 24 bytes
_MAGIC = const(0x5E)
# magic, flags, count, hold-off, level, spread, short mean, long mean, long deviation, two fractions, pad
_FMT = "<BBHHiiiiiHHH"

# -log10(upper Gaussian tail at z = lz / 1.2533) / 10, Q16, at lz = 0, 0.5, 1 ... 8 deviations
_LOGTAIL = (1973, 3029, 4409, 6139, 8241, 10732, 13624, 16926, 20646, 24789, 29360, 34363, 39801, 45676, 51990,
            58744, 65535)


def _like(st, i, r, first, warm, nb, sh, lg):
    # steps 2-3 for one raw surprise r: short mean st[i], long mean st[i + 1], long deviation st[i + 2]; -> lz
    sm = st[i]
    sm += ((r << 12) - sm) >> sh
    st[i] = sm
    lm = sm if first else st[i + 1]
    ld = st[i + 2]
    vd = ld if ld > _VFLOOR else _VFLOOR
    e = sm - lm
    lz = _ratio(e, vd, 4) if e > 0 else 0
    if lz > 0x3FFF:
        lz = 0x3FFF
    ae = e if e >= 0 else -e
    if not warm and ae > vd * _CAP:
        ae = vd * _CAP
        e = ae if e > 0 else -ae
    s = nb if nb < lg else lg
    st[i + 1] = lm + (e >> s)
    st[i + 2] = ld + ((ae - ld) >> s)
    return lz


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
    return config_num(cfg.get(key, DEFAULTS[key]), key, lo, hi, integer)


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
    out["min_surprise"] = _num(cfg, "min_surprise", 0, 16)
    out["period"] = _num(cfg, "period", 0, MAX_PERIOD, True)
    out["bins"] = _num(cfg, "bins", 1, MAX_BINS, True)
    out["season_shift"] = _num(cfg, "season_shift", 0, 8, True)
    out["season_gain"] = _num(cfg, "season_gain", 1, 4, True)
    if out["period"] == 1:
        raise ValueError("detector config 'period' = 1: give the readings per cycle (2 to %d), or 0 for none"
                         % MAX_PERIOD)
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
        # an absolute gate: a raise needs the reading itself this many spreads (floored at min_spread) from its
        # baseline. The likelihood is relative, so on a quiet signal quantised to a few steps (an RMS in whole mg)
        # a run of one-step flips can look unlikely; a node states its sensor's resolution with these two keys.
        self._gate = int(c["min_surprise"] * 256 + 0.5)
        self._per = c["period"]
        self._nbin = min(c["bins"], self._per) if self._per else 0
        self._ps = c["season_shift"]
        self._sg = c["season_gain"]
        self.prof = array("i", [0] * self._nbin)
        self.size = STATE_SIZE + (24 + 4 * self._nbin if self._per else 0)
        self.st = array("i", [0] * _NW)
        self._buf = bytearray(self.size)
        self.reset()

    def reset(self):
        st = self.st
        for i in range(_NW):
            st[i] = 0
        for i in range(self._nbin):
            self.prof[i] = 0
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
        lz = _like(st, _SM, r, cnt == 0, warm, nb, self._sh, self._lg)
        if self._per:
            z = (self._season(x16, cnt) * self._sg) >> 2
            if z > lz:
                lz = z
        self.lz = lz
        k = lz >> 3
        if k >= 16:
            self.score = 65535
        else:
            a = _LOGTAIL[k]
            self.score = a + (((_LOGTAIL[k + 1] - a) * (lz & 7)) >> 3)
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
        ev = HIT if lz >= self._raise and r >= self._gate else 0
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

    def _season(self, x16, cnt):
        # the seasonal channel: the reading against its bin's profile (the same time in earlier cycles), scored
        # by its own likelihood; 0 until a cycle has filled the profile and the channel's warm-up has passed
        st = self.st
        per = self._per
        nbin = self._nbin
        ph = st[_PH]
        b = ph * nbin // per
        prof = self.prof
        p = prof[b]
        lz = 0
        if cnt < per:  # the first cycle fills the profile: a bin's first reading sets it
            if ph == 0 or (ph - 1) * nbin // per != b:
                prof[b] = x16
            else:
                prof[b] = p + ((x16 - p) >> self._ps)
        else:
            n2 = st[_N2]
            s2 = st[_S2]
            eff = s2 if s2 > self._floor else self._floor
            d = x16 - p
            ad = d if d >= 0 else -d
            r = _ratio(ad, eff, 8)
            if r > _RMAX:
                r = _RMAX
            warm = n2 < self._warm
            nb = bits(n2) if warm else 16
            z = _like(st, _SM2, r, n2 == 0, warm, nb, self._sh, self._lg)
            if not warm:
                lz = z
            clip = eff << 4
            if not warm and ad > clip:
                ad = clip
                d = clip if d > 0 else -clip
            prof[b] = p + (d >> self._ps)
            st[_S2] = _ewma(s2, ad - s2, nb if nb < self._ss else self._ss, st, _F2)
            if n2 < 65535:
                st[_N2] = n2 + 1
        ph += 1
        st[_PH] = 0 if ph >= per else ph
        return lz

    def to_bytes(self):
        """The state as STATE_SIZE bytes (one buffer, reused: copy it if you keep it)."""
        st = self.st
        struct.pack_into(_FMT, self._buf, 0, _MAGIC, st[_FLAGS], st[_CNT], st[_QUIET], st[_LVL], st[_SPR],
                         st[_SM], st[_LM], st[_LD], st[_FL], st[_FS], 0)
        if self._per:
            struct.pack_into(_FMT2, self._buf, STATE_SIZE, st[_PH], st[_N2], st[_S2], st[_F2], st[_SM2],
                             st[_SM2 + 1], st[_SM2 + 2], 0)
            for i in range(self._nbin):
                struct.pack_into("<i", self._buf, STATE_SIZE + 24 + 4 * i, self.prof[i])
        return self._buf

    def from_bytes(self, b):
        """Restore the state from ``to_bytes()``; ValueError (state unchanged) when b is not one."""
        if b is None or len(b) != self.size or b[0] != _MAGIC:
            raise ValueError("detector state: expected %d bytes starting 0x%02X; start fresh with reset()"
                             % (self.size, _MAGIC))
        _, fl, cnt, q, lvl, spr, sm, lm, ld, f0, f1, _ = struct.unpack_from(_FMT, b, 0)
        if spr < 0 or sm < 0 or ld < 0 or lvl > _XMAX * 16 or lvl < -_XMAX * 16 or sm > _RMAX << 12:
            raise ValueError("detector state: a statistic is out of range; start fresh with reset()")
        if self._per:
            ph, n2, s2, f2, sm2, lm2, ld2, _ = struct.unpack_from(_FMT2, b, STATE_SIZE)
            prof = struct.unpack_from("<%di" % self._nbin, b, STATE_SIZE + 24)
            if (ph >= self._per or s2 < 0 or sm2 < 0 or ld2 < 0 or sm2 > _RMAX << 12
                    or any(v > _XMAX * 16 or v < -_XMAX * 16 for v in prof)):
                raise ValueError("detector state: a seasonal statistic is out of range; start fresh with reset()")
            for i, v in enumerate(prof):
                self.prof[i] = v
            for i, v in ((_PH, ph), (_N2, n2), (_S2, s2), (_F2, f2), (_SM2, sm2), (_SM2 + 1, lm2),
                         (_SM2 + 2, ld2)):
                self.st[i] = v
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
