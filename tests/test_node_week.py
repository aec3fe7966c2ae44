"""The example nodes each run a simulated week on virtual boards (`fieldnode sim run --scenario ... --node`):

* the cold-store environmental logger (nodes/cold-store.json) on lowpower-ref with SHT3x and BMP280, through the
  simulated SIM7080G, with a cold-chain breach on day 3 (tools/scenarios/cold-store-week.json);
* the Wi-Fi light logger (nodes/wifi-light.json) on the ESP32-C3 with a light sensor on its ADC (a day's light, daylight
  and the room's lamp, from a CSV series; the temperature a function of time; an access-point outage;
  tools/scenarios/wifi-light-week.json).

0 reports lost, every report decoded at the collector with the node's own fields and units, the detectors firing
when the physics says so. Also: a scenario that does not drive a declared quantity is refused in one line."""

import pytest
from fieldnode import node
from fieldnode.cli import main
from fieldnode.errors import ConfigError
from fieldnode.lab import fleet, scenario


def _week(tmp_path, name, **over):
    scn = scenario.load(name, over)
    run = fleet.FleetRun(scn, tmp_path / "home")
    try:
        summary = run.run()
        return scn, summary, run.reports(run.devices[0].device_id)
    finally:
        run.close()


def _all_decoded(example, scn, reports):
    n, lay = node.check(example)
    assert n == scn.node
    want_units = node.units(n)
    for r in reports:
        assert r["schema"] == node.sid_hex(lay) and r["node"] == n["name"], r
        assert r["units"] == want_units and all(isinstance(r[f], float | int) for f in want_units), r
    assert [r["counter"] for r in reports] == list(range(1, len(reports) + 1))


@pytest.mark.slow
def test_cold_store_week_with_a_cold_chain_breach(tmp_path):
    scn, s, reports = _week(tmp_path, "cold-store-week")
    t = s["totals"]
    assert scn.duration_s == 7 * 86400 and scn.board == "lowpower-ref"
    assert t["lost"] == 0 and t["duplicates"] == 0 and t["generated"] == t["delivered"] + t["queued"]
    assert t["delivered"] >= 7 * 24 - 2, t  # hourly reports, plus alarms
    _all_decoded("cold-store", scn, reports)
    t0 = s["start_ts"]
    breach = [r for r in reports if "cold_chain" in r["events"]]
    assert breach and all("high" in r["flags"] for r in breach)
    # the door is open from 74h (266400 s) to 78h; above 8 degC from 74.5 h, under 7.5 again by 78 h
    assert all(266400 <= r["ts"] - t0 <= 281400 for r in breach), [r["ts"] - t0 for r in breach]
    assert max(r["temperature"] for r in breach) > 9.0  # 4 degC + 5.5 with the door open, less the cycling
    quiet = [r for r in reports if r not in breach]
    assert all(r["temperature"] < 8.0 for r in quiet if not 266400 <= r["ts"] - t0 <= 281400)
    assert all(60 < r["humidity"] < 95 and 990 < r["pressure"] < 1020 for r in reports)
    assert min(r["pressure"] for r in reports[-24:]) < 1005  # the weather's fall on day 5 reached the BMP280
    from fieldnode.lab import report  # sim run --html: a chart per node field, titled with its unit

    report.write_html(tmp_path / "r.html", s, {reports[0]["device"]: reports})
    page = (tmp_path / "r.html").read_text()
    assert all(t in page for t in ("temperature (degC)", "humidity (%RH)", "pressure (hPa)", "cold_chain on",
                                   "cold_chain off"))
    assert "Vibration" not in page  # a node's page shows its own fields, not the fixed report's


@pytest.mark.slow
def test_wifi_light_week_on_the_esp32_c3_adc(tmp_path):
    scn, s, reports = _week(tmp_path, "wifi-light-week")
    t = s["totals"]
    assert scn.board == "esp32-c3-devkitm"
    assert t["lost"] == 0 and t["duplicates"] == 0 and t["generated"] == t["delivered"] + t["queued"]
    assert t["delivered"] >= 7 * 24 - 2, t
    _all_decoded("wifi-light", scn, reports)
    t0 = s["start_ts"]

    def hour(r):
        return (r["ts"] - t0) % 86400 / 3600

    night = [r for r in reports if 0 <= hour(r) <= 5]
    noon = [r["light"] for r in reports if 11 <= hour(r) <= 13]
    lamp = [r for r in reports if 18.1 <= hour(r) <= 22.9]
    assert night and all(r["light"] < 50 and r["events"] == [] for r in night)  # dark: 0 mV at the ADC
    assert noon and min(noon) > 7400 and max(noon) < 8100  # 8000 lx at noon, 0.1 mV/lx at the pin, 10 lx/mV
    assert lamp and all(550 < r["light"] < 650 and r["events"] == ["lights_on"] for r in lamp)  # the lamp
    assert all(18 < r["temperature"] < 24 for r in reports)


def test_a_quantity_the_scenario_does_not_drive_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    run = fleet.FleetRun(scenario.load({"node": "cold-store", "duration": "1h",
                                        "environment": {"quantities": {"temperature_c": 4.0,
                                                                       "humidity_pct": 80.0}}}), tmp_path / "home")
    try:
        with pytest.raises(ConfigError) as e:
            run.setup()
    finally:
        run.close()
    assert ("node cold_store measures pressure (pressure, measurements[2]) but the scenario does not drive "
            "pressure_pa") in e.value.message
    assert main(["sim", "run", "--node", "wifi-light", "--duration", "1h", "--quiet"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not drive light_lux" in err


def test_a_node_for_another_board_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    assert main(["sim", "run", "--node", "cold-store", "--board", "esp32-c3-devkitm", "--duration", "1h",
                 "--quiet"]) == 3
    err = capsys.readouterr().err.strip()
    assert "node cold_store is declared for board lowpower-ref, not esp32-c3-devkitm" in err


def test_sim_board_checks_its_node_against_the_board_and_the_scenario(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    assert main(["sim", "board", "--board", "esp32-c3-devkitm", "--node", "cold-store"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "node cold_store is declared for board lowpower-ref" in err
    scn = tmp_path / "dark.json"
    scn.write_text('{"env": {"quantities": {"temperature_c": 21.0}}}')
    assert main(["sim", "board", "--board", "esp32-c3-devkitm", "--node", "wifi-light", "--scenario",
                 str(scn)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not drive light_lux" in err and str(scn) in err
