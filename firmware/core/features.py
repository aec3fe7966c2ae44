"""Window features in fixed point: int16 samples in, small integers out, no allocation per window.

Usage::

    from array import array
    from core import features
    f = features.Features(fs=3200, bands=(29.95, 162.2))  # once, at boot: buffers and Goertzel coefficients
    features.compute(window, f)                            # window: array('h'), 1..4096 samples
    rms_counts = f.v[features.RMS] / 16                    # or f.get('rms'), f.as_dict() on the host

Formats (``f.v[...]``, all ints; "counts" are the window's int16 units; floor unless stated; every value is a
MicroPython small int, < 2**30 in magnitude, saturating there). Error bounds are against float64 on the same
samples (numpy, ``fieldnode.featref``) and are tested on hypothesis-generated windows:

==========  ======================================  ==============================================================
N           sample count                            exact
MIN, MAX    counts                                  exact
P2P         MAX - MIN, counts (0..65535)            exact
MEAN        mean * 2**8 (Q8)                        exact floor
VAR         variance (population), counts**2 (Q0)   exact floor while sum((x-m)**2) < 2**30; else rel. 2**-14
STD         standard deviation * 2**4 (Q4)          < 1 LSB while variance < 2**21; rel. error < 2**-10 above
RMS         sqrt(mean(x**2)) * 2**4 (Q4)            <= 3 LSB + 2**-11 relative (hypot of STD and MEAN)
MAD         mean |x - mean| * 2**4 (Q4)             exact floor
CREST       max|x| / rms * 2**8 (Q8)                follows RMS (0 when RMS is 0)
ZC          zero crossings about the exact mean     exact (a sample equal to the mean counts as above it)
KURT        kurtosis (not excess) * 2**8 (Q8)       <= 1 % + 2 LSB (0 for a constant window)
DMEAN       mean |x[i] - x[i-1]| * 2**4 (Q4)        exact floor (0 when N is 1)
DMAX        max |x[i] - x[i-1]|, counts             exact
==========  ======================================  ==============================================================

Band amplitudes ``f.band[j]`` (Q4 counts): 2 * |sum (x[k] - m) * exp(-i w k)| / N with w = 2 pi f_j / fs and
m = floor(mean): the amplitude of a sinusoid at f_j (Goertzel, coefficient 2 cos w in Q2.28). The input is
shifted right by ``f.gshift[j]`` bits where needed to keep the recurrence inside 32 bits; the error is at most
``2**gshift * (2 + 8 / sin w)`` counts + 2**-10 relative + 1 LSB.

The magnitude of a 3-axis sample, ``magnitude(x, y, z, out)``, fills an int16 window (the exact floor of
the root for every input, saturating at 32767) that ``compute`` takes like any other.

Under MicroPython ``compute`` runs the viper kernels (``core/kern.py``); under CPython their twins
(``core/twin.py``). Pass ``k=twin`` to run the twins under MicroPython (tests, benchmark).
"""

import sys
from array import array

from micropython import const

from core import fixed

if sys.implementation.name == "micropython":
    from core import kern as _default
else:
    from core import twin as _default

NMAX = const(4096)

N = const(0)
MIN = const(1)
MAX = const(2)
P2P = const(3)
MEAN = const(4)
VAR = const(5)
STD = const(6)
RMS = const(7)
MAD = const(8)
CREST = const(9)
ZC = const(10)
KURT = const(11)
DMEAN = const(12)
DMAX = const(13)
NFEAT = const(14)

NAMES = ("n", "min", "max", "p2p", "mean_q8", "var", "std_q4", "rms_q4", "mad_q4", "crest_q8", "zc",
         "kurt_q8", "dmean_q4", "dmax")
# Divide by this to get counts (or plain numbers for crest and kurtosis): the Q format of each feature.
SCALE = (1, 1, 1, 1, 256, 1, 16, 16, 16, 256, 1, 256, 16, 1)

_TWO_PI = 6.283185307179586


