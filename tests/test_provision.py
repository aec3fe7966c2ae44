"""`fieldnode provision` end to end: the CLI in its own process, the real firmware deployed on an interactive
virtual Core2 (mpremote's transport on its pseudo-terminal), its SIM7080G model routing uni.soracom.io to a
collector on a free UDP port in this process, and the registry under a temporary FIELDNODE_HOME."""

import json
import socket

import pytest
from fieldnode.deploy import deploy
from fieldnode.device import connect
from fieldnode.provision import ProvisionOptions, provision
from fieldnode.registry import Registry
from fieldnode.sim.board import VirtualBoard
from provision_util import boards, cli, collector, home, wait_for  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("provision")


def _secret_forms(key: bytes) -> list:
    return [key.hex(), key.hex().upper(), repr(key), key.hex()[:16]]


def test_good_provision_then_already_provisioned_then_force(home, collector, boards):  # noqa: F811
    b = boards(collector.udp_port)
    p = cli("provision", "--port", b.port, "--board", "m5stack-core2", "--apn", "soracom.io", "--user", "sora",
            "--password", "sora", "--interval", "60", "--collector", collector.http_url, "--no-start", "--json",
            home=home)
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(p.stdout)
    assert rep["passed"] and rep["failed_step"] is None
    assert [s["name"] for s in rep["steps"]] == ["board", "identity", "config", "sensors", "modem", "sim", "network",
                                                 "data", "test report", "collector", "registry"]
    dev_id = rep["device_id"]
    reg = Registry()
    d = reg.get(dev_id)
    assert d.facts["iccid"] == "8981100000123456789" and d.facts["imsi"] == "440103123456789"
    assert d.facts["imei"] == "866123045678901" and d.facts["fw"].endswith("SIM7080")
    assert d.facts["board"] == "m5stack-core2" and d.facts["status"] == "ok" and d.facts["provisioned_by"]
    assert [h["action"] for h in reg.history(dev_id)] == ["add", "set_facts"]
    # The collector stored the test report under the new key, with the device queue's counter.
    st = collector.status()
    assert [(x["device_id"], x["last_counter"]) for x in st["devices"]] == [(dev_id, rep["test"]["counter"])]
    # The key is on the board and in the registry, and nowhere in what the command said or the history.
    assert b.read_file("key.bin") == d.key
    assert json.loads(b.read_file("config.json"))["device_id"] == dev_id
    said = p.stdout + p.stderr + json.dumps(reg.history(dev_id))
    assert not [f for f in _secret_forms(d.key) if f in said]

    again = cli("provision", "--port", b.port, home=home)
    assert again.returncode == 2
    err = [ln for ln in again.stderr.splitlines() if not ln.startswith("... ")]
    assert len(err) == 1 and err[0].startswith(f"error: device {dev_id} on {b.port} is already provisioned")
    assert err[0].endswith("(pass --force to provision it again; it keeps its id and key)")

    forced = cli("provision", "--port", b.port, "--force", home=home)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert f"PASS  device {dev_id} is provisioned; it restarted" in forced.stdout
    assert reg.get(dev_id).key == d.key  # same identity: the running collector's cached key still verifies
    assert collector.status()["devices"][0]["last_counter"] == rep["test"]["counter"] + 1
    assert not [f for f in _secret_forms(d.key) if f in forced.stdout + forced.stderr]


def _closed_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_collector_not_reachable(home, collector, boards):  # noqa: F811
    p = cli("provision", "--port", "/dev/null", "--collector", "http://127.0.0.1:1", home=home)
    assert p.returncode == 5
    assert p.stderr.startswith("error: collector not reachable at http://127.0.0.1:1")
    assert "fieldnode collect" in p.stderr and len(p.stderr.strip().splitlines()) == 1

    b = boards(_closed_udp_port())
    p = cli("provision", "--port", b.port, "--reply-timeout", "2", home=home)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "  ok      data" in p.stdout
    assert "  failed  test report  no acknowledgement from the collector at uni.soracom.io:23080 within 2 s" \
           in p.stdout
    assert "-> start the collector (fieldnode collect)" in p.stdout and "FAIL  at test report" in p.stdout
    facts = Registry().get(1).facts
    assert facts["status"] == "failed" and facts["failed_step"] == "test report" and facts["iccid"]
    # A failed provisioning is not "already provisioned": once the collector is there it simply runs again.
    assert "already provisioned" not in cli("provision", "--port", b.port, "--reply-timeout", "1", home=home).stderr


