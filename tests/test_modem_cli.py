"""`fieldnode modem` end to end: the CLI in its own process, mpremote's SerialTransport on the virtual board's
pseudo-terminal, the firmware passthrough on the MicroPython runtime, the SIM7080G model on the board's UART."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT
from fieldnode.paths import FIRMWARE
from fieldnode.sim.board import VirtualBoard


@pytest.fixture
def vboard():
    made = []

    def make(modem_scenario):
        b = VirtualBoard("m5stack-core2", scenario={"modem": modem_scenario})
        files = {f"net/{p.name}": p.read_text() for p in (FIRMWARE / "net").glob("*.py")}
        files["main.py"] = "print('ready')\n"
        b.put_files(files)
        b.start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def cli(*args):
    return subprocess.run([sys.executable, "-m", "fieldnode", "modem", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_modem_cli_commands_and_diagnose(vboard):
    b = vboard({"network": {"attach_ms": 1000}})
    p = cli(b.port, "AT+CGMR", "AT+CIMI", "--json")
    assert p.returncode == 0, p.stderr
    replies = json.loads(p.stdout)
    assert replies[0]["command"] == "AT+CGMR" and replies[0]["reply"][-2:] == ["Revision:1951B17SIM7080", "OK"]
    assert replies[1]["reply"] == ["440103123456789", "OK"]
    p = cli(b.port, "--diagnose", "--timeout", "30")
    assert p.returncode == 0, p.stderr
    assert "OK      Registered (roaming) on NTT DOCOMO, signal -83 dBm" in p.stdout
    assert "imei          866123045678901" in p.stdout


def test_modem_cli_says_what_is_wrong(vboard):
    b = vboard({"sim": {"present": False}})
    p = cli(b.port, "--diagnose", "--timeout", "20", "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["findings"][0]["what"] == "No SIM card: the modem reports that no SIM is inserted."
    assert out["facts"]["imei"] == "866123045678901" and out["facts"]["iccid"] is None


def test_modem_cli_bad_input_is_one_line(tmp_path):
    p = cli("/dev/null", "CSQ")
    assert p.returncode == 2 and p.stderr.strip() == "error: 'CSQ' is not an AT command (AT commands start with AT, " \
                                                      "e.g. AT+CSQ)"
    p = cli(str(tmp_path / "nope"), "AT")
    assert p.returncode == 4 and p.stderr.startswith("error: no such port") and len(p.stderr.strip().splitlines()) == 1


def _boots(b):
    return [e for e in b.events if e["kind"] == "boot"]


def test_modem_cli_leaves_the_node_running_its_application(vboard):
    # A technician's `fieldnode modem` interrupts main.py for the raw REPL; afterwards the node must go back to its
    # cycle (a soft reset runs boot.py and main.py), not wait at the REPL until someone power-cycles it.
    import time

    b = vboard({})
    n = len(_boots(b))
    p = cli(b.port, "AT")
    assert p.returncode == 0, p.stderr
    end = time.monotonic() + 30
    while time.monotonic() < end and not any(e["mode"] == "friendly" and e["soft"] for e in _boots(b)[n:]):
        time.sleep(0.1)
    assert any(e["mode"] == "friendly" and e["soft"] for e in _boots(b)[n:]), _boots(b)[n:]
    n = len(_boots(b))
    p = cli(b.port, "AT", "--stay")
    assert p.returncode == 0, p.stderr
    time.sleep(1.0)
    assert _boots(b)[n:] == []  # --stay: left at the REPL, as asked
