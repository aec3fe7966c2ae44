"""`fieldnode monitor`: line classification, and following a provisioned virtual board that restarts into its wake
cycle: its ROM boot line, the firmware's cycle log line and the report the collector stored, decoded."""

import json
import threading

import pytest
from fieldnode.monitor import LineParser, classify, monitor
from fieldnode.provision import ProvisionOptions, provision
from fieldnode.registry import Registry
from provision_util import boards, cli, collector, home, wait_for  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("provision")


def test_lines_are_classified_and_tracebacks_gathered():
    p = LineParser()
    evs = p.feed(b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
                 b"fieldnode: cycle 3: 21.50 C, rms 12 mg, p2p 40 mg, flags 0x08, queue 1, sent 2, awake 812 ms, "
                 b"??\r\n"
                 b"fieldnode: link down: no SIM card\r\n>>> \r\nTraceback (most recent call last):\r\n"
                 b'  File "app.py", line 3, in <module>\r\nOSError: [Errno 5] EIO\r\nhello\r\npartial')
    assert [e["kind"] for e in evs] == ["reset", "reset", "log", "error", "traceback", "output"]
    assert evs[2]["fields"] == {"cycle": 3, "temp_c": 21.5, "rms_mg": 12, "p2p_mg": 40, "flags": 8, "queue": 1,
                                "sent": 2, "awake_ms": 812}
    assert evs[4]["text"].splitlines() == ["Traceback (most recent call last):", '  File "app.py", line 3, in '
                                           "<module>", "OSError: [Errno 5] EIO"]
    assert p.feed(b" line\n")[0]["text"] == "partial line"
    assert classify("fieldnode: not provisioned: staying at the REPL") == "error"
    assert classify("ValueError: bad") == "error" and classify("fieldnode: applied 1 command(s)") == "log"


def test_monitor_follows_the_board_and_the_collector(home, collector, boards):  # noqa: F811
    b = boards(collector.udp_port)
    rep = provision(b.port, "m5stack-core2", ProvisionOptions(interval=60, start=False), Registry())
    assert rep.passed, rep.summary()
    seen, stop = [], threading.Event()

    def emit(ev):
        seen.append(ev)
        if any(e["kind"] == "report" and e["counter"] > rep.test["counter"] for e in seen) and \
                any(e.get("fields") for e in seen):
            stop.set()

    t = threading.Thread(target=monitor, args=(b.port, emit), daemon=True,
                         kwargs={"collector_db": collector.store.path, "device_id": rep.device_id, "duration": 40,
                                 "stop": stop})
    t.start()
    assert wait_for(lambda: t.is_alive(), 5)
    b.power_cut()  # power comes back at once: the board boots into its first wake cycle with no one at the REPL
    assert stop.wait(40), [e["text"] for e in seen]
    t.join(5)
    kinds = [e["kind"] for e in seen]
    assert "reset" in kinds
    cyc = next(e for e in seen if e.get("fields"))
    assert cyc["kind"] == "log" and cyc["text"].startswith("fieldnode: cycle 1:") and cyc["fields"]["sent"] >= 1
    r = next(e for e in seen if e["kind"] == "report")
    assert r["device"] == rep.device_id and r["counter"] == rep.test["counter"] + 1
    assert "boot" in r["report"]["flags"] and r["report"]["health"]["rcause"] == 1  # power-on reset

    # The CLI on the same running board: JSON lines, and it leaves when told to.
    p = cli("monitor", "--port", b.port, "--duration", "3", "--json", home=home, timeout=30)
    assert p.returncode == 0, p.stderr
    evs = [json.loads(line) for line in p.stdout.splitlines()]
    assert evs and all(e["kind"] in ("log", "error", "traceback", "reset", "output") for e in evs)


def test_monitor_bad_port_and_missing_db(home, tmp_path):  # noqa: F811
    p = cli("monitor", "--port", str(tmp_path / "ttyUSB7"), home=home)
    assert p.returncode == 4 and p.stderr.strip().splitlines()[-1].startswith("error: no such port:")
    p = cli("monitor", "--port", "/dev/null", "--collector", str(tmp_path / "none.sqlite"), home=home)
    assert p.returncode == 2 and "no collector database at" in p.stderr
