"""The collector's ledger (collector/ledger.py): leaves appended with the reports, checkpoints signed, every kind
of tampering found by verify (none when nothing changed), proofs checked by the standalone verifier, and
``fieldnode usage --with-proofs`` / ``fieldnode ledger`` end to end."""

import json
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fieldnode import ledger_verify
from fieldnode.cli import main
from fieldnode.collector import Collector
from fieldnode.collector.ledger import load_key, public_pem, verify
from fieldnode.registry import Registry
from proto import codec

KEY = bytes(range(16))
DEV = 1002
T0 = 1793487600  # 2026-11-01T00:00+01:00 (Europe/Berlin)
VERIFIER = Path(__file__).resolve().parents[1] / "host" / "fieldnode" / "ledger_verify.py"


def rep(i, dropped):
    """A fixed report every 2 h; its health block's "dropped" is a cumulative total (today's reports' meter)."""
    return codec.encode_report((T0 - 3600 + 7200 * i, 0, 2000, 3700, 100, 800, 12, 40), (-80, 0, 0, 1, dropped))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def fill(home, n=30, every=8):
    reg = Registry(home / "registry.sqlite")
    reg.add_device(DEV, KEY, board="m5stack-core2", customer="ACME Air", site="Hall 3", who="test")
    now = [T0]
    col = Collector(home / "collector.sqlite", reg, rate=1e6, burst=1e6, clock=lambda: now[0],
                    checkpoint_every=every)
    i = 1
    while i <= n:  # uplinks of 1..3 reports, one of them sent twice (a lost reply)
        k = min(1 + i % 3, n - i + 1)
        up = codec.encode_uplink(KEY, DEV, i, [rep(j, 3 * j) for j in range(i, i + k)])
        now[0] = T0 + 7200 * (i + k)
        assert col.handle(up) is not None
        if i == 4:
            assert col.handle(up) is not None
        i += k
    return col, reg


def test_every_report_is_a_leaf_and_checkpoints_are_signed(home):
    col, reg = fill(home)
    r = verify(col.store, home / "ledger_key.pem")
    assert r["ok"] and r["leaves"] == r["reports"] == 30 and r["checkpoints"] == 3, r
    assert stat.S_IMODE((home / "ledger_key.pem").stat().st_mode) == 0o600
    assert col.ledger.size == 30
    col.close()


def _tamper(db, sql, *args):
    c = sqlite3.connect(db)
    with c:
        for s in sql if isinstance(sql, list) else [sql]:
            c.execute(s, *args)
    c.close()


TAMPER = {
    "edited fields": ("UPDATE reports SET fields=replace(fields, '\"dropped\": 30', '\"dropped\": 3') "
                      "WHERE counter=10", "edited", 9),
    "edited raw": ("UPDATE reports SET raw=zeroblob(length(raw)) WHERE counter=12", "edited", 11),
    "edited received": ("UPDATE reports SET received=received-60 WHERE counter=5", "edited", 4),
    "edited counter": ("UPDATE reports SET counter=99 WHERE counter=30", "inserted", 29),
    "deleted": ("DELETE FROM reports WHERE counter=7", "deleted", 6),
    "deleted last": ("DELETE FROM reports WHERE counter=30", "deleted", 29),
    "inserted": ("INSERT INTO reports SELECT device_id, 31, received, source, ts, flags, fields, raw FROM reports "
                 "WHERE counter=30", "inserted", 30),
    "reordered": (["CREATE TABLE t AS SELECT * FROM reports WHERE counter IN (14, 15)",
                   "DELETE FROM reports WHERE counter IN (14, 15)",
                   "INSERT INTO reports SELECT * FROM t ORDER BY counter DESC", "DROP TABLE t"], "reordered", 13),
}


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_every_tampering_is_found_at_its_first_row(home, kind):
    col, _ = fill(home)
    db = str(home / "collector.sqlite")
    col.close()
    sql, first, row = TAMPER[kind]
    _tamper(db, sql)
    col2 = Collector(db, Registry(home / "registry.sqlite"))
    r = verify(col2.store, home / "ledger_key.pem")
    assert not r["ok"] and r["first"]["kind"] == first and r["first"]["row"] == row, r
    assert r["problems"][0].startswith("first difference at row"), r["problems"]
    col2.close()