class Features:
    """Preallocated result holder (and band set-up). ``v``: the features, indexed by the constants above;
    ``band``: band amplitudes, Q4; ``gshift``: the input shift each band needed.

    fs, bands: sample rate (Hz) and band centre frequencies (Hz); each band needs 2**-10 <= sin(2 pi f / fs),
    i.e. f not within about fs/6400 of 0 or fs/2. kurtosis: False skips the kurtosis pass (KURT stays 0).
    """

    def __init__(self, fs=0, bands=(), kurtosis=True):
        import math  # once, at set-up: floats never reach the per-window path

        self.v = array("i", [0] * NFEAT)
        self.part = array("i", [0] * 20)  # kernel partials (see core/kern.py for the layout)
        self._bf = array("i", [0] * 4)
        self.kurtosis = kurtosis
        nb = len(bands)
        self.band = array("i", [0] * nb)
        self.gshift = array("i", [0] * nb)
        self._coef = array("i", [0] * nb)
        self._guard = array("i", [0] * nb)
        self._cos = array("i", [0] * nb)  # cos w, Q28
        self._sin = array("i", [0] * nb)  # sin w, Q28
        self.fs = fs
        self.freqs = tuple(bands)
        for j in range(nb):
            f = bands[j]
            if not fs or fs <= 0:
                raise ValueError("bands need the sample rate: give fs=<Hz> with bands")
            w = _TWO_PI * f / fs
            sw = math.sin(w)
            if not (f > 0 and f < fs / 2) or sw < 1 / 1024:
                raise ValueError("band %s Hz is outside (0, fs/2) for fs=%s Hz or within fs/6400 of an end"
                                 % (f, fs))
            self._coef[j] = int(round(2 * math.cos(w) * (1 << 28)))
            self._cos[j] = int(round(math.cos(w) * (1 << 28)))
            self._sin[j] = int(round(sw * (1 << 28)))
            g = 0
            while (1 << g) * sw < 1:  # 2**g >= 1/sin(w): the recurrence's gain bound
                g += 1
            self._guard[j] = g

    def get(self, name):
        return self.v[NAMES.index(name)]

    def as_dict(self, scaled=False):
        """Features by name (host side and reports; allocates). scaled=True divides by each Q format."""
        d = {}
        for i in range(NFEAT):
            d[NAMES[i]] = self.v[i] / SCALE[i] if scaled else self.v[i]
        for j in range(len(self.band)):
            d["band%d_q4" % j] = self.band[j] / 16 if scaled else self.band[j]
        return d


def magnitude(x, y, z, out, k=_default):
    """out[i] = |(x[i], y[i], z[i])| for three int16 windows of one length; out is an int16 array as long."""
    n = len(x)
    if len(y) != n or len(z) != n or len(out) < n:
        raise ValueError("magnitude: x, y, z must have one length and out at least that")
    k.magnitude(0, 0, 0, x, y, z, out, n)


def compute(window, out, k=_default):
    """Fill ``out`` (a Features) with the features of ``window`` (int16 array, 1..4096 samples)."""
    n = len(window)
    if n < 1 or n > NMAX:
        raise ValueError("window has %d samples; give 1 to 4096" % n)
    p = out.part
    v = out.v
    k.pass1(0, 0, 0, window, n, p)  # the first three arguments are the kernels' register scratch
    mn = p[0]
    mx = p[1]
    s = p[2]
    v[N] = n
    v[MIN] = mn
    v[MAX] = mx
    v[P2P] = mx - mn
    m = s // n  # floor mean
    r = s - m * n  # 0 <= r < n
    v[MEAN] = m * 256 + (r * 256) // n
    if n > 1:
        q = p[3] // (n - 1)
        v[DMEAN] = q * 16 + ((p[3] - q * (n - 1)) * 16) // (n - 1)
    else:
        v[DMEAN] = 0
    v[DMAX] = p[4]

    k.pass2(0, 0, 0, window, n, m, s, p)
    v[ZC] = p[5]
    _mad(v, p[6], p[7], n)
    _var_std(v, p[8], p[9], n, r)
    _rms_crest(v, mn, mx, s, n)

    v[KURT] = 0
    if out.kurtosis:
        emax = mx * n - s
        t = s - mn * n
        if t > emax:
            emax = t
        if emax > 0:
            b = fixed.bits(emax)
            if b > 15:
                k.pass3(0, 0, 0, window, n, s, 0, b - 15, p)
            else:
                k.pass3(0, 0, 0, window, n, s, 15 - b, 0, p)
            _kurt(v, p, out._bf, n)

    d = mx - m
    if m - mn > d:
        d = m - mn
    for j in range(len(out.band)):
        _band(out, j, window, n, m, d, k)


