"""Ledger benchmark (issue 16.5): what the tamper-evident ledger (collector/ledger.py) costs and how fast it checks.

- append: the ledger's insert hook per stored report (leaf hash, frontier, its rows; checkpoints every 1000),
  against the collector's whole ``handle()`` time per report without the ledger (one report per uplink, the
  usual case). Goal: under 10 %.
- verify: ``ledger verify`` throughput over a database of ``N_VERIFY`` reports (15 per uplink), one core.
  Goal: >= 100k records/s.
- proofs: inclusion and consistency proof size (hashes, JSON bytes) in a tree of that size, and the time the
  standalone verifier takes to check one.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

N_APPEND = 3000
N_VERIFY = 150_000
KEY = bytes(range(16))


def _collector(tmp, name):
    from fieldnode.collector import Collector
    from fieldnode.registry import Registry

    reg = Registry(Path(tmp) / f"{name}.reg")
    for d in range(1, 11):
        reg.add_device(d, KEY, who="bench")
    return Collector(Path(tmp) / f"{name}.sqlite", reg, rate=1e9, burst=1e9, ledger_key=Path(tmp) / "key.pem")


def _uplinks(n, per=1):
    from fieldnode import fwbridge

    fwbridge.install()
    from proto import codec

    out, ctr = [], {d: 1 for d in range(1, 11)}
    for i in range(n):
        d = 1 + i % 10
        reps = [codec.encode_report((1_793_487_600 + 60 * (ctr[d] + j), 0, 2000, 3700, 100, 800, 12, 40),
                                    (-80, 0, 0, 1, ctr[d] + j)) for j in range(per)]
        out.append(codec.encode_uplink(KEY, d, ctr[d], reps))
        ctr[d] += per
    return out


def run():
    from fieldnode import ledger_verify as lv
    from fieldnode.collector.ledger import load_key, public_pem, verify

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ups = _uplinks(N_APPEND)
        base = _collector(tmp, "base")
        base.store.insert_hooks.clear()  # today's collector: no ledger
        t0 = time.perf_counter()
        for u in ups:
            base.handle(u)
        t_base = (time.perf_counter() - t0) / N_APPEND
        base.close()
        col = _collector(tmp, "led")
        hook, spent = col.ledger.on_insert, [0.0]

        def timed(*a):
            s = time.perf_counter()
            hook(*a)
            spent[0] += time.perf_counter() - s

        col.store.insert_hooks[:] = [timed]
        t0 = time.perf_counter()
        for u in ups:
            col.handle(u)
        t_led = (time.perf_counter() - t0) / N_APPEND
        col.close()
        per = spent[0] / N_APPEND
        rows += [
            {"group": "ledger", "name": "collector per report, no ledger", "value": t_base * 1e6, "unit": "us"},
            {"group": "ledger", "name": "collector per report, with ledger", "value": t_led * 1e6, "unit": "us"},
            {"group": "ledger", "name": "append per report (hook)", "value": per * 1e6, "unit": "us",
             "ratio": per / t_base, "goal": "< 0.10"},
        ]
        print(f"  filling {N_VERIFY} reports for verify ...", file=sys.stderr)
        big = _collector(tmp, "big")
        for u in _uplinks(N_VERIFY // 15, per=15):
            big.handle(u)
        big.ledger.checkpoint()
        t0 = time.perf_counter()
        r = verify(big.store, Path(tmp) / "key.pem")
        dt = time.perf_counter() - t0
        assert r["ok"], r["problems"]
        rows.append({"group": "ledger", "name": f"verify ({r['leaves']} records)", "value": r["leaves"] / dt,
                     "unit": "records/s", "goal": ">= 100000", "checkpoints": r["checkpoints"]})
        n = big.ledger.size
        doc = big.ledger.prove(5, 7000)
        rec, cp = doc["report"], doc["checkpoint"]
        pem = public_pem(load_key(Path(tmp) / "key.pem"))
        st = {"checkpoint": cp, "reports": [rec], "lines": [], "start": 0, "end": 0}
        t0 = time.perf_counter()
        for _ in range(200):
            assert lv.verify_statement(st, pem) == []
        t_inc = (time.perf_counter() - t0) / 200
        rows.append({"group": "ledger", "name": f"inclusion proof, tree of {n}", "value": len(rec["proof"]),
                     "unit": "hashes", "bytes": 32 * len(rec["proof"]),
                     "json_bytes": len(json.dumps(doc))})
        rows.append({"group": "ledger", "name": "check one report (leaf+path+Ed25519)", "value": t_inc * 1e6,
                     "unit": "us"})
        big.ledger.store.ledger_add_checkpoint(*_sign_at(big.ledger, n // 3))
        con = big.ledger.consistency(n // 3, n)
        t0 = time.perf_counter()
        for _ in range(200):
            assert lv.verify_consistency_file(con, pem) == []
        t_con = (time.perf_counter() - t0) / 200
        rows.append({"group": "ledger", "name": f"consistency proof {n // 3} -> {n}", "value": len(con["proof"]),
                     "unit": "hashes", "json_bytes": len(json.dumps(con))})
        rows.append({"group": "ledger", "name": "check consistency (2 signatures)", "value": t_con * 1e6,
                     "unit": "us"})
        big.close()
    return rows


def _sign_at(ledger, size):
    from fieldnode.collector.ledger import Tree

    root = Tree(ledger.store.ledger_hashes(size)).mth(0, size)
    return ledger._sign(size, root)


if __name__ == "__main__":
    os.environ.setdefault("FIELDNODE_HOME", tempfile.mkdtemp())
    for r in run():
        print(r)
