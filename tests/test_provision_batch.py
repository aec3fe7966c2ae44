"""`fieldnode provision --batch` on two virtual boards, the results CSV, the SORACOM export; and the parts that
need no board: batch CSV checking, the port watcher, option checking."""

import csv
import json
import subprocess

import pytest
from fieldnode.errors import ConfigError, NetworkError, UsageError
from fieldnode.provision import ProvisionOptions, build_config
from fieldnode.provision_batch import PortWatcher, export_soracom, read_batch
from fieldnode.registry import Registry
from provision_util import boards, cli, collector, home  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("provision")


def test_batch_of_two_with_results_and_soracom_export(home, collector, boards, tmp_path):  # noqa: F811
    b1 = boards(collector.udp_port)
    b2 = boards(collector.udp_port, modem={"sim": {"iccid": "8981100000999999999F", "imsi": "440103999999999"},
                                           "imei": "866123045000002"})
    batch = tmp_path / "devices.csv"
    batch.write_text(f"port,name,tags\n{b1.port},pump-1,site=osaka\n{b2.port},pump-2,site=kobe;line=3\n")
    p = cli("provision", "--batch", str(batch), "--board", "m5stack-core2", "--no-start", home=home)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 of 2 passed" in p.stdout
    rows = list(csv.DictReader((tmp_path / "devices-results.csv").open()))
    assert [(r["row"], r["port"], r["result"]) for r in rows] == [("1", b1.port, "pass"), ("2", b2.port, "pass")]
    assert {r["device_id"] for r in rows} == {"1", "2"}
    assert [r["imsi"] for r in rows] == ["440103123456789", "440103999999999"]
    assert rows[1]["iccid"] == "8981100000999999999" and rows[1]["imei"] == "866123045000002"
    assert [d["device_id"] for d in collector.status()["devices"]] == [1, 2]

    sh = tmp_path / "sims.sh"
    e = cli("provision", "--export-soracom", str(sh), home=home)
    assert e.returncode == 0 and "wrote 2 SIM(s)" in e.stdout
    script = sh.read_text()
    assert "soracom sims register --sim-id 8981100000999999999 --registration-secret \"$s\"" in script
    assert '"tagName": "site", "tagValue": "kobe"' in script and '"tagValue": "pump-2"' in script
    assert subprocess.run(["sh", "-n", str(sh)]).returncode == 0  # the shell accepts it
    secrets = tmp_path / "secrets.csv"
    secrets.write_text("8981100000123456789,ABC123\n")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "soracom").write_text('#!/bin/sh\necho "soracom $*" >> "$LOG"\n')
    (fake / "soracom").chmod(0o755)
    run = subprocess.run(["sh", str(sh), str(secrets)], capture_output=True, text=True,
                         env={"PATH": f"{fake}:/usr/bin:/bin", "LOG": str(tmp_path / "calls")})
    assert run.returncode == 0, run.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == "soracom sims register --sim-id 8981100000123456789 --registration-secret ABC123"
    assert "no secret for 8981100000999999999: skipped" in run.stderr
    assert len([c for c in calls if "put-tags" in c]) == 2
    csv_out = tmp_path / "sims.csv"
    assert export_soracom(Registry(), csv_out) == 2
    sims = list(csv.DictReader(csv_out.open()))
    assert json.loads(sims[0]["tags"])["site"] == "osaka" and sims[0]["imsi"] == "440103123456789"


def test_batch_csv_errors_name_the_problem(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("port,colour\n/dev/ttyUSB0,red\n")
    with pytest.raises(ConfigError, match="unknown column.*colour"):
        read_batch(f)
    f.write_text("port,device_id\n/dev/ttyUSB0,forty\n")
    with pytest.raises(ConfigError, match="line 2: device id 'forty' is not a number"):
        read_batch(f)
    f.write_text("port,tags\n/dev/ttyUSB0,site\n")
    with pytest.raises(ConfigError, match="line 2: tag 'site' is not name=value"):
        read_batch(f)
    f.write_text("port\n\n")
    with pytest.raises(ConfigError, match="lists no devices"):
        read_batch(f)
    f.write_text("device_id,interval,tags\n0x2a,600, a=1 ; b = 2\n")
    assert read_batch(f) == [{"device_id": 42, "interval": 600, "tags": {"a": "1", "b": "2"}}]


def test_port_watcher_takes_boards_as_they_are_plugged_in():
    plugged = [["/dev/ttyUSB0"], ["/dev/ttyUSB0"], [], [], ["/dev/ttyUSB0"], ["/dev/ttyUSB0", "/dev/ttyUSB1"]]
    w = PortWatcher(lambda: plugged.pop(0) if len(plugged) > 1 else plugged[0], poll_s=0)
    assert w.next(1) == "/dev/ttyUSB0"  # already there at the start: the first board
    assert w.next(1) == "/dev/ttyUSB0"  # unplugged, and the next board plugged into the same socket
    assert w.next(1) == "/dev/ttyUSB1"
    with pytest.raises(NetworkError, match="no board was plugged in within 0.05 s"):
        w.next(0.05)


def test_options_are_checked_before_the_board_is_touched():
    from fieldnode import boards as B

    core2, c3, lp = B.load("m5stack-core2"), B.load("esp32-c3-devkitm"), B.load("lowpower-ref")
    cfg = build_config(ProvisionOptions(apn="iot.example", interval=300), 7, core2)
    assert cfg["device_id"] == 7 and cfg["policy"] == {"sample_s": 300}
    assert cfg["link"] == {"kind": "cellular", "apn": "iot.example", "endpoint": "uni.soracom.io:23080"}
    for opts, msg in ((ProvisionOptions(interval=5), "sample_s must be an integer 10..86400, not 5"),
                      (ProvisionOptions(apn='a"b'), "apn may not contain quotes"),
                      (ProvisionOptions(endpoint="collector"), "must be host:port"),
                      (ProvisionOptions(wifi_ssid="lab", apn="x"), "both Wi-Fi and APN settings given")):
        with pytest.raises(UsageError, match=msg):
            build_config(opts, 7, core2)
    with pytest.raises(UsageError, match="has no modem"):
        build_config(ProvisionOptions(), 7, c3)
    with pytest.raises(UsageError, match="has no Wi-Fi"):
        build_config(ProvisionOptions(wifi_ssid="lab", endpoint="10.0.0.2:23080"), 7, lp)
    with pytest.raises(UsageError, match="Wi-Fi needs the collector's address"):
        build_config(ProvisionOptions(wifi_ssid="lab"), 7, c3)
    w = build_config(ProvisionOptions(wifi_ssid="lab", wifi_key="k", endpoint="10.0.0.2:23080"), 7, c3)
    assert w["link"] == {"kind": "wifi", "ssid": "lab", "key": "k", "endpoint": "10.0.0.2:23080"}


def test_cli_bad_input_is_one_line(home):  # noqa: F811
    p = cli("provision", "--port", "/dev/ttyNOPE", home=home)
    assert p.returncode == 4 and p.stderr.strip().splitlines()[-1] == \
        "error: no such port: /dev/ttyNOPE (is the board plugged in? list ports with: pyserial-ports)"
    p = cli("provision", "--port", "/dev/null", "--device-id", "-3", home=home)
    assert p.returncode == 2 and "device id -3 out of range" in p.stderr
    p = cli("provision", home=home)
    assert p.returncode == 2 and "no port given" in p.stderr
