"""A fleet in shards: shard I of N runs the devices whose index is I modulo N (ids, traits, faults and every draw
fixed by the index, ``plan.py``), writes what it found to a folder, and ``merge`` puts the folders together into
the summary, collector database and HTML report an unsharded run gives.

    run = FleetRun(scn, home, workdir=scratch, shard=(1, 4))       # fieldnode sim run --shard 1/4 --out DIR
    write_shard(run, run.run(), Path("out"))                          # out/shard-0001-of-0004/{summary.json,
                                                                      #                         collector.sqlite}
    summary = merge([Path("out")], Path("merged"))                    # fieldnode sim merge out -o merged

A shard's folder holds only results (a summary with its own device rows, and its collector database); the flash
images stay in the shard's scratch folder, so a shared volume carries kilobytes per device, not megabytes.
"""

import hashlib
import json
import sqlite3
from dataclasses import asdict
from pathlib import Path

from ..errors import ConfigError, UsageError
from .fleet import totals

SUMMARY = "summary.json"
DB = "collector.sqlite"
HTML = "report.html"
_COPIED = ("reports", "devices", "commands", "reject_log", "update_log")  # rows are one device's: copied as they are


def parse(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), 0 <= I < N; UsageError with one line otherwise."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise UsageError(f"--shard {text}: not I/N", "e.g. --shard 0/4 for the first of four shards") from None
    if not (n >= 1 and 0 <= i < n):
        raise UsageError(f"--shard {text}: I must be 0..N-1 and N at least 1", "e.g. --shard 3/4 for the last of four")
    return i, n


def fingerprint(scn) -> str:
    """What shards must share to be merged: the scenario itself, every key of it (the name included)."""
    return hashlib.sha256(json.dumps(asdict(scn), sort_keys=True, default=str).encode()).hexdigest()[:16]


def folder(out: Path, shard: tuple) -> Path:
    return Path(out) / f"shard-{shard[0]:04d}-of-{shard[1]:04d}"


def write_shard(run, summary: dict, out: Path) -> Path:
    """Write shard ``run``'s results under ``out``: its summary (with the shard and the scenario's fingerprint) and a
    consistent copy of its collector database (SQLite's backup API, safe while the collector still has it open)."""
    d = folder(out, run.shard)
    d.mkdir(parents=True, exist_ok=True)
    part = dict(summary, shard=list(run.shard), fingerprint=fingerprint(run.scn), devices_in_fleet=run.scn.devices)
    tmp = d / (DB + ".tmp")
    tmp.unlink(missing_ok=True)
    with run.collector.store.lock:
        dst = sqlite3.connect(str(tmp))
        try:
            run.collector.store.db.backup(dst)
        finally:
            dst.close()
    tmp.replace(d / DB)
    (d / SUMMARY).write_text(json.dumps(part, indent=1))
    return d


def _shard_dirs(paths) -> list[Path]:
    """Each path is a shard's folder (it holds summary.json) or a folder of them (shard-*)."""
    found = []
    for p in map(Path, paths):
        if (p / SUMMARY).exists():
            found.append(p)
        elif p.is_dir() and (subs := sorted(q for q in p.glob("shard-*") if (q / SUMMARY).exists())):
            found += subs
        else:
            raise ConfigError(f"{p}: no shard results here (no {SUMMARY}, no shard-*/ folders)",
                              "give the --out folder of fieldnode sim run --shard, or one shard's folder in it")
    return found


