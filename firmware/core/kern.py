"""Viper kernels of the feature core: the per-sample loops, one kernel per pass.

Each kernel has a plain-Python twin of the same name in ``core/twin.py`` that gives bit-identical partial
results (tests/test_core_features.py and test_core_magnitude.py prove it under the MicroPython runtime on
hypothesis-generated windows).
The per-window arithmetic that turns partials into features is shared plain Python (``core/features.py``).

Word size: a viper int is 32 bits on the ESP32 (xtensawin, rv32imc) and 64 bits on x86-64. Every signed
expression below stays inside the signed 32-bit range for windows of up to 4096 int16 samples (the bound is
written next to each), so the results are the same on both. Wide sums (up to 2**44) are ``uint`` accumulators
with a carry count: ``acc += q; if acc < q: carry += 1`` counts each wrap at 2**32 on a 32-bit port (viper
compares ``uint`` unsigned); on x86-64 the accumulator holds the whole sum and never wraps. Either way
``carry * 2**32 + acc`` is the sum, written out as ``hi = sum >> 16`` (< 2**28) and ``lo = sum & 0xFFFF``.
``ptr16`` reads unsigned: pass1 to pass3 work on the biased value ``x + 32768`` (what ptr16 gives after
``^ 0x8000``, no sign extension per sample) and remove the bias once; goertzel and magnitude sign-extend with
``(x ^ 0x8000) - 0x8000``. Partials are written to an ``array('i')``; no kernel allocates.

Registers: the viper emitter keeps only the first three locals of a function in CPU registers (REG_LOCAL_NUM is
3 in MicroPython's x64 and Xtensa back ends: rbx, r12, r13 on x86-64), arguments first, and every other local in
the stack frame. So each kernel's first
three arguments are its hottest scratch variables: callers pass 0 for them, and the kernel overwrites them.
On x86-64 that alone made pass3 21 % faster; with the uint sums instead of 8-bit limb products (three multiplies
per sum of squares become one) pass3 doubled (tools/bench_core.py).
"""

import micropython

from core.fixed import SQRT_EXP, SQRT_SEED


@micropython.viper
def pass1(v: int, x: int, d: int, a: ptr16, n: int, o: ptr32):
    """min, max, sum, sum |x[i] - x[i-1]|, max |x[i] - x[i-1]| -> o[0..4]. v, x, d: scratch (pass 0).

    Works on b = x + 2**15 = (raw u16) ^ 0x8000 (no sign extension; the bias comes off at the end), two samples
    per iteration (half the loop overhead; two ptr16 loads beat one ptr32 load split in halves on x86-64, and
    need no alignment: array('h') data on the ESP32 need not be 4-byte aligned), then at most one more. The
    difference to the previous sample is taken before x is reloaded, so no copy of it is kept.
    """
    x = int(a[0] ^ 0x8000)
    mn = x
    mx = x
    s = x  # sum of b <= 4096 * 65535 < 2**28
    ds = 0  # <= 4095 * 65535 < 2**28
    dm = 0
    i = 1
    e = n - 1
    while i < e:
        v = int(a[i] ^ 0x8000)
        d = v - x  # x: the previous sample
        x = int(a[i + 1] ^ 0x8000)
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
        v = int(a[i] ^ 0x8000)
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


@micropython.viper
def pass2(t: int, g: int, c: int, a: ptr16, n: int, m: int, s: int, o: ptr32):
    """Zero crossings about the exact mean, sum |x*n - S| and sum (x - m)**2 -> o[5..9]. t, g, c: scratch.

    m is floor(S / n), s is S. The side of the mean is the sign of x*n - S (|x*n - S| < 2**28), exact; a sample
    equal to the mean counts as above it, so a crossing is a change of g = (x*n - S) >> 31 (0 or -1) between
    neighbours, counted without a branch. On b = x + 2**15: x*n - S = b*n - U with U = S + n*2**15 and
    x - m = b - (m + 2**15). Out: o[5] crossings; o[6], o[7] = lo, hi of sum |x*n - S| (< 2**40); o[8], o[9] =
    lo, hi of sum (x - m)**2 (< 2**44), each sum = hi * 2**16 + lo.
    """
    u = s + (n << 15)  # 0 <= U < 2**28 (sum of b)
    mb = m + 0x8000
    last = (int(a[0] ^ 0x8000) * n - u) >> 31
    zc = 0
    ad = uint(0)
    ah = 0
    sq = uint(0)
    sh = 0
    i = 0
    while i < n:
        c = int(a[i] ^ 0x8000)
        i += 1
        t = c * n - u  # |t| < 2**28
        c -= mb  # |x - m| <= 65535
        g = t >> 31
        zc -= g ^ last
        last = g
        t = (t ^ g) - g  # |t|
        ad += uint(t)
        if ad < uint(t):
            ah += 1
        c *= c  # <= 65535**2 < 2**32: exact as a uint (negative as a 32-bit int)
        sq += uint(c)
        if sq < uint(c):
            sh += 1
    o[5] = zc
    o[6] = int(ad & 0xFFFF)
    o[7] = (ah << 16) + int(ad >> 16)
    o[8] = int(sq & 0xFFFF)
    o[9] = (sh << 16) + int(sq >> 16)


