"""Score the default detector on real data: the NAB subset and a CWRU normal -> fault bearing stream.

    .venv/bin/python tools/evaluate_nab.py [--config detector.json] [--data ../shared/data] [--json]

NAB (Numenta Anomaly Benchmark) scoring as NAB's own sweeper does it (``score_rows``; NAB's nab/sweeper.py):
each labelled window scores its first detection ``tp * sigma(-(end - i + 1) / width) / sigma(-1)`` with
``sigma(y) = 2 / (1 + exp(5 y)) - 1``; a window with no detection scores ``-fn``; a detection outside every
window scores ``fp * sigma(|i - end| / (width - 1))`` with end and width those of the last window before it
(-fp when none precedes it or it is 3 window lengths past); the first 15 % of each file, at most 750 rows, is
probation and not scored. Profiles (``PROFILES``): standard (tp 1, fp 0.11, fn 1), reward_low_FP_rate
(fp 0.22), reward_low_FN_rate (fn 2). The normalised score is 100 * (S - S_null) / (S_perfect - S_null), S_null
the detector that never fires, S_perfect one that fires at the start of every window. A detection is a row
where ``fieldnode detect`` sets ``alarm`` (the device's raise). tools/nab_cv.py cross-validates the choice.

CWRU: the drive-end accelerometer at 48 kHz, normal bearing then 0.007" inner-race fault, low-pass filtered and
decimated 4x to 12 kHz, scaled to int16 as a +-16 g accelerometer (2048 counts/g); windows of 512 samples ->
firmware features (under MicroPython) -> the detector (default config, warm-up cut to 40 windows) on the
window RMS, kurtosis and peak-to-peak. Reported: false alarms
before the change and windows from the change to the first alarm.

Skips with a message when the data folder is absent.
"""

import argparse
import io
import json
import math
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode import detect  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# NAB's three application profiles (config/profiles.json of NAB): the weight of a true positive, of a false
# positive and of a missed window
PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}
A_TP, A_FP, A_FN = 1.0, 0.11, 1.0
PROBATION = 0.15


