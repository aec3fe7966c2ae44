"""Devices that differ: per-device offsets, noise, clock error, start phase, signal and cell drawn from the seed
(device i's draws independent of the fleet's size), faults aimed at a device, a share or a cell, and bad variation
sections refused with the key named."""

import pytest
from fieldnode.errors import ConfigError
from fieldnode.lab import scenario
from fieldnode.lab.fleet import FleetRun
from fieldnode.lab.plan import Plan

VARIATION = {"sensor_offset": {"temperature_c": 0.5}, "noise": {"temperature_c": [0.05, 0.2], "accel_g": 0.004},
             "clock_ppm": 20000, "start_phase_s": "10m", "rssi_dbm": [-110, -80], "cells": {"a": 1, "b": 1}}


def _scn(devices, **extra):
    return scenario.load({"board": "lowpower-ref", "devices": devices, "duration": "3h", "seed": 5,
                          "environment": {"preset": "quiet"}, "variation": VARIATION, **extra})


def test_draws_differ_per_device_and_do_not_depend_on_the_fleet_size():
    small, big = Plan(_scn(3), "127.0.0.1:1"), Plan(_scn(40), "127.0.0.1:1")
    assert [t.public() for t in small.traits] == [t.public() for t in big.traits[:3]]
    t = big.traits
    assert len({x.offsets["temperature_c"] for x in t}) == 40 and len({x.clock_ppm for x in t}) == 40
    assert all(0.05 <= x.noise["temperature_c"] <= 0.2 and x.noise["accel_g"] == 0.004 for x in t)
    assert all(0 <= x.start_phase_ms < 600_000 and -110 <= x.rssi_dbm <= -80 for x in t)
    assert {x.cell for x in t} == {"a", "b"}
    assert Plan(_scn(3, seed=6), "x").traits[0].public() != small.traits[0].public()  # another seed, another fleet
    env = small.environment({"seed": 1}, 0)
    assert {"kind": "offset", "quantity": "temperature_c", "value": small.traits[0].offsets["temperature_c"]} \
        in env["faults"] and env["vibration"]["noise_g"] == 0.004


def test_faults_reach_a_device_a_share_or_a_cell():
    out = {"kind": "outage", "from": "1h", "to": "2h"}
    p = Plan(_scn(10, faults=[dict(out, device=1003), dict(out, share=0.2), dict(out, cell="a"),
                              {"kind": "power_cuts", "count": 6, "cell": "b"}, {"kind": "no_sim"}]), "127.0.0.1:1")
    assert p.reach[0] == {2}
    assert len(p.reach[1]) == 2
    assert p.reach[2] == {i for i, t in enumerate(p.traits) if t.cell == "a"} and p.reach[2]
    assert p.reach[4] == set(range(10))
    cut = [i for i in range(10) if p.power_cuts(i)]
    assert cut and all(p.traits[i].cell == "b" for i in cut) and sum(len(p.power_cuts(i)) for i in cut) == 6
    assert p.modem(2)["network"]["outages"][0] == [3600_000, 7200_000]
    assert p.modem(2)["network"]["rssi_dbm"] == p.traits[2].rssi_dbm
    # the share picks the same devices for the same seed and size
    again = Plan(_scn(10, faults=[dict(out, device=1003), dict(out, share=0.2)]), "127.0.0.1:1")
    assert again.reach[1] == p.reach[1]


@pytest.mark.parametrize("var,faults,where", [
    ({"sensor_ofset": {}}, [], "'variation.sensor_ofset'"),
    ({"sensor_offset": {"temperature": 0.2}}, [], "'variation.sensor_offset.temperature'"),
    ({"noise": {"humidity_pct": [0.5, 0.1]}}, [], "'variation.noise.humidity_pct'"),
    ({"clock_ppm": "fast"}, [], "'variation.clock_ppm'"),
    ({"start_phase_s": "soon"}, [], "'variation.start_phase_s'"),
    ({"rssi_dbm": -20}, [], "'variation.rssi_dbm'"),
    ({"cells": []}, [], "'variation.cells'"),
    ({}, [{"kind": "no_sim", "device": 1009}], "'faults[0].device'"),
    ({}, [{"kind": "no_sim", "share": 1.5}], "'faults[0].share'"),
    ({"cells": ["a"]}, [{"kind": "no_sim", "cell": "z"}], "'faults[0].cell'"),
    ({}, [{"kind": "no_sim", "share": 0.5, "device": 1001}], "'faults[0]'"),
])
def test_bad_variation_names_the_key(var, faults, where):
    with pytest.raises(ConfigError) as e:
        scenario.load({"devices": 3, "variation": var, "faults": faults})
    msg = str(e.value)
    assert where in msg and "\n" not in msg


def _run(tmp_path, name):
    run = FleetRun(_scn(2, duration="2h"), tmp_path / name / "home")
    try:
        s = run.run()
        rows = {d.device_id: [{k: v for k, v in r.items() if k != "source"} for r in run.reports(d.device_id)]
                for d in run.devices}
    finally:
        run.close()
    s.pop("wall_s")
    return s, rows


def test_two_devices_differ_and_the_same_seed_gives_the_same_fleet(tmp_path):
    s, rows = _run(tmp_path, "a")
    a, b = s["devices"]
    assert a["charge_mc"] != b["charge_mc"] and a["traits"] != b["traits"]
    temps = [[r["temp"] for r in rows[d]] for d in (1001, 1002)]
    assert temps[0] and temps[1] and temps[0] != temps[1]
    # the first report's time follows each device's start phase
    assert rows[1001][0]["ts"] != rows[1002][0]["ts"]
    s2, rows2 = _run(tmp_path, "b")
    assert s2 == s and rows2 == rows
