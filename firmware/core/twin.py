"""Plain-Python twins of the viper kernels in ``core/kern.py``: the same loops, line for line, bit-identical.

They run under CPython (the host's replay and tests, after ``fieldnode.mpcompat.install()``) and under
MicroPython as bytecode (the benchmark's baseline). Python ints never wrap, so the twins also check the kernels'
claim that nothing leaves the 32-bit range: tests run them on extreme windows with a tracer that bounds every
local (signed 32-bit, and 0 <= x < 2**32 for the ``uint`` accumulators, which the twins wrap at 2**32 with
``& 0xFFFFFFFF`` as a 32-bit port does). The first three arguments are the kernels' register scratch: unused.
"""

from core.fixed import SQRT_EXP, SQRT_SEED

U32 = 0xFFFFFFFF


def pass1(v, x, d, a, n: int, o):
    """min, max, sum, sum |x[i] - x[i-1]|, max |x[i] - x[i-1]| -> o[0..4] (see core/kern.py)."""
    x = a[0] + 0x8000
    mn = x
    mx = x
    s = x  # sum of b <= 4096 * 65535 < 2**28
    ds = 0  # <= 4095 * 65535 < 2**28
    dm = 0
    i = 1
    e = n - 1
    while i < e:
        v = a[i] + 0x8000
        d = v - x  # x: the previous sample
        x = a[i + 1] + 0x8000
        i += 2
        if d < 0:
            d = 0 - d
        ds += d
        if d > dm:
            dm = d
        d = x - v
        if d < 0:
            d = 0 - d
        ds += d
        if d > dm:
            dm = d
        if v < mn:
            mn = v
        if v > mx:
            mx = v
        if x < mn:
            mn = x
        if x > mx:
            mx = x
        s += v + x
    if i < n:  # the last sample when n is even
        v = a[i] + 0x8000
        if v < mn:
            mn = v
        if v > mx:
            mx = v
        s += v
        d = v - x
        if d < 0:
            d = 0 - d
        ds += d
        if d > dm:
            dm = d
    o[0] = mn - 0x8000
    o[1] = mx - 0x8000
    o[2] = s - (n << 15)  # |S| <= 2**27
    o[3] = ds
    o[4] = dm


def pass2(t, g, c, a, n: int, m: int, s: int, o):
    """Zero crossings, sum |x*n - S| and sum (x - m)**2 as (lo, hi) -> o[5..9] (see core/kern.py)."""
    u = s + (n << 15)  # 0 <= U < 2**28 (sum of b)
    mb = m + 0x8000
    last = ((a[0] + 0x8000) * n - u) >> 31
    zc = 0
    ad = 0
    ah = 0
    sq = 0
    sh = 0
    i = 0
    while i < n:
        c = a[i] + 0x8000
        i += 1
        t = c * n - u  # |t| < 2**28
        c -= mb  # |x - m| <= 65535
        g = t >> 31
        zc -= g ^ last
        last = g
        t = (t ^ g) - g  # |t|
        ad = (ad + t) & U32
        if ad < t:
            ah += 1
        c = (c * c) & U32  # <= 65535**2 < 2**32 (the kernel's uint)
        sq = (sq + c) & U32
        if sq < c:
            sh += 1
    o[5] = zc
    o[6] = ad & 0xFFFF
    o[7] = (ah << 16) + (ad >> 16)
    o[8] = sq & 0xFFFF
    o[9] = (sh << 16) + (sq >> 16)


def pass3(t, q, w, a, n: int, s: int, left: int, right: int, o):
    """Second and fourth moments about the exact mean as (lo, hi) -> o[11..14] (see core/kern.py)."""
    s += n << 15  # U = sum of (x + 2**15): x*n - S = (x + 2**15)*n - U, 0 <= U < 2**28
    e2 = 0
    f4 = 0
    eh = 0
    fh = 0
    i = 0
    while i < n:
        t = (((a[i] + 0x8000) * n - s) << left) >> right  # (x + 2**15) * n < 2**28
        i += 1
        q = t * t  # <= 2**30
        e2 = (e2 + q) & U32
        if e2 < q:
            eh += 1
        w = (q + 0x4000) >> 15
        w *= w  # <= 2**30
        f4 = (f4 + w) & U32
        if f4 < w:
            fh += 1
    o[11] = e2 & 0xFFFF
    o[12] = (eh << 16) + (e2 >> 16)
    o[13] = f4 & 0xFFFF
    o[14] = (fh << 16) + (f4 >> 16)


def goertzel(s1, s2, x, a, n: int, m: int, sh: int, c: int, o):
    """Goertzel recurrence on (x - m) >> sh -> o[17] = s[n-1], o[18] = s[n-2] (see core/kern.py)."""
    ch = c >> 14  # |ch| <= 2**15
    cl = c & 0x3FFF
    s1 = 0
    s2 = 0
    i = 0
    while i < n:
        x = (a[i] - m) >> sh
        i += 1
        x += ch * (s1 >> 14) + ((ch * (s1 & 0x3FFF) + cl * (s1 >> 14)) >> 14) - s2  # |s1 >> 14| < 2**13
        s2 = s1
        s1 = x
    o[17] = s1
    o[18] = s2


def magnitude(v, r, k, x, y, z, out, n: int):
    """out[i] = floor(sqrt(x[i]**2 + y[i]**2 + z[i]**2)), saturated to 32767 (see core/kern.py)."""
    sq = SQRT_SEED
    ex = SQRT_EXP
    i = 0
    while i < n:
        r = x[i]
        v = r * r
        r = y[i]
        v += r * r
        r = z[i]
        v += r * r  # <= 3 * 2**30 < 2**32 (the kernel's uint)
        if v >= 0x3FFF0001:  # 32767**2 + 1
            out[i] = 32767
        else:
            if v >= 0x400000:
                k = ex[v >> 22] + 7
            elif v >= 0x4000:
                k = ex[v >> 14] + 3
            elif v >= 0x40:
                k = ex[v >> 6] - 1
            else:
                k = 0
            r = (sq[v >> (k + k)] << k) >> 8  # 1 <= g < 2**15
            r = (r + v // r) >> 1
            r += (v - r * r) >> 31  # -1 when r*r > v; r <= 32768: r*r <= 2**30
            out[i] = r
        i += 1
