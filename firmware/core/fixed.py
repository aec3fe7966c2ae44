"""Integer helpers for the feature core: bit length, integer square root, block-float ratios, the detectors'
fractional EWMA step (and the check of their config numbers).

Everything here is plain Python on small integers: every intermediate stays below 2**30 in magnitude, which is
the small-int range of MicroPython on a 32-bit port (``MICROPY_OBJ_REPR_A``: 31-bit signed small ints), so nothing
here allocates on an ESP32. Wider quantities (sums of squares over 4096 samples reach 2**44) are carried as
*limbs* ``hi * 2**16 + lo`` with hi < 2**30 and lo < 2**16, as the kernels write them, or as a block float
``(mantissa, exponent)`` written into a caller's ``array('i')`` (returning a tuple would allocate).

The same functions run under CPython (``fieldnode.mpcompat.install()``), where the twins use them too.
"""

from array import array

from micropython import const

SMALL_MAX = const(0x3FFFFFFF)  # largest MicroPython small int on a 32-bit port: saturate results here


def bits(x):
    """Bit length of a non-negative int < 2**31 (MicroPython's int has no bit_length())."""
    n = 0
    if x >= 0x10000:
        x >>= 16
        n = 16
    if x >= 0x100:
        x >>= 8
        n += 8
    while x:
        x >>= 1
        n += 1
    return n


def ewma(v, d, s, frac, i):
    """v + d / 2**s (0 <= s <= 16), the fraction carried in frac[i] (units of 2**-16, an ``array('i')`` slot): exact
    over many steps, where a plain ``>>`` floors every step. The detectors' level and spread EWMAs (baseline.py,
    surprise.py) share it; nothing allocates."""
    f = ((d & ((1 << s) - 1)) << (16 - s)) + frac[i]  # < 2**17
    frac[i] = f & 0xFFFF
    return v + (d >> s) + (f >> 16)


def config_num(v, key, lo, hi, integer=False, optional=False):
    """A detector config value checked: v itself, or ValueError naming the key and what it takes (None passes when
    optional). Config time only (baseline.py, surprise.py), not the update path."""
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise ValueError("detector config '%s': expected %s, got %r" % (key, "an integer" if integer else "a number",
                                                                        v))
    if v < lo or v > hi:
        raise ValueError("detector config '%s' = %r is out of range: give %s to %s" % (key, v, lo, hi))
    return v


def isqrt(x):
    """floor(sqrt(x)) for 0 <= x < 2**30, digit by digit (no division, no float)."""
    if x <= 0:
        return 0
    r = 0
    b = 1 << 28
    while b > x:
        b >>= 2
    while b:
        if x >= r + b:
            x -= r + b
            r = (r >> 1) + b
        else:
            r >>= 1
        b >>= 2
    return r


def _seed_table():
    # SQRT_SEED[t] = floor(256 * sqrt(t + 1/2)) (t >= 1; 256 for t = 0 so that a seed is never 0): the seed of the
    # kernels' integer square root (core/kern.py, magnitude). For a mantissa t in [64, 256) the midpoint's root is
    # within 2**-8 of the root of every value in [t, t + 1): one Newton step then lands within 1/8 of the root.
    t = array("H", bytearray(512))
    t[0] = 256
    for i in range(1, 256):
        t[i] = isqrt(65536 * i + 32768)
    return t


SQRT_SEED = _seed_table()  # 512 bytes, once at import


def _exp_table():
    # SQRT_EXP[j] = ceil(bit_length(j) / 2): the kernels' square root takes the exponent k (t = v >> 2k in [64, 256))
    # from the top byte of v with one load instead of a five-step search: k = SQRT_EXP[v >> 22] + 7 for v >= 2**22,
    # SQRT_EXP[v >> 14] + 3 for v >= 2**14, SQRT_EXP[v >> 6] - 1 for v >= 2**6, else 0.
    t = array("B", bytearray(256))
    for j in range(1, 256):
        t[j] = (bits(j) + 1) >> 1
    return t


SQRT_EXP = _exp_table()  # 256 bytes, once at import


def shift(x, e):
    """x * 2**e for x >= 0, rounding toward zero when e < 0, saturating at SMALL_MAX when e > 0."""
    if e >= 0:
        if e >= 30 or (x >> (30 - e)):
            return SMALL_MAX if x else 0
        return x << e
    if e <= -31:
        return 0
    return x >> -e


def limbs_bf(hi, lo, o, j):
    """Block float of ``hi * 2**16 + lo`` (0 <= hi < 2**30, 0 <= lo < 2**16).

    Writes mantissa ``o[j]`` (< 2**28) and exponent ``o[j + 1]`` (>= 0) with mantissa * 2**exponent <= value
    < (mantissa + 1) * 2**exponent; exact (exponent 0) while the value is below 2**28.
    """
    e = bits(hi) + 16 - 28
    if e <= 0:
        o[j] = (hi << 16) + lo
        o[j + 1] = 0
    elif e < 16:
        o[j] = (hi << (16 - e)) + (lo >> e)
        o[j + 1] = e
    else:
        o[j] = hi >> (e - 16)
        o[j + 1] = e


def ratio(nm, ne, dm, de, q):
    """floor((nm * 2**ne) / (dm * 2**de) * 2**q) to about 13 significant bits, saturating at SMALL_MAX.

    nm, dm: non-negative mantissas < 2**30. Returns 0 when nm is 0 and SMALL_MAX when dm is 0.
    """
    if nm <= 0:
        return 0
    if dm <= 0:
        return SMALL_MAX
    k = 29 - bits(nm)  # numerator to [2**28, 2**29)
    nm = (nm << k) if k >= 0 else (nm >> -k)
    ne -= k
    k = 15 - bits(dm)  # denominator to [2**14, 2**15)
    dm = (dm << k) if k >= 0 else (dm >> -k)
    de -= k
    return shift(nm // dm, ne - de + q)