def sigma(y):
    """NAB's scaled sigmoid: 2 / (1 + exp(5 y)) - 1, and -1 from 3 window lengths past a window on."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation(n):
    """Rows at the start of a file that NAB does not score: 15 %, at most 750 (15 % of 5000)."""
    return min(math.floor(PROBATION * n), PROBATION * 5000)


def _ts(s):
    return datetime.fromisoformat(s.strip())


def window_rows(times, windows):
    """The labelled windows of one file as (first row, last row) pairs (windows holding no row are dropped)."""
    wins = []
    for a, b in windows:
        ta, tb = _ts(a), _ts(b)
        idx = [i for i, t in enumerate(times) if ta <= t <= tb]
        if idx:
            wins.append((idx[0], idx[-1]))
    return wins


def score_file(times, alarms, windows, profile="standard"):
    """NAB score pieces for one file: raw score, perfect, null, TP, FN, FP, delays (fraction of window)."""
    return score_rows(len(times), [i for i, a in enumerate(alarms) if a], window_rows(times, windows), profile)


def score_rows(n, raised, wins, profile="standard"):
    """score_file on row numbers: n rows, the rows that raised an alarm (ascending), windows from window_rows.

    As NAB's sweeper scores a threshold: a window scores its best (= first) detection,
    tp * sigma(-(end - i + 1) / width) / sigma(-1), or -fn when it has none; every detection outside a window
    costs fp * sigma(|i - end| / (width - 1)) with end and width those of the last window before it, or -fp when
    no window precedes it. Rows in probation are not scored, nor is a window lying wholly in it.
    """
    w = PROFILES[profile]
    start = probation(n)
    max_tp = sigma(-1.0)
    best = {}
    raw = 0.0
    fp = 0
    delays = []
    k = 0  # windows[k] is the first window that does not end before i
    for i in raised:
        if i < start:
            continue
        while k < len(wins) and wins[k][1] < i:
            k += 1
        if k < len(wins) and wins[k][0] <= i:
            a, b = wins[k]
            if k not in best:
                best[k] = w["tp"] * sigma(-(b - i + 1) / (b - a + 1)) / max_tp
                delays.append((i - a) / (b - a + 1))
            continue
        if k > 0:
            a, b = wins[k - 1]
            raw += w["fp"] * sigma(abs(i - b) / max(b - a, 1))
        else:
            raw -= w["fp"]
        fp += 1
    scored = [j for j, (a, b) in enumerate(wins) if b >= start]
    fn = sum(1 for j in scored if j not in best)
    raw += sum(best.values()) - w["fn"] * fn
    return {"raw": raw, "perfect": w["tp"] * len(scored), "null": -w["fn"] * len(scored), "tp": len(best),
            "fn": fn, "fp": fp, "delays": delays, "windows": len(scored)}


def normalised(parts):
    """100 * (S - S_null) / (S_perfect - S_null) over score pieces summed across files."""
    raw = sum(p["raw"] for p in parts)
    perfect = sum(p["perfect"] for p in parts)
    null = sum(p["null"] for p in parts)
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def run_nab(data, cfg):
    wins = json.loads((data / "nab" / "windows.json").read_text())
    per_file, tot = {}, {"raw": 0.0, "perfect": 0.0, "null": 0.0, "tp": 0, "fn": 0, "fp": 0, "windows": 0}
    delays = []
    for name, w in sorted(wins.items()):
        path = data / "nab" / name
        buf = io.StringIO()
        detect.detect_csv(path, None, cfg, buf)
        buf.seek(0)
        lines = buf.read().splitlines()[1:]
        times = [_ts(ln.split(",")[0]) for ln in lines]
        alarms = [ln.split(",")[-2] == "1" for ln in lines]
        r = score_file(times, alarms, w)
        per_file[name] = {k: v for k, v in r.items() if k != "delays"}
        for k in tot:
            tot[k] += r[k]
        delays += r["delays"]
        print(f"  {name:<58} windows {r['windows']} TP {r['tp']} missed {r['fn']} FP {r['fp']}", file=sys.stderr)
    score = 100.0 * (tot["raw"] - tot["null"]) / (tot["perfect"] - tot["null"]) if tot["perfect"] != tot["null"] \
        else 0.0
    return {"score": round(score, 1), "tp": tot["tp"], "missed": tot["fn"], "fp": tot["fp"],
            "windows": tot["windows"],
            "mean_delay_fraction_of_window": round(sum(delays) / len(delays), 3) if delays else None,
            "files": per_file}


def _lowpass_decimate(x, q):
    """Windowed-sinc FIR low-pass at 0.8 * the new Nyquist (Hamming, 127 taps), then every q-th sample."""
    import numpy as np

    taps = 127
    fc = 0.8 * 0.5 / q  # cycles per input sample
    k = np.arange(taps) - (taps - 1) / 2
    h = 2 * fc * np.sinc(2 * fc * k) * np.hamming(taps)
    h /= h.sum()
    return np.convolve(x, h, mode="same")[::q]


def run_cwru(data, cfg, window=512):
    import numpy as np

    normal = np.load(data / "cwru" / "1797_Normal_DE48.npz")["DE"].reshape(-1)
    fault = np.load(data / "cwru" / "1797_IR_7_DE48.npz")["DE"].reshape(-1)
    x = _lowpass_decimate(np.concatenate([normal, fault]), 4)
    change = len(normal) // 4 // window  # first window that is all fault (approximately)
    counts = np.clip(np.round(x * 2048), -32768, 32767).astype(int)
    out = {}
    with detect.FeatureRun(window, 12000, (29.95,)) as fr:
        feats = [fr.window(counts[i:i + window].tolist()) for i in range(0, len(counts) - window + 1, window)]
    names = fr.names
    # the recording holds only ~119 normal windows: learn the baseline over the first 40 instead of the default's
    cfg = dict(cfg, warmup=min(cfg.get("warmup", 30), 40))
    for feat in ("rms_q4", "kurt_q8", "p2p"):
        j = names.index(feat)
        with detect.DetectorRun(cfg) as dr:
            res = dr.feed([f[j] for f in feats])
        raised = [i for i, r in enumerate(res) if r and r[0] & 1]
        before = [i for i in raised if i < change]
        after = [i for i in raised if i >= change]
        out[feat] = {"false_alarms_before_change": len(before),
                     "delay_windows": (after[0] - change) if after else None,
                     "delay_ms": round((after[0] - change) * window / 12.0, 1) if after else None}
    out["windows"] = len(feats)
    out["change_window"] = change
    return out


def nab_data(path):
    """The data folder as a Path when it holds the NAB subset; else None, after the one line saying it was skipped
    (the scoring tools run where the recordings are missing, and say so rather than fail)."""
    data = Path(path)
    if not (data / "nab" / "windows.json").exists():
        print(f"skipped: no data at {data} (the recordings live beside the project, not in it)")
        return None
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description="Score the detector the NAB way on ../shared/data, and on CWRU.")
    ap.add_argument("--config", help="detector config (default: the shipped one)")
    ap.add_argument("--data", default=str(DATA), help="data folder (default ../shared/data)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    data = nab_data(args.data)
    if data is None:
        return 0
    cfg = detect.load_config(args.config)
    res = {"nab": run_nab(data, cfg)}
    if (data / "cwru").exists():
        res["cwru"] = run_cwru(data, cfg)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        n = res["nab"]
        print(f"NAB subset ({len(n['files'])} files, {n['windows']} windows), standard profile: score {n['score']}")
        print(f"  TP {n['tp']}  missed {n['missed']}  FP {n['fp']}  mean delay "
              f"{n['mean_delay_fraction_of_window']} of a window")
        for feat, r in res.get("cwru", {}).items():
            if isinstance(r, dict):
                print(f"CWRU normal->inner-race fault on {feat}: {r['false_alarms_before_change']} false alarms "
                      f"before the change, first alarm {r['delay_windows']} windows ({r['delay_ms']} ms) after it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
