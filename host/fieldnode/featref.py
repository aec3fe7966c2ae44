"""Float64 reference for the firmware's window features (numpy), and the error bounds they are held to.

``reference(window, fs=0, bands=())`` returns, for each feature in ``core.features.NAMES``, the exact value in
the same units and scale as the firmware's fixed-point output (a float: e.g. ``std_q4`` is 16 * std), so a test
or a user can compare the two directly; ``bound(name, ref, ...)`` is the largest allowed difference, as stated in
``firmware/core/features.py``.
"""

import math

import numpy as np

NAMES = ("n", "min", "max", "p2p", "mean_q8", "var", "std_q4", "rms_q4", "mad_q4", "crest_q8", "zc",
         "kurt_q8", "dmean_q4", "dmax")


def reference(window, fs=0, bands=()) -> dict:
    """Exact features of an int16 window (float64, or exact integer arithmetic where a float would not be)."""
    x = np.asarray(window, dtype=np.int64)
    n = len(x)
    s = int(x.sum())
    m = s // n
    xf = x.astype(np.float64)
    mu = s / n
    d = xf - mu
    var = float((d * d).mean())
    rms = math.sqrt(float((xf * xf).mean()))
    e = x * n - s  # sign of x - mean, exactly
    below = e < 0  # a sample equal to the mean counts as above it
    zc = int(np.count_nonzero(below[1:] != below[:-1]))
    m2 = float((d ** 2).mean())
    kurt = float((d ** 4).mean()) / (m2 * m2) if m2 > 0 else 0.0
    dx = np.abs(np.diff(x))
    pk = float(np.abs(x).max())
    out = {
        "n": n, "min": int(x.min()), "max": int(x.max()), "p2p": int(x.max() - x.min()),
        "mean_q8": 256 * mu, "var": var, "std_q4": 16 * math.sqrt(var), "rms_q4": 16 * rms,
        "mad_q4": 16 * float(np.abs(e).sum()) / (n * n), "crest_q8": 256 * pk / rms if rms else 0.0,
        "zc": zc, "kurt_q8": 256 * kurt,
        "dmean_q4": 16 * float(dx.mean()) if n > 1 else 0.0, "dmax": int(dx.max()) if n > 1 else 0,
    }
    k = np.arange(n)
    for j, f in enumerate(bands):
        w = 2 * math.pi * f / fs
        out[f"band{j}_q4"] = 16 * 2 * abs(np.sum((x - m) * np.exp(-1j * w * k))) / n
    return out


def bound(name: str, ref: float, fixed: dict | None = None, fs=0, bands=()) -> float:
    """The allowed |fixed - ref| for one feature (``fixed``: the firmware's output, for bounds that follow it)."""
    if name in ("n", "min", "max", "p2p", "zc", "dmax"):
        return 0
    if name in ("mean_q8", "mad_q4", "dmean_q4"):
        return 1  # exact floor
    if name == "var":
        return 1 if ref < 2 ** 22 else ref * 2 ** -14 + 1
    if name == "std_q4":
        return 1 if ref < 16 * 2 ** 10.5 else ref * 2 ** -10
    if name == "rms_q4":
        return 3 + ref * 2 ** -11
    if name == "crest_q8":
        rms = fixed["rms_q4"]
        # crest = 4096 * peak / rms: follows the error of rms (and the floor)
        return 1 + 4096 * (fixed["max"] if fixed["max"] > -fixed["min"] else -fixed["min"]) * \
            (3 + rms * 2 ** -11) / max(rms * (rms - 3 - rms * 2 ** -11), 1)
    if name == "kurt_q8":
        return 2 + 0.01 * ref
    if name.startswith("band"):
        j = int(name[4:-3])
        w = 2 * math.pi * bands[j] / fs
        sh = fixed["gshift"][j]
        return 16 * (2 ** sh) * (2 + 8 / math.sin(w)) + ref * 2 ** -10 + 1
    raise KeyError(name)
