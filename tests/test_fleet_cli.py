"""fieldnode sim run: scenarios load or fail with the key named; a short fleet run end to end through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fieldnode.errors import ConfigError
from fieldnode.lab import scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "tools" / "scenarios").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_scenarios_load(path):
    s = scenario.load(path)
    assert s.duration_s >= 3600 and s.devices >= 1


def test_builtin_scenarios_load_by_name(tmp_path, monkeypatch):
    assert scenario.builtin() == [p.stem for p in EXAMPLES]
    monkeypatch.chdir(tmp_path)
    assert scenario.load("fleet-outage").devices == 5
    assert scenario.load("fleet-outage.json").name == "fleet-outage"
    (tmp_path / "fleet-outage.json").write_text('{"devices": 2}')  # a file of that name is the user's, and wins
    assert scenario.load("fleet-outage.json").devices == 2
    with pytest.raises(ConfigError, match="built-in scenario: " + ", ".join(scenario.builtin())):
        scenario.load("no-such-scenario")


@pytest.mark.parametrize("text,where", [
    ('{"board": "esp8266"}', "'board'"),
    ('{"duration": "7 fortnights"}', "'duration'"),
    ('{"faults": [{"kind": "meteor"}]}', "faults[0].kind"),
    ('{"faults": [{"kind": "outage", "from": "2d", "to": "1d"}]}', "faults[0]"),
    ('{"devices": 0}', "'devices'"),
    ('{"colour": "red"}', "'colour'"),
    ('{"board": "lowpower-ref",', "not valid JSON"),
])
def test_bad_scenarios_name_the_key(tmp_path, text, where):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        scenario.load(p)
    assert where in str(e.value) and "bad.json" in str(e.value)


def test_durations():
    assert scenario.parse_duration("2d3h") == 2 * 86400 + 3 * 3600
    assert scenario.parse_duration("90s") == 90
    assert scenario.parse_duration(600) == 600
    assert scenario.parse_duration("3 weeks") == 3 * 7 * 86400  # the words the summary prints are read back
    with pytest.raises(ValueError):
        scenario.parse_duration("3 fortnights")


def test_sim_run_cli_two_devices_json_and_html(tmp_path):
    html = tmp_path / "r.html"
    p = subprocess.run([sys.executable, "-m", "fieldnode", "sim", "run", "--board", "lowpower-ref", "--devices", "2",
                        "--duration", "5h", "--json", "--html", str(html), "--quiet"],
                       capture_output=True, text=True, timeout=300, env={"FIELDNODE_HOME": str(tmp_path / "home"),
                                                                         "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert [d["device"] for d in s["devices"]] == [1001, 1002]
    for d in s["devices"]:
        assert d["generated"] >= 5 and d["lost"] == 0 and d["uplinks"] >= 1 and d["average_ua"] > 0
    text = html.read_text()
    assert "<svg" in text and "device 1001" in text and "device 1002" in text


def test_sim_run_cli_bad_scenario_exits_with_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "fieldnode", "sim", "run", "--scenario", str(tmp_path / "none.json")],
                       capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={"FIELDNODE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 3
    names = ", ".join(scenario.builtin())
    assert p.stderr.strip().splitlines() == [f"error: no such scenario file: {tmp_path / 'none.json'} "
                                             f"(give a JSON file, or a built-in scenario: {names})"]
