"""A declared node end to end: the example cold-store node file (tools/scenarios/nodes/cold-store.json) on a
virtual lowpower-ref (SHT3x + BMP280 per its board file), deployed into the device's config as `fieldnode deploy
--config --node --overwrite-config` does, runs wake cycles through the simulated SIM7080G to the real collector,
which decodes each node report by its schema id with the node's own fields and units."""

import json

from fieldnode import deploy, node


def test_cold_store_node_reports_humidity_and_pressure_with_units(fieldnode_board_factory, fieldnode_collector):
    n, lay = node.check("cold-store")
    b = fieldnode_board_factory("lowpower-ref", env={"quantities": {"temperature_c": 4.0, "humidity_pct": 81.5,
                                                                    "pressure_pa": 100800.0}})
    b.deploy_firmware()
    col = fieldnode_collector
    rep = col.provision(b, interval=600)
    b.reset()  # as provisioning does on a pass (the lab keeps it at the REPL): a fresh heap for the deploy
    cfg = json.loads(b.read_file("config.json"))
    cfg["node"] = n
    assert node.register(col.registry, rep.device_id, n) == node.sid_hex(lay)
    assert deploy.deploy(b.device, b.name, config=cfg, overwrite_config=True).config_written
    b.run_cycles(duration_ms=3 * 3600_000)
    b.set_quantity("temperature_c", 9.5)  # the cold chain breaks: the detector fires, an alarm report goes at once
    b.run_cycles(duration_ms=2 * 3600_000)
    stored = col.reports(rep.device_id)
    got = [r for r in stored if "schema" in r]
    assert len(got) >= 4, stored[-1]
    assert all(r["schema"] == node.sid_hex(lay) and r["node"] == "cold_store" for r in got)
    first, last = got[0], got[-1]
    assert first["units"] == {"temperature": "degC", "humidity": "%RH", "pressure": "hPa"}
    assert abs(first["temperature"] - 4.0) < 0.05 and abs(first["humidity"] - 81.5) < 0.1
    assert abs(first["pressure"] - 1008.0) < 0.2
    assert first["events"] == [] and "high" not in first["flags"]
    assert abs(last["temperature"] - 9.5) < 0.05 and last["events"] == ["cold_chain"] and "high" in last["flags"]
    assert [r["counter"] for r in stored] == list(range(1, len(stored) + 1))  # nothing lost
