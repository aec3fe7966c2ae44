"""Helpers for the provision and monitor tests: a collector on a free UDP port and interactive virtual boards
running the real firmware (deployed with fieldnode.deploy), whose SIM7080G routes uni.soracom.io to it."""

import subprocess
import sys

import pytest
from conftest import ROOT, wait_for  # noqa: F401  (re-exported to the provision tests)
from fieldnode.collector import Collector, Servers
from fieldnode.deploy import deploy
from fieldnode.device import connect
from fieldnode.registry import Registry
from fieldnode.sim.board import VirtualBoard

FAST_NET = {"attach_ms": 300, "rtt_ms": 50}


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("FIELDNODE_HOME", str(h))
    return h


@pytest.fixture
def collector(home):
    reg = Registry()
    col = Collector(home / "collector.sqlite", reg)
    srv = Servers(col, host="127.0.0.1", udp=0, tcp=-1, http=0)
    col.udp_port = int(srv.addresses[0].rsplit(":", 1)[1])
    col.http_url = srv.addresses[1]
    yield col
    srv.close()
    col.close()
    reg.close()


@pytest.fixture
def boards(tmp_path):
    """``make(udp_port, modem=None)`` -> a started, deployed virtual Core2 (stopped at the end of the test)."""
    made = []

    def make(udp_port, modem=None, board="m5stack-core2"):
        sc = {"network": dict(FAST_NET), "dns": {"uni.soracom.io": f"127.0.0.1:{udp_port}"}}
        for k, v in (modem or {}).items():
            sc[k] = dict(sc.get(k) or {}, **v) if isinstance(v, dict) else v
        b = VirtualBoard(board, flash_dir=tmp_path / f"flash{len(made)}", scenario={"modem": sc})
        made.append(b)
        b.start()
        assert wait_for(lambda: any(e["kind"] == "firmware" and e["text"] == "boot:mounted" for e in b.events))
        with connect(b.port) as dev:
            deploy(dev, board)
        return b

    yield make
    for b in made:
        b.close()


def cli(*args, home, timeout=120):
    env = {"FIELDNODE_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "fieldnode", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)
