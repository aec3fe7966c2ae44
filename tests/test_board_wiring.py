"""How a virtual board is put together: a board file parsed once, its parts taken from the part tables
(``fieldnode.parts``), a malformed scenario refused, and the hooks that other layers plug into declared."""

import json

import pytest
from fieldnode import boards, parts
from fieldnode.errors import ConfigError
from fieldnode.lab import scenario
from fieldnode.lab.fleet import FleetRun
from fieldnode.sim import sensors
from fieldnode.sim.board import VirtualBoard
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.hwops import ops


@pytest.fixture
def loads(monkeypatch):
    """The board files parsed while the test runs, by name or path as asked for."""
    seen = []
    real = boards.load

    def load(name):
        seen.append(str(name))
        return real(name)

    monkeypatch.setattr(boards, "load", load)
    return seen


def test_a_board_given_parsed_is_not_parsed_again(loads, tmp_path):
    b = boards.load("m5stack-core2")
    with VirtualBoard(b, flash_dir=tmp_path) as vb:
        assert vb.board is b
    assert loads == ["m5stack-core2"]
    with VirtualBoard("lowpower-ref", flash_dir=tmp_path / "by-name") as vb:  # a name still works
        assert vb.board.name == "lowpower-ref"


def test_a_fleet_parses_its_board_file_once_whatever_its_size(loads, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FIELDNODE_HOME", str(home))
    scn = scenario.load({"board": "lowpower-ref", "devices": 3, "duration": "1h", "environment": {"preset": "quiet"}})
    run = FleetRun(scn, home)
    try:
        run.setup()
        summary = run.summary(run.devices[0].board.clock.now_ms(), {})
    finally:
        run.close()
    assert len(run.devices) == 3 and len(summary["devices"]) == 3
    assert loads == ["lowpower-ref"]  # it was 2N+2: the build, the set-up, one per board and one per summary row


def test_a_typo_in_the_scenarios_environment_is_an_error_not_a_board_without_sensors(tmp_path):
    with pytest.raises(ConfigError) as e:
        VirtualBoard("m5stack-core2", flash_dir=tmp_path, scenario={"env": {"quantites": {"temp_c": 21}}})
    assert "quantites" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="quantities.temp_c"):
        VirtualBoard("m5stack-core2", flash_dir=tmp_path, scenario={"env": {"quantities": {"temp_c": "warm"}}})


def _board_file(tmp_path, modem_type: str) -> str:
    data = json.loads(boards.load("esp32-devkitc-bg95").path.read_text())
    data["name"] = f"esp32-devkitc-{modem_type}"
    data["modem"]["type"] = modem_type
    p = tmp_path / f"{data['name']}.json"
    p.write_text(json.dumps(data))
    return str(p)


@pytest.mark.parametrize("variant, model", [("bg95", b"BG95-M3"), ("bg96", b"BG96"), ("bg77", b"BG77")])
def test_the_modem_model_is_the_board_files_variant(tmp_path, variant, model):
    board = boards.load(_board_file(tmp_path, variant))
    with VirtualBoard(board, flash_dir=tmp_path / "flash", scenario={"modem": {"power": "on"}}) as vb:
        vb.clock.advance(vb.modem.BOOT_MS)
        vb.modem.poll(vb.clock.now_ms())
        vb.modem.read(65536)
        vb.modem.write(b"ATI\r")
        vb.clock.advance(200)
        vb.modem.poll(vb.clock.now_ms())
        lines = vb.modem.read(65536).split(b"\r\n")
    assert lines[1:3] == [b"Quectel", model], lines  # a bg96 or bg77 board used to get a BG95


def test_sensors_and_modems_come_from_the_part_tables():
    assert boards.SENSORS == set(parts.SENSORS) and boards.MODEMS == set(parts.MODEMS)
    i2c = {n: p for n, p in parts.SENSORS.items() if p.bus == "i2c"}
    assert sensors.MODELS == {n: parts.model_class(p) for n, p in i2c.items()}
    assert sensors.MODEL_OPTIONS == {n: p.model_options for n, p in i2c.items() if p.model_options}
    with VirtualBoard("m5stack-core2") as vb:
        built = {type(m) for devs in vb.bus.i2c.values() for m in devs.values()}
        want = {parts.model_class(parts.SENSORS[s["type"]]) for s in vb.board["sensors"] if s["type"] != "adc"}
        assert built == want and want


def test_the_hooks_are_declared_not_patched(tmp_path):
    with VirtualBoard("lowpower-ref", flash_dir=tmp_path, run_main=False) as vb:
        assert vb.run_main is False
        assert vb.bus.on_request == vb.tick and "handle" not in vars(vb.bus)  # the bus's own handle, unreplaced
        assert vb.bus.handled_ops() == HwBus.known_ops()  # a board answers every op of the table


def test_a_bus_runs_its_request_hook_first_and_refuses_ops_not_in_the_table():
    calls = []
    bus = HwBus(VirtualClock(start_ms=5), on_request=lambda: calls.append("tick"))
    try:
        bus.register(ops.MONO, lambda p: (calls.append("mono"), b"x")[1])
        assert bus.handle(ops.MONO, b"") == b"x" and calls == ["tick", "mono"]
        assert bus.handle(ops.TIME, b"") == (5).to_bytes(8, "big") and calls[-1] == "tick"
        with pytest.raises(ValueError, match="_hwops.py"):
            bus.register(0x7F, lambda p: b"")
    finally:
        bus.close()
