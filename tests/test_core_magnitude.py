"""3-axis magnitude: the seeded Newton square root is the exact floor (CPython, against math.isqrt, on a dense
sample of the whole input range; tools/check_isqrt.py does every value) and the viper kernel equals its twin bit
for bit under MicroPython."""

import json
import math
import random
from array import array

from conftest import run_mpy
from core import fixed, twin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EDGES = [0, 1, 2, 3, 7, 8, 63, 64, 127, 128, 255, 256, 2047, 2048, 16382, 16383, 16384, 16385, 18918, 18919,
         32766, 32767, -1, -16383, -16384, -16385, -18919, -32767, -32768]


def expected(x, y, z):
    """The documented result: the floor of the root, saturated at 32767."""
    return min(32767, math.isqrt(x * x + y * y + z * z))


def run_twin(xs, ys, zs):
    out = array("h", bytearray(2 * len(xs)))
    twin.magnitude(0, 0, 0, array("h", xs), array("h", ys), array("h", zs), out, len(xs))
    return list(out)


def test_seed_table_and_root_are_exact_over_the_sum_range():
    # The root sees v = ax**2 + ay**2 + az**2 below 32767**2 (above, it saturates). One axis gives every square,
    # two axes with a small third every value near the squares (where a floor is decided), a seeded random sample
    # the rest; the exponent table gives every top byte its k.
    assert fixed.SQRT_SEED[0] == 256 and fixed.SQRT_SEED[255] == math.isqrt(65536 * 255 + 32768)
    for v in (0, 1, 63, 64, 255, 256, 2**14 - 1, 2**14, 2**22 - 1, 2**22, 2**28, 32767**2):
        k = next(k for k in range(16) if v >> (2 * k) < 256)
        j, e = (v >> 22, 7) if v >= 2**22 else (v >> 14, 3) if v >= 2**14 else (v >> 6, -1) if v >= 64 else (0, 0)
        assert (fixed.SQRT_EXP[j] + e if v >= 64 else 0) == k, v
    xs, ys, zs = [], [], []
    for a in (*range(16384), *range(16384, 32768, 5)):
        for b, c in ((0, 0), (a, 0), (a, a), (1, 0), (1, 1), (a - 1 if a else 0, 0)):
            xs.append(a)
            ys.append(b)
            zs.append(c)
    r = random.Random(7)
    for _ in range(200_000):
        xs.append(r.randint(-16383, 16383))
        ys.append(r.randint(-16383, 16383))
        zs.append(r.choice((0, r.randint(-16383, 16383), r.randint(-64, 64))))
    for _ in range(20_000):  # |axis| >= 2**14 somewhere: most saturate
        xs.append(r.choice((-32768, 32767, r.randint(-32768, -16384), r.randint(16384, 32767))))
        ys.append(r.randint(-32768, 32767))
        zs.append(r.randint(-32768, 32767))
    got = run_twin(xs, ys, zs)
    bad = [(x, y, z, g) for x, y, z, g in zip(xs, ys, zs, got, strict=True) if g != expected(x, y, z)]
    assert not bad, f"{len(bad)} wrong roots, e.g. {bad[:5]}"


def test_every_edge_combination_and_the_documented_bound():
    trip = [(x, y, z) for x in EDGES for y in EDGES for z in EDGES]
    got = run_twin(*zip(*trip, strict=True))
    for (x, y, z), g in zip(trip, got, strict=True):
        assert g == expected(x, y, z)
        assert g == min(32767, int(math.sqrt(x * x + y * y + z * z)))


_DRIVER = """
import json
from array import array
from core import kern, twin
for line in open(%r):
    x, y, z = json.loads(line)
    n = len(x)
    a = array('h', bytearray(2 * n)); b = array('h', bytearray(2 * n))
    kern.magnitude(0, 0, 0, array('h', x), array('h', y), array('h', z), a, n)
    twin.magnitude(0, 0, 0, array('h', x), array('h', y), array('h', z), b, n)
    print(json.dumps([list(a), list(b)]))
"""

I16 = st.one_of(st.sampled_from(EDGES), st.integers(-32768, 32767), st.integers(-300, 300))


@st.composite
def triples(draw):
    n = draw(st.integers(1, 200))
    return [draw(st.lists(I16, min_size=n, max_size=n)) for _ in range(3)]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(triples(), min_size=1, max_size=6))
def test_viper_equals_twin_under_micropython(tmp_path_factory, cases):
    trip = [(x, y, z) for x in EDGES for y in EDGES for z in EDGES]
    cases = [*cases, [list(c) for c in zip(*trip, strict=True)]]
    p = tmp_path_factory.mktemp("mag") / "cases.jsonl"
    p.write_text("".join(json.dumps(c) + "\n" for c in cases))
    out = run_mpy(_DRIVER % str(p), heap="8m").check().splitlines()
    assert len(out) == len(cases)
    for (x, y, z), line in zip(cases, out, strict=True):
        v, t = json.loads(line)
        assert v == t
        assert v == [expected(*abc) for abc in zip(x, y, z, strict=True)]