def test_a_rewritten_leaf_or_checkpoint_is_caught_by_the_signatures(home):
    col, _ = fill(home)
    db = str(home / "collector.sqlite")
    col.close()
    for sql in ("UPDATE ledger_leaves SET hash=zeroblob(32) WHERE idx=3",
                "UPDATE ledger_checkpoints SET signature=zeroblob(64) WHERE tree_size=16",
                "UPDATE ledger_checkpoints SET root=zeroblob(32) WHERE tree_size=8"):
        d = db + ".copy"
        shutil.copy(db, d)
        _tamper(d, sql)
        from fieldnode.collector.db import Store

        st = Store(d)
        r = verify(st, home / "ledger_key.pem")
        st.close()
        assert not r["ok"] and any("checkpoint of size" in p for p in r["problems"]), (sql, r)


def test_nothing_changed_nothing_reported_after_reopen_and_more_reports(home):
    col, reg = fill(home, n=20)
    col.close()
    col, reg = Collector(home / "collector.sqlite", reg, rate=1e6, burst=1e6, checkpoint_every=8), reg
    col.handle(codec.encode_uplink(KEY, DEV, 21, [rep(21, 63), rep(22, 66)]))
    r = verify(col.store, home / "ledger_key.pem")
    assert r["ok"] and r["leaves"] == 22, r
    col.close()


