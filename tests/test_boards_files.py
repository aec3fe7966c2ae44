"""Board files: every one validates; malformed ones fail naming the file, the field and what is allowed."""

import copy
import json
import subprocess
import sys

import pytest
from conftest import ROOT
from fieldnode import boards
from fieldnode.errors import ConfigError


@pytest.mark.parametrize("name", boards.names())
def test_board_file_is_valid_and_cites_every_power_figure(name):
    b = boards.load(name)
    assert b.name == name and b.flash_bytes >= 4 << 20 and b.heap_bytes >= 100_000
    off, size = b.vfs
    assert off >= 0x200000 and off + size <= b.flash_bytes
    assert b.firmware_offset == (0x1000 if b.chip == "esp32" else 0x0)  # FACTS: 0x1000 on ESP32, 0 on S3/C3
    for key, entry in b["power"].items():
        assert len(entry["source"]) > 10, key
        lo, v, hi = b.power_range(key)
        assert lo <= v <= hi


def test_m5stack_boards_say_they_sleep_at_milliamps():
    core2, atom = boards.load("m5stack-core2"), boards.load("m5stack-atom-lite")
    lo, v, hi = core2.power_range("deep_sleep_ma")
    assert (lo, hi) == (0.4, 4.0) and 0.4 <= v <= 4.0
    assert atom.power("deep_sleep_ma") == 4.0 and "M5Atom#13" in atom["power"]["deep_sleep_ma"]["source"]
    ref = boards.load("lowpower-ref")
    assert ref.power("deep_sleep_ma") + ref.power("modem_psm_ma") < 0.015  # ~10 uA + 3.2 uA per datasheets


def test_unit_catm_uart_pins_match_the_grove_wiring():
    # Grove yellow carries the unit's TX into the host's RX: Core2 port C yellow G13, ATOM Lite yellow G26
    c, a = boards.load("m5stack-core2")["buses"]["port_c"], boards.load("m5stack-atom-lite")["buses"]["grove"]
    assert (c["tx"], c["rx"]) == (14, 13)
    assert (a["tx"], a["rx"]) == (32, 26)
    assert boards.load("lilygo-t-sim7080g-s3")["modem"]["pwrkey"] == 41


def _bad(tmp_path, mutate, name="m5stack-core2"):
    d = json.loads(boards.load(name).path.read_text())
    d = copy.deepcopy(d)
    mutate(d)
    p = tmp_path / f"{d['name']}.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ConfigError) as e:
        boards.load(p)
    return str(e.value)


@pytest.mark.parametrize("mutate,expect", [
    (lambda d: d["buses"]["port_a"].update(sda=21), ["buses.port_a.sda", "GPIO21 is already used by buses.internal"]),
    (lambda d: d["sensors"].append({"type": "bme680", "bus": "port_a", "addr": "0x77"}),
     ["sensors[4].type", "'bme680' is not one of", "sht3x"]),
    (lambda d: d.pop("heap_bytes"), ["'heap_bytes'", "missing", "required:"]),
    (lambda d: d["sensors"].append({"type": "bmp280", "bus": "port_a", "addr": "0x44"}),
     ["sensors[4].addr", "0x44 on bus 'port_a' is already sensors[2] (sht3x)"]),
    (lambda d: d["sensors"][2].update(bus="port_c"), ["sensors[2].bus", "not an i2c bus", "internal", "port_a"]),
    (lambda d: d["modem"].update(pwrkey=33), ["modem.pwrkey", "GPIO33 is already used by buses.port_a.scl"]),
    (lambda d: d["power"]["deep_sleep_ma"].update(max=1.0), ["power.deep_sleep_ma", "min 0.4 <= value 3.0 <= max 1.0"]),
    (lambda d: d["power"]["modem_tx_ma"].pop("source"), ["power.modem_tx_ma", "source"]),
    (lambda d: d["sensors"][0]["rails"].update(ldo9=True), ["sensors[0].rails.ldo9", "allowed"]),
    (lambda d: d.update(colour="red"), ["'colour'", "unknown field", "allowed"]),
    (lambda d: d.update(chip="esp8266"), ["'chip'", "'esp8266' is not one of"]),
    (lambda d: d["buses"]["port_c"].pop("rx"), ["buses.port_c.rx", "missing", "uart buses need id, tx, rx"]),
])
def test_malformed_board_names_file_field_and_what_is_allowed(tmp_path, mutate, expect):
    msg = _bad(tmp_path, mutate)
    assert msg.startswith("m5stack-core2.json: field ")
    for part in expect:
        assert part in msg, msg


def test_wifi_only_board_must_have_wifi(tmp_path):
    msg = _bad(tmp_path, lambda d: d.update(wifi=False), "esp32-c3-devkitm")
    assert "esp32-c3-devkitm.json: field 'modem'" in msg and "no link" in msg


def test_name_must_match_file(tmp_path):
    d = json.loads(boards.load("lowpower-ref").path.read_text())
    p = tmp_path / "other.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="other.json: field 'name': 'lowpower-ref' does not match"):
        boards.load(p)


def test_not_json_and_unknown_board():
    with pytest.raises(ConfigError, match="no board named 'nope'"):
        boards.load("nope")


def test_cli_boards_json_lists_chip_sensors_modem():
    p = subprocess.run([sys.executable, "-m", "fieldnode", "boards", "--json"], capture_output=True, text=True,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    rows = {r["name"]: r for r in data["boards"]}
    assert rows["m5stack-core2"]["sensors"] == ["axp192", "mpu6886", "sht3x", "qmp6988"]
    assert rows["m5stack-core2"]["modem"] == "sim7080g" and rows["esp32-c3-devkitm"]["modem"] is None
    assert data["errors"] == []
