"""Exhaustive proof of the magnitude kernel's square root: every v in [0, 32767**2], numpy, a few minutes.

    .venv/bin/python tools/check_isqrt.py

``core/kern.py`` and ``core/twin.py`` (magnitude) take floor(sqrt(v)) of v = ax**2 + ay**2 + az**2 below
32767**2 (above, the result saturates at 32767) with the exponent from ``core.fixed.SQRT_EXP``, a seed from
``core.fixed.SQRT_SEED``, one Newton step and one correction. This replays those lines on every possible v,
vectorised, and compares with the exact floor. The test suite checks a dense sample of the same range through
the twin itself (tests/test_core_magnitude.py); this is the slow, complete version. Prints the largest Newton
overshoot (must be <= 1) and the mismatches (0).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode import fwbridge  # noqa: E402

VMAX = 32767**2
CHUNK = 1 << 22


def main():
    import numpy as np

    fixed = fwbridge.load("core.fixed")
    SQRT_EXP, SQRT_SEED = fixed.SQRT_EXP, fixed.SQRT_SEED

    seed = np.array(list(SQRT_SEED), dtype=np.int64)
    ex = np.array(list(SQRT_EXP), dtype=np.int64)
    over = bad = 0
    for lo in range(0, VMAX + 1, CHUNK):
        v = np.arange(lo, min(lo + CHUNK, VMAX + 1), dtype=np.int64)
        k = np.where(v >= 0x400000, ex[np.minimum(v >> 22, 255)] + 7,
                     np.where(v >= 0x4000, ex[np.minimum(v >> 14, 255)] + 3,
                              np.where(v >= 0x40, ex[np.minimum(v >> 6, 255)] - 1, 0)))
        t = v >> (2 * k)
        assert int(t.max()) < 256 and int(t[v >= 64].min()) >= 64
        g = (seed[t] << k) >> 8
        r = (g + v // g) >> 1
        ref = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
        ref += ((ref + 1) * (ref + 1) <= v).astype(np.int64) - (ref * ref > v).astype(np.int64)
        over = max(over, int((r - ref).max()))
        bad += int(((r - (r * r > v)) != ref).sum()) + int((r < ref).sum())
    print(f"v in [0, {VMAX}]: largest Newton overshoot {over}, mismatches after the correction {bad}")
    return 0 if bad == 0 and over <= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