def test_proofs_check_with_the_standalone_functions(home):
    col, _ = fill(home)
    led = col.ledger
    doc = led.prove(DEV, 17)
    rec, cp = doc["report"], doc["checkpoint"]
    lh = ledger_verify.leaf_hash(ledger_verify.leaf_input(DEV, 17, rec["received"], bytes.fromhex(rec["raw"]),
                                                          bytes.fromhex(rec["uplink"]), rec["fields"]))
    assert codec.Uplink(bytes.fromhex(rec["uplink"])).verify(__import__("proto.auth").auth.Key(KEY))
    path = [bytes.fromhex(p) for p in rec["proof"]]
    assert ledger_verify.root_from_inclusion(rec["index"], cp["tree_size"], lh, path) == bytes.fromhex(cp["root"])
    assert ledger_verify.root_from_inclusion(rec["index"] + 1, cp["tree_size"], lh, path) != bytes.fromhex(cp["root"])
    con = led.consistency(8, 24)
    pem = public_pem(load_key(home / "ledger_key.pem"))
    assert ledger_verify.verify_consistency_file(con, pem) == []
    con["proof"][0] = "00" * 32
    assert ledger_verify.verify_consistency_file(con, pem)
    col.close()


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_usage_statement_end_to_end_and_checked_offline(home, tmp_path, capsys):
    col, reg = fill(home)
    col.close()
    reg.close()
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps({"currency": "EUR", "minimum": 50,
                                  "meters": {"health.dropped": {"unit": "", "price": 0.5}}}))
    rc, out, err = run_cli(capsys, "usage", "--period", "2026-11-01", "--tz", "Europe/Berlin", "--tariff",
                           str(tariff), "--format", "csv")
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("device,customer,tags,period,meter,quantity")
    # reports every 2 h at odd hours from 23:00 the day before: the day is 11.5 intervals of 3 each
    row = lines[1].split(",")
    assert row[:5] == ["1002", "ACME Air", "site=Hall 3", "2026-11-01", "health.dropped"]
    assert float(row[5]) == pytest.approx(34.5) and row[7] == "estimated" and float(row[8]) > 0
    assert lines[2].split(",")[4] == "minimum"  # 17.25 EUR tops up to the 50 EUR minimum
    st_path = tmp_path / "statement.json"
    rc, _, _ = run_cli(capsys, "usage", "--period", "2026-11-01", "--tz", "Europe/Berlin", "--tariff", str(tariff),
                       "--format", "json", "--with-proofs", "-o", str(st_path))
    assert rc == 0
    rc, pem, _ = run_cli(capsys, "ledger", "key")
    key = tmp_path / "pub.pem"
    key.write_text(pem)
    ok = subprocess.run([sys.executable, str(VERIFIER), str(st_path), "--key", str(key)], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("ok:"), ok.stdout + ok.stderr
    st = json.loads(st_path.read_text())
    for change in ("quantity", "fields", "signature"):
        bad = json.loads(json.dumps(st))
        if change == "quantity":
            bad["lines"][0]["meters"][0]["quantity"] += 1
        elif change == "fields":
            bad["reports"][3]["fields"] = bad["reports"][3]["fields"].replace('"dropped": ', '"dropped": 1')
        else:
            bad["checkpoint"]["signature"] = "00" * 64
        p = tmp_path / f"bad_{change}.json"
        p.write_text(json.dumps(bad))
        r = subprocess.run([sys.executable, str(VERIFIER), str(p), "--key", str(key)], capture_output=True, text=True)
        assert r.returncode == 1 and r.stdout.strip(), change
    # the ledger verbs
    rc, out, err = run_cli(capsys, "ledger", "verify")
    assert rc == 0 and err.startswith("ok: 30 reports")
    rc, out, _ = run_cli(capsys, "ledger", "checkpoint")
    assert rc == 0 and json.loads(out)["tree_size"] == 30
    rc, out, _ = run_cli(capsys, "ledger", "prove", str(DEV), "5")
    assert rc == 0 and json.loads(out)["report"]["counter"] == 5
    rc, out, _ = run_cli(capsys, "ledger", "consistency", "16", "30")
    cons = tmp_path / "cons.json"
    cons.write_text(out)
    r = subprocess.run([sys.executable, str(VERIFIER), str(cons), "--key", str(key), "--consistency"],
                       capture_output=True, text=True)
    assert rc == 0 and r.returncode == 0, r.stdout + r.stderr
    assert run_cli(capsys, "ledger", "consistency", "16", "17")[0] != 0
    _tamper(str(home / "collector.sqlite"), "DELETE FROM reports WHERE counter=3")
    rc, out, err = run_cli(capsys, "ledger", "verify")
    assert rc == 1 and "device 1002 counter 3" in out and "(deleted)" in out


# RFC 6962/9162 reference vectors (certificate-transparency's merkle tree tests): the roots of the first n leaves
RFC_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", bytes(range(0x50, 0x58)),
              bytes(range(0x60, 0x70))]
RFC_ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
             "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
             "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
             "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
             "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
             "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]


def test_tree_hashing_matches_the_rfc_vectors_and_proofs_check_for_every_size():
    from fieldnode.collector.ledger import Tree, frontier_push, frontier_root

    hs = [ledger_verify.leaf_hash(x) for x in RFC_LEAVES]
    t = Tree(hs)
    fr = []
    for n in range(1, 9):
        frontier_push(fr, n - 1, hs[n - 1])
        assert t.mth(0, n).hex() == RFC_ROOTS[n - 1] == frontier_root(fr).hex()
    hs = [ledger_verify.leaf_hash(bytes([i])) for i in range(33)]
    t = Tree(hs)
    for n in range(1, 34):
        root = t.mth(0, n)
        for m in range(n):
            assert ledger_verify.root_from_inclusion(m, n, hs[m], t.inclusion(m, n)) == root
        for m in range(1, n + 1):
            assert ledger_verify.check_consistency(m, n, t.mth(0, m), root, t.consistency(m, n))
            if m < n:
                assert not ledger_verify.check_consistency(m, n, t.mth(0, m), hs[0], t.consistency(m, n))