def test_no_sim_says_so(home, collector, boards):  # noqa: F811
    b = boards(collector.udp_port, modem={"sim": {"present": False}})
    p = cli("provision", "--port", b.port, "--json", "--timeout", "20", home=home)
    assert p.returncode == 1
    rep = json.loads(p.stdout)
    steps = {s["name"]: s for s in rep["steps"]}
    assert steps["modem"]["status"] == "ok" and "866123045678901" in steps["modem"]["detail"]
    assert steps["sim"]["status"] == "failed" and "no SIM card" in steps["sim"]["detail"]
    assert "insert the SIM" in steps["sim"]["todo"]
    assert steps["network"]["status"] == steps["test report"]["status"] == "skipped"
    assert rep["failed_step"] == "sim" and not rep["passed"]
    assert Registry().get(rep["device_id"]).facts["imei"] == "866123045678901"


def test_wifi_board_and_a_wrong_password(home, collector, tmp_path):  # noqa: F811
    b = VirtualBoard("esp32-c3-devkitm", flash_dir=tmp_path / "flash")
    try:
        b.start()
        # Connect once it booted: bytes sent while the virtual board boots can be lost (see the report).
        assert wait_for(lambda: any(e["kind"] == "firmware" and e["text"] == "boot:mounted" for e in b.events))
        with connect(b.port) as dev:
            deploy(dev, "esp32-c3-devkitm")
            ok = provision(dev, None, ProvisionOptions(wifi_ssid="fieldnode-lab", wifi_key="fieldnode", start=False,
                                                       endpoint=f"127.0.0.1:{collector.udp_port}"), Registry())
            bad = provision(dev, None, ProvisionOptions(wifi_ssid="fieldnode-lab", wifi_key="nope", start=False,
                                                        endpoint=f"127.0.0.1:{collector.udp_port}", force=True),
                            Registry())
    finally:
        b.close()
    assert ok.passed and [s.name for s in ok.steps if s.status == "ok"][-3:] == ["wifi", "test report", "registry"]
    assert ok.facts["ssid"] == "fieldnode-lab" and ok.facts["ip"]
    assert bad.device_id == ok.device_id and bad.failed_step.name == "wifi"
    assert bad.failed_step.detail == "Wi-Fi: wrong Wi-Fi password (fieldnode-lab)"
    assert collector.status()["devices"][0]["last_counter"] == ok.test["counter"]


def test_a_device_whose_flash_was_wiped_continues_its_counters(home, collector, boards):  # noqa: F811
    b = boards(collector.udp_port)
    first = cli("provision", "--port", b.port, "--board", "m5stack-core2", "--collector", collector.http_url,
                "--no-start", "--json", home=home)
    assert first.returncode == 0, first.stdout + first.stderr
    dev_id = json.loads(first.stdout)["device_id"]
    # the files a flash erase loses (the queue and its counters); the firmware is deployed again
    with connect(b.port) as dev:
        dev.exec("import os\nfor f in os.listdir('q'):\n os.remove('q/' + f)\nos.rmdir('q')")
    again = cli("provision", "--port", b.port, "--force", "--collector", collector.http_url, "--no-start",
                "--json", home=home)
    assert again.returncode == 0, again.stdout + again.stderr
    rep = json.loads(again.stdout)
    steps = {s["name"]: s for s in rep["steps"]}
    assert steps["counter"]["status"] == "ok" and "above counter 1" in steps["counter"]["detail"]
    assert rep["test"]["counter"] == 2  # not 1 again, which the collector would refuse as too old
    assert collector.status()["devices"][0]["last_counter"] == 2 and collector.status()["rejects"] == {}
    assert dev_id == rep["device_id"]