@micropython.viper
def pass3(t: int, q: uint, w: uint, a: ptr16, n: int, s: int, left: int, right: int, o: ptr32):
    """Second and fourth moments about the exact mean for kurtosis -> o[11..14]. t, q, w: scratch.

    e = x*n - S scaled to e' = (e << left) >> right, |e'| <= 2**15 (the caller picks the shifts from the largest
    |e|; a negative e rounds toward minus infinity), w = round(e'**2 / 2**15) <= 2**15. Out: o[11], o[12] = lo,
    hi of sum e'**2 (< 2**42); o[13], o[14] = lo, hi of sum w**2 (< 2**42).
    """
    s += n << 15  # U = sum of (x + 2**15): x*n - S = (x + 2**15)*n - U, 0 <= U < 2**28
    e2 = uint(0)
    f4 = uint(0)
    eh = 0
    fh = 0
    i = 0
    while i < n:
        t = ((int(a[i] ^ 0x8000) * n - s) << left) >> right  # (x + 2**15) * n < 2**28
        i += 1
        q = uint(t * t)  # <= 2**30
        e2 += q
        if e2 < q:
            eh += 1
        w = (q + 0x4000) >> 15
        w *= w  # <= 2**30
        f4 += w
        if f4 < w:
            fh += 1
    o[11] = int(e2 & 0xFFFF)
    o[12] = (eh << 16) + int(e2 >> 16)
    o[13] = int(f4 & 0xFFFF)
    o[14] = (fh << 16) + int(f4 >> 16)


@micropython.viper
def goertzel(s1: int, s2: int, x: int, a: ptr16, n: int, m: int, sh: int, c: int, o: ptr32):
    """Goertzel recurrence on (x - m) >> sh, coefficient c = 2*cos(w) in Q2.28 -> o[17] = s[n-1], o[18] = s[n-2].

    s1, s2, x: scratch (pass 0). The caller picks sh so that |s| < 2**27; the product c*s is split in 14-bit
    halves so that every partial product stays below 2**30: c*s >> 28 ~ ch*sh + (ch*sl + cl*sh) >> 14 (error in
    [0, 2)).
    """
    ch = c >> 14  # |ch| <= 2**15
    cl = c & 0x3FFF
    s1 = 0
    s2 = 0
    i = 0
    while i < n:
        x = (int((a[i] ^ 0x8000) - 0x8000) - m) >> sh
        i += 1
        x += ch * (s1 >> 14) + ((ch * (s1 & 0x3FFF) + cl * (s1 >> 14)) >> 14) - s2  # |s1 >> 14| < 2**13
        s2 = s1
        s1 = x
    o[17] = s1
    o[18] = s2


@micropython.viper
def magnitude(v: uint, r: int, k: int, x: ptr16, y: ptr16, z: ptr16, out: ptr16, n: int):
    """out[i] = floor(sqrt(x[i]**2 + y[i]**2 + z[i]**2)), saturated to 32767: exact for every int16 input.

    v, r, k: scratch (pass 0). The sum of squares is at most 3 * 2**30 < 2**32: a uint. At or above 32767**2 the
    root saturates; below, v < 2**30 and floor(sqrt(v)) comes from a seed g = sqrt(t + 1/2) * 2**k with
    t = v >> 2k in [64, 256) (``SQRT_SEED``, relative error < 2**-8; k from ``SQRT_EXP``, half the bit length of
    the top byte, so no search), one Newton step (never below the floor, at most 1 above) and one correction
    without a branch. tools/check_isqrt.py proves it on every v.
    """
    sq = ptr16(SQRT_SEED)
    ex = ptr8(SQRT_EXP)
    i = 0
    while i < n:
        r = int((x[i] ^ 0x8000) - 0x8000)
        v = uint(r * r)
        r = int((y[i] ^ 0x8000) - 0x8000)
        v += uint(r * r)
        r = int((z[i] ^ 0x8000) - 0x8000)
        v += uint(r * r)
        if v >= uint(0x3FFF0001):  # 32767**2 + 1
            out[i] = 32767
        else:
            if v >= uint(0x400000):
                k = int(ex[v >> 22]) + 7
            elif v >= uint(0x4000):
                k = int(ex[v >> 14]) + 3
            elif v >= uint(0x40):
                k = int(ex[v >> 6]) - 1
            else:
                k = 0
            r = (sq[v >> (k + k)] << k) >> 8  # 1 <= g < 2**15
            r = (r + int(v) // r) >> 1
            r += (int(v) - r * r) >> 31  # -1 when r*r > v; r <= 32768: r*r <= 2**30
            out[i] = r
        i += 1
