"""Viper kernels of the feature core: the per-sample loops, one kernel per pass.

Each kernel has a plain-Python twin of the same name in ``core/twin.py`` that gives bit-identical partial
results (tests/test_core_features.py and test_core_magnitude.py prove it under the MicroPython runtime on
hypothesis-generated windows).
The per-window arithmetic that turns partials into features is shared plain Python (``core/features.py``).

Word size: a viper int is 32 bits on the ESP32 (xtensawin, rv32imc) and 64 bits on x86-64. Every expression
below stays inside a signed 32-bit range for windows of up to 4096 int16 samples (the bound is written next to
each accumulator), so the results are the same on both; wide sums are split into limbs
(``A * 2**16 + B * 2**9 + C`` from ``u = a * 2**8 + b``, ``u**2 = a*a * 2**16 + a*b * 2**9 + b*b``).
``ptr16`` reads unsigned: pass1 to pass3 work on the biased value ``x + 32768`` (what ptr16 gives after ``^ 0x8000``,
no sign extension per sample) and remove the bias once at the end; goertzel and magnitude sign-extend with
``(x ^ 0x8000) - 0x8000``. Partials are written to an ``array('i')``; no kernel allocates.
"""

import micropython

from core.fixed import SQRT_SEED


@micropython.viper
def pass1(a: ptr16, n: int, o: ptr32):
    """min, max, sum, sum |x[i] - x[i-1]|, max |x[i] - x[i-1]| -> o[0..4].

    Works on b = x + 2**15 = (raw u16) ^ 0x8000 (no sign extension; the bias comes off at the end), two samples
    per iteration (half the loop overhead; two ptr16 loads beat one ptr32 load split in halves on x86-64, and
    need no alignment: array('h') data on the ESP32 need not be 4-byte aligned), then at most one more.
    """
    v = int(a[0] ^ 0x8000)
    mn = v
    mx = v
    s = v  # sum of b <= 4096 * 65535 < 2**28
    ds = 0  # <= 4095 * 65535 < 2**28
    dm = 0
    prev = v
    i = 1
    e = n - 1
    while i < e:
        v = int(a[i] ^ 0x8000)
        x = int(a[i + 1] ^ 0x8000)
        i += 2
        if v < mn:
            mn = v
        if v > mx:
            mx = v
        if x < mn:
            mn = x
        if x > mx:
            mx = x
        s += v + x
        d = v - prev
        if d < 0:
            d = 0 - d
        f = x - v
        if f < 0:
            f = 0 - f
        ds += d + f
        if d > dm:
            dm = d
        if f > dm:
            dm = f
        prev = x
    if i < n:  # the last sample when n is even
        v = int(a[i] ^ 0x8000)
        if v < mn:
            mn = v
        if v > mx:
            mx = v
        s += v
        d = v - prev
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


@micropython.viper
def pass2(a: ptr16, n: int, m: int, s: int, o: ptr32):
    """Zero crossings about the exact mean, sum |x*n - S| as (lo, hi), sum (x - m)**2 as limbs -> o[5..10].

    m is floor(S / n), s is S. The sign of x - mean is the sign of x*n - S (|x*n - S| < 2**28), exact.
    On b = x + 2**15 (no sign extension): x*n - S = b*n - U with U = S + n*2**15, x - m = b - (m + 2**15).
    Two samples per iteration; their |x*n - S| are added (< 2**29) before the 16-bit split, so lo and hi are
    not the per-sample split but hi * 2**16 + lo is the same sum.
    """
    u = s + (n << 15)  # |U| <= 2**28 (sum of b)
    mb = m + 0x8000
    zc = 0
    last = 0
    lo = 0  # sum of low 16 bits of pair sums: < 2048 * 2**16 = 2**27
    hi = 0  # sum of pair sums >> 16: < 2048 * 2**13 = 2**24
    ca = 0  # sum h*h, h = |x - m| >> 8 <= 255: < 2**28
    cb = 0  # sum h*c, c = |x - m| & 255: < 2**28
    cc = 0  # sum c*c: < 2**28
    i = 0
    e = n - 1
    while i <= e:
        b = int(a[i] ^ 0x8000)
        t = b * n - u  # |t| < 2**28
        if t > 0:
            if last < 0:
                zc += 1
            last = 1
        elif t < 0:
            if last > 0:
                zc += 1
            last = -1
            t = 0 - t
        c = b - mb
        if c < 0:
            c = 0 - c  # <= 65535
        h = c >> 8
        c &= 0xFF
        ca += h * h
        cb += h * c
        cc += c * c
        if i < e:  # the pair's second sample (not taken only for the last sample of an odd n)
            b = int(a[i + 1] ^ 0x8000)
            c = b * n - u
            if c > 0:
                if last < 0:
                    zc += 1
                last = 1
            elif c < 0:
                if last > 0:
                    zc += 1
                last = -1
                c = 0 - c
            t += c  # < 2**29
            c = b - mb
            if c < 0:
                c = 0 - c
            h = c >> 8
            c &= 0xFF
            ca += h * h
            cb += h * c
            cc += c * c
        i += 2
        lo += t & 0xFFFF
        hi += t >> 16
    o[5] = zc
    o[6] = lo
    o[7] = hi
    o[8] = ca
    o[9] = cb
    o[10] = cc


