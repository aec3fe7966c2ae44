"""Replay recorded data through the firmware's feature core and detector under the real MicroPython runtime.

This is what makers and technicians use to tune a detector before they deploy it: the very code that runs on
the device (``firmware/core``) runs on the MicroPython unix port, fed in binary chunks over a pipe, so files of
any length stream through in constant memory.

- ``detect_csv(path, column=None, config=None, out=sys.stdout)``: writes the CSV back with two more columns,
  ``alarm`` (1 on the row where the device would raise an alarm, else 0) and ``score`` (0..1: the anomaly
  likelihood of ``core/surprise.py``, HTM's log score, which NAB's threshold sweep can take as it is).
  Returns a summary dict.
- ``feature_windows(path, window=1024, column=None, ...)``: yields one dict of features per window.
- ``load_config(path=None)``: the detector config (JSON), validated and completed by the firmware's validator
  (the defaults live in ``firmware/core/detector.py``); ``fieldnode/data/detector.json`` holds the replay keys.

The seasonal channel's period (``replay.period``): ``"auto"`` (the default) is a day in readings, 86400 / the most
common step of the first chunk's ``timestamp`` column (``daily_period``), 0 when that is not a whole number.

Readings are integers on the device; a CSV holds floats. They are multiplied by ``scale`` and rounded: the
config's ``replay.scale`` (a number, or ``"auto"``: a power of ten that brings the first rows' largest magnitude
near 10**5, an int16 range for features) decides.
"""

import csv
import json
import math
import struct
import subprocess
import sys
from importlib import resources
from pathlib import Path

from . import fwbridge
from .errors import ConfigError, FieldnodeError, UsageError
from .jsonfile import read_object
from .paths import FIRMWARE, micropython_cmd
from .seasonal import daily_period

CHUNK = 4096
MISSING = -(2**31)  # a blank cell: passed through, never fed to the detector

_DETECT_DRIVER = """
import sys, json, struct
from array import array
from core.detector import make, RAISED
d = make(json.loads(%r))
inp = sys.stdin.buffer
outp = sys.stdout.buffer
while True:
    h = inp.read(4)
    if not h or len(h) < 4:
        break
    n = struct.unpack('<I', h)[0]
    a = array('i', inp.read(4 * n))
    o = bytearray(3 * n)
    for i in range(n):
        x = a[i]
        if x == %d:
            o[3 * i] = 255
            continue
        ev = d.update(x)
        o[3 * i] = ev & 0xFF
        s = d.score
        o[3 * i + 1] = s & 0xFF
        o[3 * i + 2] = s >> 8
    outp.write(o)
    outp.flush()
"""

_FEATURE_DRIVER = """
import sys, struct
from array import array
from core import features
f = features.Features(fs=%r, bands=%r)
n = %d
inp = sys.stdin.buffer
outp = sys.stdout.buffer
while True:
    b = inp.read(2 * n)
    if not b or len(b) < 2 * n:
        break
    features.compute(array('h', b), f)
    outp.write(bytes(f.v))
    outp.write(bytes(f.band))
    outp.flush()
"""


def load_config(path=None) -> dict:
    """The detector config from ``path`` (JSON) or the default; ConfigError names the file and what is wrong."""
    if path is None:
        text = resources.files("fieldnode").joinpath("data/detector.json").read_text()
        where = "the default detector.json"
        cfg = json.loads(text)
    else:
        where = str(path)
        cfg = read_object(path, "a JSON object of detector keys")
    try:
        full = fwbridge.load("core.detector").validate(cfg)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}")
    scale = cfg.get("replay", {}).get("scale", "auto")
    if scale != "auto" and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0):
        raise ConfigError(f"{where}: replay.scale = {scale!r}", 'give a positive number or "auto"')
    # the seasonal channel's cycle: "auto" takes a day from the CSV's timestamps unless the file gives a period
    period = cfg.get("replay", {}).get("period", cfg.get("period", "auto"))
    if period != "auto" and (isinstance(period, bool) or not isinstance(period, int) or period < 0):
        raise ConfigError(f"{where}: replay.period = {period!r}",
                          'give "auto" (a day, from the timestamps) or the readings per cycle (0: none)')
    # complete: the firmware's defaults (core/detector.py, their one home) under the file's keys
    return {**full, "replay": {"scale": scale, "period": period}}


