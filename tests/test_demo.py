"""make demo, shortened: the main job end to end (flash over RFC 2217, deploy, provision, a simulated run with a
failing bearing) must still find the fault quickly, lose nothing and write its report."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.xdist_group("demo")
def test_demo_finds_the_bearing_fault_and_loses_nothing(tmp_path):
    out = tmp_path / "demo"
    p = subprocess.run([sys.executable, str(ROOT / "tools" / "demo.py"), "--days", "5", "--fault-day", "4",
                        "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    m = re.search(r"bearing fault detected (\d+) min after it began, (\d+) false alarm", p.stdout)
    assert m, p.stdout[-2000:]
    # the fault is found within two hours of virtual time, with no alarm before it (the collector's clock and the
    # board's agree: provisioning happens on the same virtual clock as the run); four quiet days first, past the
    # detector's warm-up, where a whole-mg RMS flipping between two steps once raised false alarms
    assert int(m.group(1)) <= 120 and int(m.group(2)) == 0, m.group(0)
    assert re.search(r"\b0 lost\b", p.stdout), p.stdout[-2000:]
    assert re.search(r"console: http://127\.0\.0\.1:\d+/", p.stdout)  # the demo's collector serves the console
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3 and "alarm" in html.lower()
