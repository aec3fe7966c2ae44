"""Ctrl-C during ``fieldnode sim run``: the summary of what ran so far, exit code 130, and no traceback (neither the
host's nor a MicroPython process's, which share the terminal's process group unless the board keeps them out)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ctrl_c_prints_the_partial_summary(tmp_path):
    # its own session, so that killpg() is what a terminal's Ctrl-C does: SIGINT to every process of the group
    p = subprocess.Popen([sys.executable, "-m", "fieldnode", "sim", "run", "--board", "lowpower-ref", "--devices", "2",
                          "--duration", "30d", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, cwd=ROOT,
                         env={"FIELDNODE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    seen = b""
    try:
        while b"wake cycles" not in seen:  # the first slice of virtual time ran
            chunk = os.read(p.stderr.fileno(), 4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    err = (seen + err).decode(errors="replace")
    assert p.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    s = json.loads(out)
    assert s["interrupted"] is True
    assert 3600 <= s["duration_s"] < 30 * 86400  # at least the slice that ran, far from the month asked for
    assert [d["device"] for d in s["devices"]] == [1001, 1002]
    assert all(d["cycles"] >= 1 and d["generated"] >= 1 for d in s["devices"])
    assert s["totals"]["lost"] == 0