class _Mpy:
    """A MicroPython process running ``code`` with firmware/ on its path; binary request/response over pipes."""

    def __init__(self, code):
        import os

        env = dict(os.environ)
        env["MICROPYPATH"] = os.pathsep.join([str(FIRMWARE), ".frozen"])
        try:
            cmd = micropython_cmd()
        except FileNotFoundError as e:
            raise FieldnodeError(str(e))
        self.p = subprocess.Popen([cmd, "-X", "heapsize=4m", "-c", code], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def ask(self, data: bytes, nreply: int) -> bytes:
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
            got = self.p.stdout.read(nreply)
        except BrokenPipeError:
            got = b""
        if len(got) != nreply:
            self.p.kill()
            err = self.p.stderr.read().decode(errors="replace").strip().splitlines()
            raise FieldnodeError(f"the firmware stopped under MicroPython: {err[-1] if err else 'no message'}",
                                 "run the same code with `micropython` to see the traceback")
        return got

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=30)


class _Run:
    """A firmware component in its own MicroPython process (``self._mp``), closed with the object."""

    def close(self):
        self._mp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DetectorRun(_Run):
    """The firmware detector in a MicroPython process: ``feed(ints)`` -> [(flags, score) or None per value].

    score: 0..65535 (Q16 of 0..1) for the surprise detector; the baseline detector's Q8 score (0..256).

    ``cfg``: a validated config dict (its host-only keys are dropped). None in ``ints`` is a missing reading.
    Use as a context manager, or call ``close()``.
    """

    def __init__(self, cfg):
        det = {k: v for k, v in cfg.items() if k != "replay" and not k.startswith("_")}
        self._mp = _Mpy(_DETECT_DRIVER % (json.dumps(det), MISSING))

    def feed(self, ints):
        ints = [MISSING if v is None else max(-0xFFFFFF, min(0xFFFFFF, int(v))) for v in ints]
        reply = self._mp.ask(struct.pack(f"<I{len(ints)}i", len(ints), *ints), 3 * len(ints))
        return [None if reply[3 * i] == 255 else (reply[3 * i], reply[3 * i + 1] | reply[3 * i + 2] << 8)
                for i in range(len(ints))]


class FeatureRun(_Run):
    """The firmware feature core in a MicroPython process: ``window(ints)`` -> list of ints (features, bands)."""

    def __init__(self, window, fs=0, bands=()):
        fw = fwbridge.load("core.features")

        if not 1 <= window <= 4096:
            raise UsageError(f"window of {window} samples is out of range", "give 1 to 4096 samples")
        try:
            fw.Features(fs=fs, bands=bands)
        except ValueError as e:
            raise UsageError(str(e))
        self.names = list(fw.NAMES) + [f"band{j}_q4" for j in range(len(bands))]
        self.n = window
        self._nout = 4 * len(self.names)
        self._mp = _Mpy(_FEATURE_DRIVER % (fs, tuple(bands), window))

    def window(self, ints):
        reply = self._mp.ask(struct.pack(f"<{self.n}h", *ints), self._nout)
        return list(struct.unpack(f"<{self._nout // 4}i", reply))



def _open_csv(path, column):
    try:
        fh = open(path, newline="")
    except OSError as e:
        raise UsageError(f"cannot open {path}: {e.strerror}", "give a CSV file with a header row")
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header:
        fh.close()
        raise UsageError(f"{path} is empty", "give a CSV file with a header row (timestamp,value,...)")
    header = [h.strip() for h in header]
    bad = next((h for h in header if h == "" or _is_number(h)), None)
    if bad is not None:
        fh.close()
        what = "an empty name" if bad == "" else f"{bad!r}, a number"
        raise UsageError(f"{path}: the first row is not a header (it holds {what})",
                         "add a header row that names every column (timestamp,value,...)")
    if column is None:
        cands = [h for h in header if h.lower() not in ("timestamp", "time", "t")]
        if not cands:
            fh.close()
            raise UsageError(f"{path} has no value column (header: {','.join(header)})", "add one")
        column = cands[0]
    if column not in header:
        fh.close()
        raise UsageError(f"{path} has no column '{column}' (header: {','.join(header)})",
                         "pick one with --column NAME")
    return fh, reader, header, header.index(column), column


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(cell, path, line, column):
    cell = cell.strip()
    if cell == "" or cell.lower() in ("nan", "na", "null"):
        return None
    try:
        v = float(cell)
    except ValueError:
        raise UsageError(f"{path}:{line}: column '{column}' holds {cell!r}, not a number",
                         "fix or blank the cell (blank cells pass through undetected)")
    return v if math.isfinite(v) else None


def _auto_scale(values, target=1e5):
    big = max((abs(v) for v in values if v is not None), default=0.0)
    if big == 0:
        return 1.0
    return 10.0 ** math.floor(math.log10(target / big))