def _mad(v, lo, hi, n):
    # MAD = X / n**2 with X = hi * 2**16 + lo = sum |x*n - S|; chained floor divisions keep it exact and small.
    q1 = hi // n
    t = ((hi - q1 * n) << 16) + lo  # < 2**29
    q2 = t // n
    ry = t - q2 * n
    y = (q1 << 16) + q2  # floor(X / n) < 2**28
    q3 = y // n
    v[MAD] = q3 * 16 + ((y - q3 * n) * 16 + (ry * 16) // n) // n


def _var_std(v, lo, hi, n, r):
    # T = sum (x - m)**2 = hi * 2**16 + lo (hi < 2**28), in 16-bit limbs L2:L1:L0, divided by n by long division.
    l0 = lo
    l1 = hi & 0xFFFF
    l2 = hi >> 16  # < 2**12
    q = l2 // n  # 0: T / n < 2**30
    t = ((l2 - q * n) << 16) + l1
    q1 = t // n
    t = ((t - q1 * n) << 16) + l0
    q0 = t // n
    r0 = t - q0 * n
    qq = (q1 << 16) + q0  # floor(T / n) < 2**30
    # variance = T/n - r**2/n**2 = qq + (r0*n - r**2) / n**2 (the second term in (-1, 1))
    r2 = r * r
    v[VAR] = qq - 1 if r0 * n < r2 else qq
    # 256 * variance = 256*qq + 256*(r0*n - r**2)/n**2; G = floor(256*(r0*n - r**2)/n) exactly, then // n
    qa = r2 // n
    ra = r2 - qa * n
    g = (256 * r0 - 256 * qa - (256 * ra + n - 1) // n) // n  # |g| <= 256
    if qq < 0x200000:
        v[STD] = fixed.isqrt((qq << 8) + g)
    else:
        h = 1
        while qq >= (0x200000 << (2 * h)) and h < 4:
            h += 1
        v[STD] = fixed.isqrt((qq << (8 - 2 * h)) + (g >> (2 * h))) << h


def _rms_crest(v, mn, mx, s, n):
    # rms = hypot(std, mean): both Q4, brought under 2**14 so the sum of squares fits.
    a = v[STD]
    s = s if s >= 0 else -s
    b = s // n
    b = b * 16 + ((s - b * n) * 16) // n  # floor(16 |mean|) < 2**20, exact
    big = a if a > b else b
    h = fixed.bits(big) - 14
    if h > 0:
        a >>= h
        b >>= h
        v[RMS] = fixed.isqrt(a * a + b * b) << h
    else:
        v[RMS] = fixed.isqrt(a * a + b * b)
    pk = mx if mx > -mn else -mn
    rms = v[RMS]
    v[CREST] = (pk << 12) // rms if rms > 0 else 0  # pk * 2**12 <= 2**27


def _kurt(v, p, bf, n):
    # kurtosis = n * sum e**4 / (sum e**2)**2 with e' = e * 2**(left-right), w = e'**2 / 2**15:
    # = n * 2**30 * sum w**2 / (sum e'**2)**2 (the scale of e' cancels). Q8: 2**38 more.
    fixed.limbs_bf(p[12], p[11], bf, 0)  # sum e'**2
    fixed.limbs_bf(p[14], p[13], bf, 2)  # sum w**2
    me = bf[0]
    ee = bf[1]
    j = fixed.bits(me) - 15
    if j > 0:
        me >>= j
        ee += j
    mf = bf[2]
    ef = bf[3]
    j = fixed.bits(mf) - 17
    if j > 0:
        mf >>= j
        ef += j
    v[KURT] = fixed.ratio(mf * n, ef + 38, me * me, 2 * ee, 0)


def _band(out, j, window, n, m, d, k):
    # Shift so that n * (max|x| + 3) * 2**guard < 2**27 keeps |s| < 2**27 (|s| <= sum|x| / sin w).
    g = out._guard[j]
    nb = fixed.bits(n)
    sh = 0
    while nb + fixed.bits((d >> sh) + 3) + g > 27:
        sh += 1
    out.gshift[j] = sh
    c = out._coef[j]
    p = out.part
    k.goertzel(0, 0, 0, window, n, m, sh, c, p)
    s1 = p[17]
    s2 = p[18]
    # X = s1 - s2 * exp(-iw): re and im straight from the state (no s1**2 + s2**2 - c s1 s2 cancellation)
    re = s1 - _mulq28(out._cos[j], s2)  # |re| < 2**28
    im = _mulq28(out._sin[j], s2)
    a1 = re if re >= 0 else -re
    a2 = im if im >= 0 else -im
    t = fixed.bits(a1 if a1 > a2 else a2) - 14  # bring both under 2**14
    if t >= 0:
        re >>= t
        im >>= t
    else:
        re <<= -t
        im <<= -t
    # amplitude Q4 = 32 * |X| * 2**sh / n, |X| = sqrt(re**2 + im**2) * 2**t
    out.band[j] = fixed.shift(((fixed.isqrt(re * re + im * im) << 15) // n), t + sh + 5 - 15)


def _mulq28(a, x):
    # a * x / 2**28 for |a| <= 2**28, |x| < 2**27, in 14-bit halves (every product < 2**28; error in [0, 2))
    ah = a >> 14
    xh = x >> 14
    return ah * xh + ((ah * (x & 0x3FFF) + (a & 0x3FFF) * xh) >> 14)