@micropython.viper
def pass3(a: ptr16, n: int, s: int, left: int, right: int, o: ptr32):
    """Second and fourth moments about the exact mean for kurtosis, as limbs -> o[11..16].

    e = |x*n - S| scaled to e' = (e << left) >> right < 2**15 (the caller picks the shifts from the largest e),
    w = round(e'**2 / 2**15) < 2**15; limbs of sum e'**2 and of sum w**2.
    """
    # s becomes U = sum of (x + 2**15): x*n - S = (x + 2**15)*n - U, 0 <= U < 2**28. Reusing the argument (3 % faster
    # on x86-64): the native emitter keeps only the first few locals, arguments first, in registers.
    s += n << 15
    ea = 0  # e' >> 8 < 2**7: sum of squares < 2**26
    eb = 0  # < 2**27
    ec = 0  # < 2**28
    fa = 0
    fb = 0
    fc = 0
    # A while loop with few locals (h, l serve both limb splits) runs about 20 % faster than for/range here.
    i = 0
    while i < n:
        t = int(a[i] ^ 0x8000) * n - s  # x + 2**15 < 2**16: the product < 2**28
        i += 1
        if t < 0:
            t = 0 - t
        t = (t << left) >> right
        h = t >> 8
        l = t & 0xFF
        ea += h * h
        eb += h * l
        ec += l * l
        t = (t * t + 0x4000) >> 15  # t*t < 2**30; w = round(e'**2 / 2**15)
        h = t >> 8
        l = t & 0xFF
        fa += h * h
        fb += h * l
        fc += l * l
    o[11] = ea
    o[12] = eb
    o[13] = ec
    o[14] = fa
    o[15] = fb
    o[16] = fc


@micropython.viper
def goertzel(a, n: int, m: int, sh: int, c: int, o):
    """Goertzel recurrence on (x - m) >> sh with coefficient c = 2*cos(w) in Q2.28 -> o[17] = s[n-1], o[18] = s[n-2].

    The caller picks sh so that |s| < 2**27; the product c*s is split in 14-bit halves so that every partial
    product stays below 2**30: c*s >> 28 ~ ch*sh + (ch*sl + cl*sh) >> 14 (error in [0, 2)).
    """
    p = ptr16(a)
    q = ptr32(o)
    ch = c >> 14  # |ch| <= 2**15
    cl = c & 0x3FFF
    s1 = 0
    s2 = 0
    for i in range(n):
        x = (int((p[i] ^ 0x8000) - 0x8000) - m) >> sh
        hh = s1 >> 14  # |hh| < 2**13
        hl = s1 & 0x3FFF
        s0 = x + ch * hh + ((ch * hl + cl * hh) >> 14) - s2
        s2 = s1
        s1 = s0
    q[17] = s1
    q[18] = s2


@micropython.viper
def magnitude(x, y, z, out, n: int):
    """out[i] = floor(sqrt(x[i]**2 + y[i]**2 + z[i]**2)), saturated to 32767 (int16 in, int16 out).

    While every |component| < 2**14 the sum of squares is < 3 * 2**28 and the root is exact; above that the
    components are halved first (root error < 4 counts).
    """
    px = ptr16(x)
    py = ptr16(y)
    pz = ptr16(z)
    po = ptr16(out)
    sq = ptr16(SQRT_SEED)
    for i in range(n):
        ax = int((px[i] ^ 0x8000) - 0x8000)
        ay = int((py[i] ^ 0x8000) - 0x8000)
        az = int((pz[i] ^ 0x8000) - 0x8000)
        if ax < 0:
            ax = 0 - ax
        if ay < 0:
            ay = 0 - ay
        if az < 0:
            az = 0 - az
        h = 0
        if (ax | ay | az) >= 0x4000:
            ax >>= 1
            ay >>= 1
            az >>= 1
            h = 1
        v = ax * ax + ay * ay + az * az  # < 3 * 2**28
        # floor(sqrt(v)): t = v >> 2k in [64, 256) (v itself when v < 256), seed g = sqrt(t + 1/2) * 2**k from a
        # table (rel. error < 2**-8), one Newton step (never below floor(sqrt v), at most 1 above), one correction.
        t = v
        k = 0
        if t >= 0x1000000:
            t >>= 16
            k = 8
        if t >= 0x10000:
            t >>= 8
            k += 4
        if t >= 0x1000:
            t >>= 4
            k += 2
        if t >= 0x400:
            t >>= 2
            k += 1
        if t >= 0x100:
            t >>= 2
            k += 1
        g = (sq[t] << k) >> 8  # 1 <= g < 2**15
        r = (g + v // g) >> 1
        if r * r > v:  # r <= 28378: r * r < 2**30
            r -= 1
        r <<= h
        if r > 32767:
            r = 32767
        po[i] = r
