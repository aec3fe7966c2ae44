"""Helpers for the feature-core tests: run many windows through the firmware under MicroPython in one process."""

import json
import struct

from conftest import run_mpy

# Reads windows from a file (u16 count, then int16 samples, repeated) and prints one JSON line per window and
# implementation: [viper features, viper bands, twin features, twin bands, gshift].
_DRIVER = """
import sys, json, struct
from array import array
from core import features, twin, kern
FS = %r
BANDS = %r
f = features.Features(fs=FS, bands=BANDS)
g = features.Features(fs=FS, bands=BANDS)
fh = open(%r, 'rb')
while True:
    h = fh.read(2)
    if not h:
        break
    n = struct.unpack('<H', h)[0]
    w = array('h', fh.read(2 * n))
    features.compute(w, f, kern)
    features.compute(w, g, twin)
    print(json.dumps([list(f.v), list(f.band), list(g.v), list(g.band), list(f.gshift)]))
"""


def write_windows(path, windows):
    with open(path, "wb") as fh:
        for w in windows:
            fh.write(struct.pack("<H", len(w)))
            fh.write(struct.pack(f"<{len(w)}h", *w))


def run_windows(tmp_path, windows, fs=0, bands=()):
    """Features of each window under MicroPython: a list of dicts (viper, twin, band lists, gshift)."""
    p = tmp_path / "windows.bin"
    write_windows(p, windows)
    out = run_mpy(_DRIVER % (fs, tuple(bands), str(p)), timeout=300).check()
    rows = []
    for line in out.splitlines():
        v, b, tv, tb, gs = json.loads(line)
        rows.append({"viper": v, "vband": b, "twin": tv, "tband": tb, "gshift": gs})
    return rows


def cpython_features(window, fs=0, bands=()):
    """The twins under CPython: (features list, band list, gshift list)."""
    from array import array

    from core import features, twin

    f = features.Features(fs=fs, bands=bands)
    features.compute(array("h", window), f, twin)
    return list(f.v), list(f.band), list(f.gshift)


def as_named(v, band, gshift):
    from core import features

    d = dict(zip(features.NAMES, v, strict=False))
    for j, x in enumerate(band):
        d[f"band{j}_q4"] = x
    d["gshift"] = gshift
    return d