def detect_csv(path, column=None, config=None, out=None, progress=None) -> dict:
    """Replay ``path`` through the firmware detector; write rows + ``alarm``,``score`` to ``out`` (a text stream).

    config: a dict (validated) or None for the default. progress: called with the number of rows done.
    Returns {"rows", "alarms", "scale", "column"}.
    """
    cfg = load_config() if config is None else config
    out = out or sys.stdout
    fh, reader, header, ci, column = _open_csv(path, column)
    scale = cfg.get("replay", {}).get("scale", "auto")
    period = cfg.get("replay", {}).get("period", "auto")
    ti = next((i for i, h in enumerate(header) if h.lower() in ("timestamp", "time", "t")), None)
    mp = None
    q = 256 if cfg.get("method") == "baseline" else 65535  # the score's fixed-point unit: Q8 or Q16 of 0..1
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header + ["alarm", "score"])
    rows = alarms = 0
    line = 1
    try:
        while True:
            chunk, vals = [], []
            for row in reader:
                line += 1
                if not row:
                    continue
                if len(row) != len(header):
                    raise UsageError(f"{path}:{line}: {len(row)} fields where the header has {len(header)}",
                                     "give every row one field per header column (blank cells are allowed)")
                chunk.append(row)
                vals.append(_number(row[ci], path, line, column))
                if len(chunk) >= CHUNK:
                    break
            if not chunk:
                break
            if scale == "auto":
                scale = _auto_scale(vals)
            if mp is None:  # the first chunk's timestamps give the seasonal period (a day in readings)
                if period == "auto":
                    period = daily_period(r[ti] for r in chunk) if ti is not None else 0
                run = cfg if cfg.get("method") == "baseline" else dict(cfg, period=period)
                mp = DetectorRun(run)
            res = mp.feed([None if v is None else round(v * scale) for v in vals])
            for row, r in zip(chunk, res, strict=True):
                if r is None:
                    w.writerow(row + ["0", ""])
                    continue
                fl, sc = r
                a = 1 if fl & 1 else 0
                alarms += a
                w.writerow(row + [str(a), f"{sc / q:.4f}"])
            rows += len(chunk)
            if progress:
                progress(rows)
    finally:
        fh.close()
        if mp is not None:
            mp.close()
    return {"rows": rows, "alarms": alarms, "scale": 1.0 if scale == "auto" else scale, "column": column,
            "period": 0 if period == "auto" else period}


def _read_series(path, column):
    """Values of one column: a CSV (streamed in chunks) or a .npy/.npz array. Yields (timestamp, value) lists."""
    p = Path(path)
    if p.suffix in (".npy", ".npz"):
        import numpy as np

        try:
            data = np.load(p)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {path}: {e}", "give a CSV, .npy or .npz file")
        if p.suffix == ".npz":
            keys = list(data.keys())
            key = column or keys[0]
            if key not in keys:
                raise UsageError(f"{path} has no array '{key}' (arrays: {', '.join(keys)})", "use --column")
            data = data[key]
        arr = np.asarray(data, dtype=float).reshape(-1)
        for i in range(0, len(arr), 65536):
            yield [None] * len(arr[i:i + 65536]), arr[i:i + 65536].tolist()
        return
    fh, reader, header, ci, column = _open_csv(path, column)
    ti = next((i for i, h in enumerate(header) if h.lower() in ("timestamp", "time", "t")), None)
    line = 1
    try:
        while True:
            ts, vals = [], []
            for row in reader:
                line += 1
                if not row or len(row) <= ci:
                    continue
                v = _number(row[ci], path, line, column)
                if v is None:
                    continue
                ts.append(row[ti] if ti is not None else None)
                vals.append(v)
                if len(vals) >= 65536:
                    break
            if not vals:
                return
            yield ts, vals
    finally:
        fh.close()


def feature_windows(path, window=1024, column=None, scale="auto", fs=0, bands=(), progress=None):
    """Yield a dict per full window of ``window`` samples: index, start timestamp, scale, and the features
    (fixed-point ints as ``core.features.NAMES``, bands as ``band<j>_q4``). Samples are scaled to int16,
    saturating; ``scale="auto"`` maps the first chunk's largest magnitude to 8192 (and 1 for int16 data)."""
    mp = FeatureRun(window, fs, bands)
    buf_t, buf_v, index = [], [], 0
    try:
        for ts, vals in _read_series(path, column):
            if scale == "auto":
                integral = all(float(v).is_integer() and -32768 <= v <= 32767 for v in vals[:10000])
                big = max(abs(v) for v in vals[:10000]) or 1.0
                scale = 1.0 if integral else 8192.0 / big
            buf_t += ts
            buf_v += [max(-32768, min(32767, int(round(v * scale)))) for v in vals]
            while len(buf_v) >= window:
                w, buf_v = buf_v[:window], buf_v[window:]
                t0, buf_t = buf_t[0], buf_t[window:]
                row = {"window": index, "start": t0, "scale": scale}
                row.update(zip(mp.names, mp.window(w), strict=True))
                yield row
                index += 1
                if progress:
                    progress(index)
    finally:
        mp.close()
