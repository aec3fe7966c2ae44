"""Baseline detector (method "baseline"): EWMA level and spread, thresholds; 32 bytes of state for RTC memory.

The detector fieldnode shipped first; the default is now ``core.surprise`` (see ``core.detector``), which scores
better on data nobody tuned it on. This one stays for its absolute, rate-of-change and flat-line triggers.

Usage::

    from core.baseline import Baseline, RAISED, ACTIVE
    d = Baseline({"raise": 4.0, "clear": 2.0, "k": 2, "n": 3})   # config from JSON; ValueError names the key
    d.from_bytes(rtc_blob)          # after deep sleep (raises ValueError on a blob that is not a state)
    ev = d.update(reading)          # an int: a raw reading or a feature in its fixed-point format
    if ev & RAISED: ...             # report; d.score is 0..256 (Q8 of 0..1)
    rtc_blob = d.to_bytes()         # 32 bytes (STATE_SIZE)

What it does on each ``update(x)`` (x is clamped to +-(2**24 - 1)):

- **Baseline**: level L and spread D are EWMAs in Q4 (x * 16): ``L += (16x - L) / 2**level_shift`` and
  ``D += (|16x - L| - D) / 2**spread_shift``, the deviation clipped at ``raise`` spreads first so one spike cannot
  blow the baseline up. During warm-up the shifts start at 0 and grow (a running mean), so the baseline is ready
  after ``warmup`` updates; no alarm is raised before that. While an alarm is active the baseline adapts
  ``active_shift`` bits slower (an effective shift is capped at 16). Each EWMA carries its fraction (16 bits) from
  one update to the next, so it settles on the true mean: a plain ``>> shift`` floors every step, and with a
  large shift that drags the spread far below the mean deviation.
- **Relative threshold**: z = |16x - L| / max(D, 16 * min_spread), in spreads (Q4); a hit when z >= ``raise``
  (only upward or downward deviations when ``direction`` says so).
- **Absolute thresholds**: a hit when x > ``high`` or x < ``low``.
- **Rate of change**: a hit when |x - previous| > ``roc`` (absolute) or > ``roc_rel`` spreads.
- **Flat line**: a fast spread F (``D``'s EWMA with ``flat_shift``) against the slow one: a hit when D / F >=
  ``flat`` (the signal went quiet: a stuck sensor, a stopped machine), while D is above ``min_spread`` and the
  reading is not itself a relative hit.
- **Debounce and hysteresis**: the alarm is raised when at least ``k`` of the last ``n`` updates hit; it clears
  when at least ``k`` of the last ``n`` updates were back inside the clear levels (z < ``clear``,
  ``low + hysteresis`` <= x <= ``high - hysteresis``, no flat line). After a raise, no new raise for ``holdoff``
  updates.

``update`` returns event flags: RAISED, CLEARED (edges), ACTIVE (state after the update), HIT (this update's raw
condition), WARMUP, and the causes of a hit: REL, ABS, ROC, FLAT. Nothing allocates per update on a 32-bit port
(every intermediate is a small int).
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
REL = const(32)
ABS = const(64)
ROC = const(128)
FLAT = const(256)

STATE_SIZE = const(32)
_MAGIC = const(0xD7)
# magic, flags, count, hit mask, clear mask, level, spread, previous x, hold-off, fast spread, the three fractions
_FMT = "<BBHHHiiiHiHHH"
_XMAX = const(0xFFFFFF)
_ZMAX = const(0x4000)  # z saturates at 1024 spreads (Q4)

DEFAULTS = {
    "method": "baseline",
    "level_shift": 5,
    "spread_shift": 5,
    "active_shift": 2,
    "warmup": 30,
    "raise": 4.0,
    "clear": 2.0,
    "direction": "both",
    "min_spread": 1,
    "high": None,
    "low": None,
    "hysteresis": 0,
    "roc": None,
    "roc_rel": None,
    "k": 1,
    "n": 1,
    "holdoff": 0,
    "flat": None,
    "flat_shift": 4,
}


def _num(cfg, key, lo, hi, integer=False, optional=False):
    return config_num(cfg.get(key, DEFAULTS[key]), key, lo, hi, integer, optional)


def validate(cfg):
    """Check a config dict; return it merged with DEFAULTS. ValueError names the key and what is allowed.

    Keys starting with '_' and the host's 'replay' section are ignored here.
    """
    if not isinstance(cfg, dict):
        raise ValueError("detector config must be a JSON object (a dict), got %s" % type(cfg).__name__)
    for key in cfg:
        if key not in DEFAULTS and key != "replay" and not key.startswith("_"):
            raise ValueError("detector config: unknown key '%s'; known: %s" % (key, ", ".join(sorted(DEFAULTS))))
    out = {"method": "baseline"}
    for key in ("level_shift", "spread_shift", "active_shift", "flat_shift"):
        out[key] = _num(cfg, key, 0, 12, True)
    out["warmup"] = _num(cfg, "warmup", 0, 65535, True)
    out["raise"] = _num(cfg, "raise", 0.25, 1000)
    out["clear"] = _num(cfg, "clear", 0, 1000)
    if out["clear"] >= out["raise"]:
        raise ValueError("detector config: 'clear' (%r) must be below 'raise' (%r) for hysteresis"
                         % (out["clear"], out["raise"]))
    d = cfg.get("direction", "both")
    if d not in ("both", "up", "down"):
        raise ValueError("detector config 'direction' = %r: give \"both\", \"up\" or \"down\"" % (d,))
    out["direction"] = d
    out["min_spread"] = _num(cfg, "min_spread", 0, _XMAX)
    for key in ("high", "low", "roc"):
        out[key] = _num(cfg, key, -_XMAX, _XMAX, optional=True)
    if out["high"] is not None and out["low"] is not None and out["low"] >= out["high"]:
        raise ValueError("detector config: 'low' (%r) must be below 'high' (%r)" % (out["low"], out["high"]))
    out["hysteresis"] = _num(cfg, "hysteresis", 0, _XMAX)
    out["roc_rel"] = _num(cfg, "roc_rel", 0.25, 1000, optional=True)
    out["flat"] = _num(cfg, "flat", 1.5, 1000, optional=True)
    out["n"] = _num(cfg, "n", 1, 16, True)
    out["holdoff"] = _num(cfg, "holdoff", 0, 65535, True)
    out["k"] = _num(cfg, "k", 1, out["n"], True)
    return out


def _pop(m):
    c = 0
    while m:
        m &= m - 1
        c += 1
    return c


def _z(dev, eff):
    # dev / eff in Q4, both >= 0 and < 2**29; scaled so dev << 4 fits in a small int.
    k = bits(dev) - 25
    if k > 0:
        dev >>= k
        eff >>= k
    if eff < 1:
        eff = 1
    z = (dev << 4) // eff
    return z if z < _ZMAX else _ZMAX


class Baseline:
    """See the module docstring. ``cfg``: a dict (validated; None for the defaults)."""

    def __init__(self, cfg=None):
        c = validate(cfg or {})
        self.cfg = c
        self._ls = c["level_shift"]
        self._ss = c["spread_shift"]
        self._as = c["active_shift"]
        self._warm = c["warmup"]
        self._raise = int(c["raise"] * 16 + 0.5)
        self._clear = int(c["clear"] * 16 + 0.5)
        self._dir = {"both": 0, "up": 1, "down": -1}[c["direction"]]
        self._floor = int(c["min_spread"] * 16 + 0.5)
        if self._floor < 1:
            self._floor = 1
        self._hi = None if c["high"] is None else int(c["high"])
        self._lo = None if c["low"] is None else int(c["low"])
        self._hyst = int(c["hysteresis"])
        self._roc = None if c["roc"] is None else int(c["roc"])
        self._rocrel = None if c["roc_rel"] is None else int(c["roc_rel"] * 16 + 0.5)
        self._k = c["k"]
        self._nmask = (1 << c["n"]) - 1
        self._hold = c["holdoff"]
        self._fs = c["flat_shift"]
        self._flat = None if c["flat"] is None else int(c["flat"] * 16 + 0.5)
        self._buf = bytearray(STATE_SIZE)
        self.frac = array("i", [0, 0, 0])  # fractions of level, spread, fast spread
        self.reset()

    def reset(self):
        self.active = False
        self.count = 0
        self.mask = 0
        self.cmask = 0
        self.level = 0
        self.spread = 0
        self.prev = None
        self.score = 0
        self.z = 0
        self.quiet = 0
        self.fast = 0
        self.frac[0] = self.frac[1] = self.frac[2] = 0

    def to_bytes(self):
        """The state as STATE_SIZE bytes (one buffer, reused: copy it if you keep it)."""
        fl = (1 if self.active else 0) | (0 if self.prev is None else 2)
        struct.pack_into(_FMT, self._buf, 0, _MAGIC, fl, self.count, self.mask, self.cmask, self.level,
                         self.spread, 0 if self.prev is None else self.prev, self.quiet, self.fast, self.frac[0],
                         self.frac[1], self.frac[2])
        return self._buf

    def from_bytes(self, b):
        """Restore the state from ``to_bytes()``; ValueError (state unchanged) when b is not one."""
        if b is None or len(b) != STATE_SIZE or b[0] != _MAGIC:
            raise ValueError("detector state: expected %d bytes starting 0x%02X; start fresh with reset()"
                             % (STATE_SIZE, _MAGIC))
        _, fl, cnt, mask, cmask, lvl, spr, prev, quiet, fast, f0, f1, f2 = struct.unpack(_FMT, b)
        if spr < 0 or fast < 0 or lvl > _XMAX * 16 or lvl < -_XMAX * 16:
            raise ValueError("detector state: level or spread out of range; start fresh with reset()")
        self.active = bool(fl & 1)
        self.count = cnt
        self.mask = mask & self._nmask
        self.cmask = cmask & self._nmask
        self.level = lvl
        self.spread = spr
        self.prev = prev if fl & 2 else None
        self.quiet = quiet
        self.fast = fast
        self.frac[0] = f0
        self.frac[1] = f1
        self.frac[2] = f2

    def update(self, x):
        """Feed one value (int); return the event flags."""
        if x > _XMAX:
            x = _XMAX
        elif x < -_XMAX:
            x = -_XMAX
        x16 = x << 4
        lvl = self.level
        cnt = self.count
        if cnt == 0:
            lvl = x16
        diff = x16 - lvl
        dev = diff if diff >= 0 else -diff
        eff = self.spread if self.spread > self._floor else self._floor
        z = _z(dev, eff)
        if self._dir > 0 and diff < 0 or self._dir < 0 and diff > 0:
            z = 0
        self.z = z
        prev = self.prev
        self.prev = x
        ev = 0
        warm = cnt < self._warm
        if warm:
            ev = WARMUP
        else:
            if z >= self._raise:
                ev |= REL
            if self._hi is not None and x > self._hi or self._lo is not None and x < self._lo:
                ev |= ABS
            if prev is not None and (self._roc is not None or self._rocrel is not None):
                dx = x - prev
                if dx < 0:
                    dx = -dx
                if self._roc is not None and dx > self._roc:
                    ev |= ROC
                if self._rocrel is not None and _z(dx << 4, eff) >= self._rocrel:
                    ev |= ROC
            # the fast spread is the one before this update: one sample cannot make a flat line; and a reading
            # that is itself a spike is not a quiet one (a signal of rare spikes on a flat floor is not stuck)
            if self._flat is not None and not ev & REL and self.spread > self._floor \
                    and _z(self.spread, self.fast) >= self._flat:
                ev |= FLAT
            if ev:
                ev |= HIT
        sc = (z << 7) // self._raise
        if ev & (ABS | ROC | FLAT) and sc < 128:
            sc = 128
        self.score = sc if sc < 256 else 256

        # baseline: clipped deviation, a running mean while warming up, slower while active
        ls = self._ls
        ss = self._ss
        fs = self._fs
        if warm:
            b = bits(cnt)
            if b < ls:
                ls = b
            if b < ss:
                ss = b
            if b < fs:
                fs = b
        elif self.active:
            ls += self._as
            ss += self._as
            if ls > 16:
                ls = 16
            if ss > 16:
                ss = 16
        if (eff >> 4) >= (1 << 29) // self._raise:
            clip = 1 << 29
        else:
            clip = (eff >> 4) * self._raise + ((eff & 15) * self._raise >> 4)  # raise spreads, Q4
        if not warm and dev > clip:
            dev = clip
            diff = clip if diff > 0 else -clip
        fr = self.frac
        self.level = _ewma(lvl, diff, ls, fr, 0)
        self.spread = _ewma(self.spread, dev - self.spread, ss, fr, 1)
        self.fast = _ewma(self.fast, dev - self.fast, fs, fr, 2)  # never slowed down: the end of a flat line shows
        if cnt < 65535:
            self.count = cnt + 1
        if warm:
            return ev

        nm = self._nmask
        self.mask = ((self.mask << 1) | (1 if ev & HIT else 0)) & nm
        ok = z < self._clear and not ev & FLAT
        if ok and self._hi is not None and x > self._hi - self._hyst:
            ok = False
        if ok and self._lo is not None and x < self._lo + self._hyst:
            ok = False
        self.cmask = ((self.cmask << 1) | (1 if ok else 0)) & nm
        if self.quiet:
            self.quiet -= 1
        if not self.active:
            if _pop(self.mask) >= self._k and not self.quiet:
                self.active = True
                self.cmask = 0
                self.quiet = self._hold
                ev |= RAISED
        elif _pop(self.cmask) >= self._k:
            self.active = False
            self.mask = 0
            ev |= CLEARED
        if self.active:
            ev |= ACTIVE
        return ev
