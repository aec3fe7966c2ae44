"""Feature core: viper kernels equal their twins bit for bit under MicroPython, twins stay within their stated
error bounds against float64, nothing overflows 32 bits or allocates per window."""

import math
import sys

import pytest
from core_util import as_named, cpython_features, run_windows
from fieldnode import featref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FS = 3200
BANDS = (29.95, 162.2, 1000.0)

I16 = st.integers(-32768, 32767)


@st.composite
def windows(draw, max_len=4096):
    """int16 windows: random, runs of one value (often -32768 or 32767), small signals, sinusoids."""
    n = draw(st.one_of(st.integers(1, 64), st.integers(1, max_len), st.just(max_len)))
    kind = draw(st.sampled_from(["random", "runs", "small", "sine"]))
    if kind == "random":
        seed = draw(st.integers(0, 2**32 - 1))
        import random

        r = random.Random(seed)
        return [r.randint(-32768, 32767) for _ in range(n)]
    if kind == "runs":
        vals = draw(st.lists(st.one_of(st.sampled_from([-32768, 32767, 0, -1]), I16), min_size=1, max_size=6))
        run = draw(st.integers(1, max(1, n)))
        return [vals[(i // run) % len(vals)] for i in range(n)]
    if kind == "small":
        base = draw(st.integers(-30000, 30000))
        seed = draw(st.integers(0, 2**32 - 1))
        import random

        r = random.Random(seed)
        return [base + r.randint(-2, 2) for _ in range(n)]
    amp = draw(st.integers(1, 32767))
    f = draw(st.floats(0.001, 0.49))
    off = draw(st.integers(-32768 + amp, 32767 - amp))
    return [max(-32768, min(32767, int(off + amp * math.sin(2 * math.pi * f * i)))) for i in range(n)]


EXTREMES = [
    [-32768] * 4096,
    [32767] * 4096,
    [-32768, 32767] * 2048,
    [-32768] * 2048 + [32767] * 2048,
    [32767] * 4095 + [-32768],
    [(-32768 if (i // 7) % 2 else 32767) for i in range(4096)],
    [((i * 16) % 65536) - 32768 for i in range(4096)],  # full-scale sawtooth
    [-32768],
    [5, 6],
]


def _check_bounds(named, w, bands=BANDS):
    ref = featref.reference(w, FS, bands)
    for name, r in ref.items():
        got = named[name]
        b = featref.bound(name, r, named, FS, bands)
        assert abs(got - r) <= b, f"{name}: fixed {got} vs float {r:.3f} (bound {b:.3f}), n={len(w)}"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(windows(), min_size=1, max_size=8))
def test_viper_equals_twin_under_micropython_and_cpython(tmp_path_factory, ws):
    rows = run_windows(tmp_path_factory.mktemp("w"), ws, FS, BANDS)
    assert len(rows) == len(ws)
    for w, row in zip(ws, rows, strict=True):
        assert row["viper"] == row["twin"], f"viper != twin for n={len(w)}"
        assert row["vband"] == row["tband"]
        v, b, g = cpython_features(w, FS, BANDS)
        assert v == row["viper"] and b == row["vband"] and g == row["gshift"]


def test_windows_that_overflow_naive_32bit_sums(tmp_path):
    # a naive sum of squares of 4096 samples of -32768 is 2**42: these would wrap in a 32-bit viper int
    assert sum(x * x for x in EXTREMES[0]) >= 2**42
    rows = run_windows(tmp_path, EXTREMES, FS, BANDS)
    for w, row in zip(EXTREMES, rows, strict=True):
        assert row["viper"] == row["twin"]
        assert row["vband"] == row["tband"]
        _check_bounds(as_named(row["viper"], row["vband"], row["gshift"]), w)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows(max_len=2048))
def test_twin_within_stated_bounds_of_float(w):
    v, b, g = cpython_features(w, FS, BANDS)
    _check_bounds(as_named(v, b, g), w)


def test_known_values():
    # 0/1 alternating: mean 0.5, var 0.25, std 0.5, kurtosis 1, 3 crossings in 4 samples
    v, _, _ = cpython_features([0, 1, 0, 1])
    named = as_named(v, [], [])
    assert named["mean_q8"] == 128 and named["var"] == 0 and named["std_q4"] == 8
    assert named["kurt_q8"] == 256 and named["zc"] == 3 and named["mad_q4"] == 8
    # a full-scale sine: rms = A/sqrt 2, crest sqrt 2, kurtosis 1.5, band amplitude A
    a = 20000
    w = [int(round(a * math.sin(2 * math.pi * 50 * i / FS))) for i in range(3200)]
    v, b, _ = cpython_features(w, FS, (50.0,))
    named = as_named(v, b, [])
    assert abs(named["rms_q4"] / 16 - a / math.sqrt(2)) < 2
    assert abs(named["crest_q8"] / 256 - math.sqrt(2)) < 0.01
    assert abs(named["kurt_q8"] / 256 - 1.5) < 0.02
    assert abs(named["band0_q4"] / 16 - a) < a * 0.002


def test_bands_separate_frequencies():
    w = [int(8000 * math.sin(2 * math.pi * 29.95 * i / FS)) for i in range(4096)]
    _, b, _ = cpython_features(w, FS, BANDS)
    assert b[0] / 16 > 7900 and b[1] / 16 < 200 and b[2] / 16 < 50


def test_bad_input_raises_clear_errors():
    from array import array

    from core import features

    f = features.Features()
    with pytest.raises(ValueError, match="1 to 4096"):
        features.compute(array("h"), f)
    with pytest.raises(ValueError, match="1 to 4096"):
        features.compute(array("h", [0] * 4097), f)
    with pytest.raises(ValueError, match="fs/2"):
        features.Features(fs=1000, bands=(600,))
    with pytest.raises(ValueError, match="sample rate"):
        features.Features(bands=(50,))


# Locals that the kernels hold as viper ``uint`` (32-bit words read unsigned; the twins wrap them at 2**32): their
# range is that of a 32-bit register read either way, -2**31 <= x < 2**32.
UINT_LOCALS = {"pass2": {"ad", "sq", "c"}, "pass3": {"q", "w", "e2", "f4"}, "magnitude": {"v"}}


def _bounded_tracer(limits, uints=UINT_LOCALS):
    """A sys.settrace tracer that fails when an int local of the core's code leaves its range."""
    seen = {"max": 0}

    def local(frame, event, arg):
        lim = limits.get(frame.f_code.co_filename.rsplit("/", 1)[-1])
        wide = uints.get(frame.f_code.co_name, ()) if frame.f_code.co_filename.endswith("twin.py") else ()
        for k, val in frame.f_locals.items():
            if isinstance(val, int) and not isinstance(val, bool):
                a = abs(val)
                if a > seen["max"]:
                    seen["max"] = a
                if k in wide:
                    if not -(2**31) <= val < 2**32:
                        raise AssertionError(f"{frame.f_code.co_name}: uint {k} = {val} is not a 32-bit word")
                elif a > lim:
                    raise AssertionError(f"{frame.f_code.co_name}: {k} = {val} exceeds {lim}")
        return local

    def glob(frame, event, arg):
        if frame.f_code.co_filename.rsplit("/", 1)[-1] in limits:
            return local
        return None

    return glob, seen


def test_every_intermediate_fits_32_bit_viper_ints_and_small_ints():
    # Kernels (twin.py mirrors kern.py line by line): signed 32-bit machine words. Per-window arithmetic
    # (features.py, fixed.py): MicroPython small ints on a 32-bit port, |x| < 2**30, so nothing allocates.
    tracer, seen = _bounded_tracer({"twin.py": 2**31 - 1, "features.py": 2**30 - 1, "fixed.py": 2**30 - 1})
    sys.settrace(tracer)
    try:
        for w in EXTREMES[:7]:
            cpython_features(w, FS, BANDS)
    finally:
        sys.settrace(None)
    assert seen["max"] > 2**27  # the tracer did look at the big partial sums


def test_magnitude_intermediates_fit_32_bit_viper_ints():
    # 3 * 32768**2 > 2**31: the sum of squares is a uint (< 2**32); below saturation the Newton step's r*r <= 2**30
    from array import array

    from core import twin

    edges = [-32768, -32767, -18919, -18918, -16385, -16384, -16383, 0, 16383, 16384, 18918, 32767]
    trip = [(x, y, z) for x in edges for y in edges for z in edges]
    xs, ys, zs = (array("h", c) for c in zip(*trip, strict=True))
    out = array("h", bytearray(2 * len(trip)))
    tracer, seen = _bounded_tracer({"twin.py": 2**31 - 1})
    sys.settrace(tracer)
    try:
        twin.magnitude(0, 0, 0, xs, ys, zs, out, len(trip))
    finally:
        sys.settrace(None)
    assert seen["max"] >= 3 * 2**30  # the tracer saw the largest sum of squares
    assert max(out) == 32767 and min(out) >= 0


def test_no_heap_allocation_per_window(mpy):
    out = mpy("""
import gc, math
from array import array
from core import features
f = features.Features(fs=3200, bands=(29.95, 162.2))
w = array('h', bytearray(8192))
for i in range(4096):
    w[i] = int(12000 * math.sin(i * 0.3))
x = array('h', bytearray(512)); y = array('h', bytearray(512))
z = array('h', bytearray(512)); m = array('h', bytearray(512))
for i in range(256):
    x[i] = 1000; y[i] = -2000 + i; z[i] = 30000
features.compute(w, f)
features.magnitude(x, y, z, m)
gc.collect()
gc.disable()
a0 = gc.mem_alloc()
for i in range(20):
    w[i] = -32768
    features.compute(w, f)
    features.magnitude(x, y, z, m)
a1 = gc.mem_alloc()
print(a1 - a0)
""").check()
    assert int(out) == 0


def test_magnitude_matches_float_and_twin(mpy):
    out = mpy("""
from array import array
from core import features, twin
x = array('h', [0, 3, -32768, 16383, 16384, 32767, -100])
y = array('h', [0, 4, -32768, 16383, 0, 32767, 7])
z = array('h', [0, 0, -32768, 16383, 0, 32767, -3])
a = array('h', bytearray(14)); b = array('h', bytearray(14))
features.magnitude(x, y, z, a)
features.magnitude(x, y, z, b, twin)
print(list(a) == list(b), list(a))
""").check()
    same, vals = out.split(" ", 1)
    assert same == "True"
    got = eval(vals)  # a list literal printed by MicroPython
    xs = [0, 3, -32768, 16383, 16384, 32767, -100]
    ys = [0, 4, -32768, 16383, 0, 32767, 7]
    zs = [0, 0, -32768, 16383, 0, 32767, -3]
    for g, a, b, c in zip(got, xs, ys, zs, strict=True):
        assert g == min(32767, math.isqrt(a * a + b * b + c * c))
    assert got[1] == 5 and got[4] == 16384
