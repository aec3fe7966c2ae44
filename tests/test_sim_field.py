"""A technician rehearses `fieldnode modem --diagnose` on a virtual board told to lose its SIM or its coverage:
from the `sim board` options at start, and by field actions while it runs."""

import json
import subprocess
import sys
import threading

import pytest
from conftest import ROOT
from fieldnode.cli import build_parser
from fieldnode.cli.sim import run_board
from fieldnode.errors import UsageError
from fieldnode.paths import FIRMWARE
from fieldnode.sim import field
from fieldnode.sim.board import VirtualBoard


@pytest.fixture
def sim_board(tmp_path):
    """``fieldnode sim board ARGS`` in a thread, on a flash that holds the firmware's net/ (the passthrough)."""
    running = []

    def start(*argv):
        flash = tmp_path / f"flash{len(running)}"
        b = VirtualBoard("m5stack-core2", flash_dir=flash)
        b.put_files({f"net/{p.name}": p.read_text() for p in (FIRMWARE / "net").glob("*.py")})
        b.close()
        args = build_parser().parse_args(["sim", "board", "--board", "m5stack-core2", "--flash", str(flash),
                                          "--quiet", *argv])
        ready, stop, box = threading.Event(), threading.Event(), {}
        t = threading.Thread(target=run_board, args=(args,),
                             kwargs={"ready": lambda board: (box.update(board=board), ready.set()),
                                     "stop_event": stop}, daemon=True)
        t.start()
        assert ready.wait(60)
        running.append((stop, t))
        return box["board"]

    yield start
    for stop, t in running:
        stop.set()
        t.join(30)


def diagnose(port):
    p = subprocess.run([sys.executable, "-m", "fieldnode", "modem", port, "--diagnose", "--timeout", "20", "--json",
                        "--stay"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode in (0, 1), p.stderr
    return [f["what"] for f in json.loads(p.stdout)["findings"]]


def test_sim_board_without_a_sim(sim_board):
    b = sim_board("--no-sim")
    assert diagnose(b.port)[0] == "No SIM card: the modem reports that no SIM is inserted."


def test_coverage_lost_and_back_while_the_board_runs(sim_board):
    b = sim_board()
    assert diagnose(b.port)[0].startswith("Registered (roaming) on NTT DOCOMO")
    assert field.apply(b, "coverage off") == "coverage lost"
    assert diagnose(b.port)[0].startswith("No coverage")
    field.apply(b, "coverage on")
    assert diagnose(b.port)[0].startswith("Registered")


def test_start_options_become_the_modem_scenario():
    m = field.start_scenario(no_sim=True, no_coverage=True, denied=True, rssi=-112,
                             base={"network": {"apn": "soracom.io"}})
    assert m["sim"]["present"] is False and m["network"]["registration"] == "denied"
    assert m["network"]["rssi_dbm"] == -112 and m["network"]["apn"] == "soracom.io"
    assert m["network"]["outages"][-1][0] == 0


def test_a_field_action_that_does_not_exist_says_which_do():
    b = VirtualBoard("m5stack-core2")
    try:
        with pytest.raises(UsageError) as e:
            field.apply(b, "sim sideways")
        assert "sim out" in e.value.hint and "coverage off" in e.value.hint
    finally:
        b.close()


def test_the_readme_flow_on_a_virtual_board(sim_board, tmp_path):
    # README "Try it without hardware": sim board, collect, deploy, provision: a pass, with no --endpoint, because
    # the virtual SIM's network delivers uni.soracom.io to the local collector, as SORACOM's network does to SORACOM.
    import os

    from fieldnode.collector import Collector, Servers
    from fieldnode.registry import Registry

    home = tmp_path / "home"
    home.mkdir()
    registry = Registry(home / "registry.sqlite")
    col = Collector(home / "collector.sqlite", registry)
    servers = Servers(col, host="127.0.0.1", udp=0, tcp=-1, http=-1)
    try:
        addr = servers.addresses[0].split("://", 1)[1]
        b = sim_board("--collector", addr)
        env = dict(os.environ, FIELDNODE_HOME=str(home))
        for verb in (["deploy", "--board", "m5stack-core2", "--port", b.port],
                     ["provision", "--board", "m5stack-core2", "--port", b.port, "--no-start"]):
            p = subprocess.run([sys.executable, "-m", "fieldnode", *verb], capture_output=True, text=True,
                               timeout=300, cwd=ROOT, env=env)
            assert p.returncode == 0, p.stdout + p.stderr
        assert "PASS" in p.stdout and "collector uni.soracom.io:23080" in p.stdout
        assert col.status()["totals"]["stored"] == 1
    finally:
        servers.close()
        col.close()
        registry.close()