def _read(d: Path) -> dict:
    try:
        s = json.loads((d / SUMMARY).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{d / SUMMARY}: unreadable shard summary: {e}", "run that shard again") from None
    if not isinstance(s, dict) or "shard" not in s or "fingerprint" not in s:
        raise ConfigError(f"{d / SUMMARY}: not a shard's summary (no shard, no fingerprint)",
                          "give folders written by fieldnode sim run --shard I/N --out DIR")
    if not (d / DB).exists():
        raise ConfigError(f"{d}: the shard's {DB} is missing", "run that shard again")
    return s


def merge_summaries(parts: list[dict]) -> dict:
    """One summary from shards' (in any order): devices in id order, totals and refusals summed, the longest wall
    time (the shards ran side by side)."""
    first = parts[0]
    devs = sorted((d for p in parts for d in p["devices"]), key=lambda d: d["device"])
    rejects: dict = {}
    for p in parts:
        for k, v in p["rejects"].items():
            rejects[k] = rejects.get(k, 0) + v
    out = {k: v for k, v in first.items() if k not in ("shard", "fingerprint", "devices_in_fleet")}
    out.update(devices=devs, totals=totals(devs), rejects=dict(sorted(rejects.items())),
               wall_s=max(p["wall_s"] for p in parts))
    if any(p.get("interrupted") for p in parts):
        out["interrupted"] = True
        out["duration_s"] = min(p["duration_s"] for p in parts)
    return out


def merge_databases(dirs: list[Path], target: Path) -> None:
    """The shards' collector databases as one, in the collector's own schema (``collector.db.Store`` makes it)."""
    from ..collector.db import Store

    target.unlink(missing_ok=True)
    Store(target).close()
    db = sqlite3.connect(str(target))
    try:
        for d in dirs:
            db.execute("ATTACH DATABASE ? AS shard", (str(d / DB),))
            with db:
                for table in _COPIED:
                    db.execute(f"INSERT INTO main.{table} SELECT * FROM shard.{table}")
                db.execute("INSERT INTO main.rejects SELECT reason, count FROM shard.rejects WHERE true "
                           "ON CONFLICT(reason) DO UPDATE SET count = count + excluded.count")
            db.execute("DETACH DATABASE shard")
    except sqlite3.IntegrityError as e:
        raise ConfigError(f"shard databases overlap ({e}): the same device ran in two shards",
                          "merge the folders of one run only, each shard once") from None
    finally:
        db.close()


def reports(db_path: Path, device_ids) -> dict:
    """{device id: [report dicts]} from a collector database, as the HTML report wants them."""
    from ..collector.db import Store

    st = Store(db_path)
    try:
        return {i: list(st.reports(i)) for i in device_ids}
    finally:
        st.close()


def run_jobs(argv: list, jobs: int, out: Path, progress=None) -> list:
    """Run ``fieldnode sim run`` ``argv`` as ``jobs`` local processes, shard i/jobs each, writing under ``out``;
    returns their exit codes. A Ctrl-C reaches them too (one process group): each writes what it ran, and the
    caller merges that."""
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-m", "fieldnode", "sim", "run", *argv, "--shard", f"{i}/{jobs}",
                               "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(jobs)]
    codes = []
    try:
        for i, p in enumerate(procs):
            _, err = p.communicate()
            codes.append(p.returncode)
            if p.returncode not in (0, 1, 130):
                line = (err.decode(errors="replace").strip().splitlines() or ["(nothing on stderr)"])[-1]
                raise ConfigError(f"shard {i}/{jobs} failed (exit {p.returncode}): {line}", "see the line above")
            if progress:
                progress(f"shard {i}/{jobs} done")
    except KeyboardInterrupt:
        for p in procs:
            p.wait()  # each was interrupted as well, and writes its partial results before it exits
        raise
    return codes


def merge(paths, out: Path, html: Path | None = None) -> dict:
    """Merge shard folders (``paths``: shard folders or --out folders of them) into ``out``: summary.json,
    collector.sqlite, report.html (or ``html``). Every shard 0..N-1 of one scenario must be there, once."""
    from .report import write_html

    dirs = _shard_dirs(paths)
    parts = [_read(d) for d in dirs]
    prints = {p["fingerprint"] for p in parts}
    if len(prints) > 1:
        raise ConfigError(f"shards of different scenarios ({len(prints)} fingerprints) in {', '.join(map(str, paths))}",
                          "merge the shards of one run only")
    n = parts[0]["shard"][1]
    have = sorted(p["shard"][0] for p in parts)
    if {p["shard"][1] for p in parts} != {n} or have != list(range(n)):
        missing = sorted(set(range(n)) - set(have))
        dup = sorted({i for i in have if have.count(i) > 1})
        what = (f"shard {', '.join(f'{i}/{n}' for i in missing)} missing" if missing else
                f"shard {', '.join(f'{i}/{n}' for i in dup)} given twice" if dup else "shards of different counts")
        raise ConfigError(f"cannot merge: {what}", "run every shard I/N of the run once, then merge all their folders")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = merge_summaries(parts)
    merge_databases(dirs, out / DB)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1))
    html = Path(html) if html else out / HTML
    write_html(html, summary, reports(out / DB, [d["device"] for d in summary["devices"]]))
    summary["html"] = str(html)
    return summary
