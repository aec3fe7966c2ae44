"""``fieldnode devices``: the registry's fleet with the collector's last seen and health, and the warning for one
SIM registered to two devices (a real provisioning batch of two virtual Core2s carrying the same SIM)."""

import csv
import io
import json

import pytest
from console_util import Fleet
from provision_util import boards, cli, collector, home  # noqa: F401  (fixtures)


def test_devices_lists_health_filters_and_formats(tmp_path):
    f = Fleet(tmp_path, n=3)
    f.hours(3)
    f.alarm(102)
    f.reg.set_facts(103, who="test", iccid=f.reg.get(101).facts["iccid"])  # a SIM entered twice
    f.close()
    args = ("--registry", str(tmp_path / "reg.sqlite"), "--db", str(tmp_path / "c.sqlite"))
    p = cli("devices", *args, "--json", "--utc", home=tmp_path / "home")
    assert p.returncode == 0, p.stderr
    rows = {r["device_id"]: r for r in json.loads(p.stdout)}
    assert rows[102]["health"] == "silent,alarm" and rows[101]["reports"] == 3  # wall clock: 2026-01 is past
    assert rows[101]["last_seen_iso"] == "2026-01-01T03:00:00Z"  # silent by now on the wall clock, by design
    assert "warning: ICCID 8981000000000000000 is registered to devices 101, 103" in p.stderr
    c = cli("devices", *args, "--csv", "--health", "alarm", home=tmp_path / "home")
    assert [r["device_id"] for r in csv.DictReader(io.StringIO(c.stdout))] == ["102"]
    t = cli("devices", *args, "--board", "m5stack-core2", home=tmp_path / "home")
    assert t.stdout.splitlines()[0].split()[:3] == ["id", "board", "ICCID"] and len(t.stdout.splitlines()) == 4


@pytest.mark.slow
@pytest.mark.xdist_group("provision")
def test_batch_registering_one_sim_twice_is_warned(home, collector, boards, tmp_path):  # noqa: F811
    b1 = boards(collector.udp_port)
    b2 = boards(collector.udp_port)  # the same default SIM (ICCID, IMSI) in a second board
    batch = tmp_path / "devices.csv"
    batch.write_text(f"port,name\n{b1.port},pump-1\n{b2.port},pump-2\n")
    p = cli("provision", "--batch", str(batch), "--board", "m5stack-core2", "--no-start", home=home)
    assert "2 of 2 passed" in p.stdout, p.stdout + p.stderr
    d = cli("devices", home=home)
    assert d.returncode == 0, d.stderr
    assert "warning: ICCID 8981100000123456789 is registered to devices 1, 2" in d.stderr
    assert "warning: IMSI 440103123456789 is registered to devices 1, 2" in d.stderr
    lines = d.stdout.splitlines()
    assert len(lines) == 3 and all("8981100000123456789" in ln for ln in lines[1:])
