"""Shard-count independence: a fleet run whole, as one shard, and as 2 and 3 shards in separate processes (``sim run
--jobs``, the path a cluster's jobs take with ``--shard I/N`` and ``sim merge``) gives the same summary and the same
stored reports, byte for byte (tags included); a merge of an incomplete set of shards is refused in one line."""

import json
import sqlite3

import pytest
from fieldnode.errors import ConfigError, UsageError
from fieldnode.lab import scenario, shards
from fieldnode.lab.fleet import FleetRun
from provision_util import ROOT, cli

SCN = {"name": "shards", "board": "lowpower-ref", "devices": 4, "duration": "4h", "seed": 11,
       "environment": {"preset": "quiet"},
       "variation": {"sensor_offset": {"temperature_c": 0.4}, "start_phase_s": "5m", "rssi_dbm": [-105, -85]},
       "faults": [{"kind": "power_cuts", "count": 3}, {"kind": "outage", "from": "1h", "to": "2h", "share": 0.5}]}


def _cli(tmp_path, *args):
    p = cli("sim", *args, "--json", home=tmp_path / "home", timeout=600)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def _rows(db):
    c = sqlite3.connect(str(db))
    try:  # every column but the UDP peer's ephemeral port (source): virtual receive times, fields, raw bytes
        reports = c.execute("SELECT device_id, counter, received, ts, flags, fields, raw FROM reports "
                            "ORDER BY device_id, counter").fetchall()
        devices = c.execute("SELECT device_id, last_counter, last_seen, reports, duplicates, gaps, alarms, last_alarm "
                            "FROM devices ORDER BY device_id").fetchall()
    finally:
        c.close()
    return reports, devices


def _same(s):
    return {k: v for k, v in s.items() if k not in ("wall_s", "html")}


def test_merged_shards_equal_the_unsharded_run(tmp_path):
    path = tmp_path / "shards.json"
    path.write_text(json.dumps(SCN))
    run = FleetRun(scenario.load(path), tmp_path / "whole")
    try:
        whole = run.run()
        whole_rows = _rows(run.db_path)
    finally:
        run.close()
    assert whole["totals"]["generated"] >= 4 * 3 and whole["totals"]["lost"] == 0
    assert len({d["charge_mc"] for d in whole["devices"]}) == 4  # the devices differ
    assert len(whole_rows[0]) == whole["totals"]["delivered"]

    one = _cli(tmp_path, "run", "--scenario", str(path), "--shard", "0/1", "--out", str(tmp_path / "s1"))
    assert _same(one) == _same(whole)
    merged = _cli(tmp_path, "merge", str(tmp_path / "s1"), "-o", str(tmp_path / "m1"))
    assert _same(merged) == _same(whole) and _rows(tmp_path / "m1" / shards.DB) == whole_rows
    for k in (2, 3):
        out = tmp_path / f"j{k}"
        s = _cli(tmp_path, "run", "--scenario", str(path), "--jobs", str(k), "--out", str(out))
        assert len(list((out / "shards").glob("shard-*"))) == k
        assert _same(s) == _same(whole), k
        assert json.loads((out / shards.SUMMARY).read_text())["devices"] == whole["devices"]
        assert _rows(out / shards.DB) == whole_rows, k
        assert "device 1004" in (out / shards.HTML).read_text()

    # a shard left out, or one given twice: refused, nothing written
    parts = sorted((tmp_path / "j3" / "shards").glob("shard-*"))
    with pytest.raises(ConfigError, match=r"cannot merge: shard 2/3 missing"):
        shards.merge(parts[:2], tmp_path / "bad")
    with pytest.raises(ConfigError, match=r"shard 1/3 given twice"):
        shards.merge(parts + [parts[1]], tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2"])
def test_bad_shard_is_one_line(text):
    with pytest.raises(UsageError) as e:
        shards.parse(text)
    assert "--shard" in str(e.value) and "\n" not in str(e.value)


def test_the_kubernetes_manifest_runs_indexed_shards_and_a_merge():
    import yaml  # pinned in pyproject.toml (node files may be YAML)
    docs = list(yaml.safe_load_all((ROOT / "tools" / "k8s" / "fleet-job.yaml").read_text()))
    job = next(d for d in docs if d["kind"] == "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    args = spec["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--shard") + 1] == f"$(JOB_COMPLETION_INDEX)/{spec['completions']}"
    out = args[args.index("--out") + 1]
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert scenario.load(json.loads(cm["data"]["scenario.json"])).devices >= spec["completions"]
    merge = yaml.safe_load((ROOT / "tools" / "k8s" / "fleet-merge-job.yaml").read_text())
    margs = merge["spec"]["template"]["spec"]["containers"][0]["args"]
    assert margs[:3] == ["sim", "merge", out]
