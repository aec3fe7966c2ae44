"""`fieldnode schema NODE` (the field table with byte offsets and schema id) and `fieldnode schema NODE --soracom`
(the SORACOM Binary Parser format): the format, read by a small interpreter of the Binary Parser grammar written
here from SORACOM's documentation (name:byte_index:type:setting[:operation]), gives the same values as the
collector's node decode of a report the firmware encoded under MicroPython. Node files in YAML read as JSON ones
do, with one-line errors naming the file (and the line of a YAML syntax error)."""

import json

import pytest
from fieldnode import node
from fieldnode.cli import main
from fieldnode.collector.fw import codec
from fieldnode.errors import ConfigError

KEY = bytes(range(16))


def soracom_parse(fmt: str, data: bytes) -> dict:
    """The JSON SORACOM's Binary Parser makes of ``data`` with custom format ``fmt``, for the types the formats
    here use: bool (bit position, 7 = MSB), int/uint of whole bytes (big-endian), an optional /N or *N operation.
    Sub-byte integers (the header's 3-bit version) are returned as None: not checked here."""
    out = {}
    for spec in fmt.split():
        parts = spec.split(":")
        name, idx, kind, setting = parts[0], int(parts[1]), parts[2], int(parts[3])
        if kind == "bool":
            out[name] = bool(data[idx] >> setting & 1)
            continue
        assert kind in ("int", "uint"), spec
        if setting % 8:
            out[name] = None
            continue
        v = int.from_bytes(data[idx:idx + setting // 8], "big", signed=kind == "int")
        for op in parts[4:]:
            v = v / float(op[1:]) if op[0] == "/" else v * float(op[1:]) if op[0] == "*" else None
        out[name] = v
    return out


def _firmware_report(mpy_run, n, raw_values, events, flags):
    from fieldnode.paths import FIRMWARE

    code = f"""
import node, nodelayout
lay = nodelayout.Layout(node.validate({n!r}))
vals = [lay.wire(i, v) for i, v in enumerate({raw_values!r})]
print(lay.encode(1767225600, {flags}, vals, {events}).hex())
"""
    return bytes.fromhex(mpy_run(code, path=[str(FIRMWARE)]).out.strip())


def test_the_field_table_gives_type_resolution_unit_offset_and_schema_id(capsys):
    n, lay = node.check("cold-store")
    rows = node.fields(lay)
    assert [(r["name"], r["offset"], r["bytes"]) for r in rows] == [
        ("ts", 4, 4), ("flags", 8, 1), ("temperature", 9, 2), ("humidity", 11, 2), ("pressure", 13, 2),
        ("events", 15, 1)]
    assert rows[-1]["offset"] + 1 == lay.size
    assert main(["schema", "cold-store"]) == 0
    out = capsys.readouterr().out
    assert f"schema id {node.sid_hex(lay)}" in out
    line = next(x for x in out.splitlines() if x.startswith("humidity"))
    assert line.split() == ["humidity", "u16", "0.01", "%RH", "11", "humidity"]
    assert main(["schema", "cold-store", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["schema"] == node.sid_hex(lay) and js["fields"][4]["offset"] == 13


def test_the_soracom_format_decodes_a_firmware_report_as_the_collector_does(mpy_run, capsys):
    n, lay = node.check("cold-store")
    assert main(["schema", "cold-store", "--soracom"]) == 0
    fmt = capsys.readouterr().out.strip()
    assert fmt == node.soracom_format(lay) and "\n" not in fmt
    # -5.55 degC (driver units 0.01 degC), 81.5 %RH, 1008.0 hPa (driver Pa); the cold_chain detector on; high flag
    rec = _firmware_report(mpy_run, n, [-555, 8150, 100800], 1, 0x02)
    up = codec.encode_uplink(KEY, 42, 9, [rec], version=codec.VERSION_NODE)
    got = soracom_parse(fmt, up)
    want = node.decode(rec, n)
    assert got["deviceId"] == 42 and got["counter"] == 9 and got["schema"] == lay.sid
    assert got["ts"] == want["ts"] == 1767225600
    for m in n["measurements"]:
        assert got[m["name"]] == pytest.approx(want[m["name"]], abs=1e-9), m["name"]
    assert (got["temperature"], got["humidity"], got["pressure"]) == pytest.approx((-5.55, 81.5, 1008.0))
    assert got["cold_chain"] is True and got["high"] is True and got["low"] is False
    assert got["cmdack"] is False


def test_a_coarse_resolution_is_a_multiplication_and_an_adc_node_decodes_too(tmp_path, mpy_run):
    n = {"name": "light", "board": "esp32-c3-devkitm",
         "measurements": [{"name": "lux", "sensor": "adc", "quantity": "adc", "unit": "lx", "resolution": 2,
                           "scale": {"per_mv": 10}},
                          {"name": "temp", "sensor": "sht3x", "quantity": "temperature", "unit": "degC",
                           "resolution": 0.5}]}
    n, lay = node.validate(n)
    fmt = node.soracom_format(lay)
    assert ":*2" in fmt and "temp:" in fmt and ":/2" in fmt
    rec = _firmware_report(mpy_run, n, [1234, 2150], 0, 0)  # 1234 mV at the pin x 10 lx/mV; 21.50 degC
    got = soracom_parse(fmt, codec.encode_uplink(KEY, 1, 1, [rec], version=codec.VERSION_NODE))
    want = node.decode(rec, n)
    assert got["lux"] == want["lux"] == 12340 and got["temp"] == want["temp"] == 21.5


YAML_NODE = """\
# the cold store in YAML
name: cold_store
board: lowpower-ref
measurements:
  - {name: temperature, sensor: sht3x, quantity: temperature, unit: degC, resolution: 0.01}
  - {name: humidity, sensor: sht3x, quantity: humidity, unit: "%RH", resolution: 0.01}
  - {name: pressure, sensor: bmp280, quantity: pressure, unit: hPa, resolution: 0.1}
detectors:
  - {name: cold_chain, on: temperature, kind: above, threshold: 8.0, hysteresis: 0.5}
policy: {sample_s: 600}
"""


def test_a_yaml_node_file_is_the_same_node_as_its_json(tmp_path, capsys):
    p = tmp_path / "cold.yaml"
    p.write_text(YAML_NODE)
    (nj, lj), (ny, ly) = node.check("cold-store"), node.check(p)
    assert ny == nj and ly.sid == lj.sid
    assert main(["node", "check", str(p)]) == 0 and "ok: node cold_store" in capsys.readouterr().out
    assert main(["schema", str(p), "--soracom"]) == 0
    assert capsys.readouterr().out.strip() == node.soracom_format(lj)
    json.dumps(ny)  # what the device gets is JSON


@pytest.mark.parametrize("text, says", [
    (YAML_NODE.replace("board: lowpower-ref", "board: [lowpower-ref"), "is not valid YAML at line "),
    (YAML_NODE.replace("  - {name: humidity", "  - {name: humidity, sensor: {"), "is not valid YAML at line "),
    ("- just\n- a list\n", "must hold a node file (YAML mapping)"),
    (YAML_NODE.replace("quantity: humidity", "quantity: humdity"),
     "measurements[1].quantity: 'humdity' is not a quantity"),
])
def test_a_bad_yaml_node_file_is_refused_in_one_line(tmp_path, capsys, text, says):
    p = tmp_path / "bad.yml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        node.check(p)
    assert says in e.value.message and str(p) in e.value.message
    assert main(["node", "check", str(p)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err


def test_a_yaml_syntax_error_names_its_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(YAML_NODE.replace("board: lowpower-ref", "board: [lowpower-ref"))
    with pytest.raises(ConfigError) as e:
        node.check(p)
    line = int(e.value.message.split("at line ")[1].split(":")[0])
    assert 3 <= line <= 5  # the open bracket is on line 3; the parser notices by the next mapping key


def test_export_and_monitor_show_node_fields_with_units_across_an_old_and_a_new_schema(tmp_path):
    """A node whose file changed (pressure added): the reports stored under the old schema id still decode and
    export, in one CSV with the new layout's, each field's column headed with its unit."""
    import copy
    import csv
    import io

    from fieldnode.collector.core import Collector
    from fieldnode.collector.export import export
    from fieldnode.monitor import ReportWatcher
    from fieldnode.registry import Registry

    new, lay_new = node.check("cold-store")
    old = copy.deepcopy(new)
    old["measurements"] = old["measurements"][:2]
    old, lay_old = node.validate(old)
    assert lay_old.sid != lay_new.sid
    reg = Registry(tmp_path / "r.sqlite")
    reg.add_device(7, KEY, board="lowpower-ref", who="test")
    col = Collector(tmp_path / "c.sqlite", reg, rate=1000, burst=1000)
    node.register(reg, 7, old)
    rec_old = lay_old.encode(1767225600, 0, [lay_old.wire(0, 412), lay_old.wire(1, 8150)], 0)
    col.handle(codec.encode_uplink(KEY, 7, 1, [rec_old], version=codec.VERSION_NODE), "test")
    node.register(reg, 7, new)  # provisioned again with the new file: the old layout stays known
    rec_new = lay_new.encode(1767229200, 2, [lay_new.wire(0, 950), lay_new.wire(1, 8000),
                                              lay_new.wire(2, 100800)], 1)
    col.handle(codec.encode_uplink(KEY, 7, 2, [rec_new], version=codec.VERSION_NODE), "test")
    col.close()
    reg.close()
    out = io.StringIO()
    assert export(tmp_path / "c.sqlite", out, "csv") == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["schema"] for r in rows] == [node.sid_hex(lay_old), node.sid_hex(lay_new)]
    assert [r["temperature (degC)"] for r in rows] == ["4.12", "9.5"]
    assert [r["humidity (%RH)"] for r in rows] == ["81.5", "80.0"]
    assert [r["pressure (hPa)"] for r in rows] == ["", "1008.0"]
    assert [r["events"] for r in rows] == ["", "cold_chain"] and rows[1]["flags"] == "high"
    out = io.StringIO()
    export(tmp_path / "c.sqlite", out, "json")
    js = json.loads(out.getvalue())
    assert js[1]["units"] == {"temperature": "degC", "humidity": "%RH", "pressure": "hPa"}
    w = ReportWatcher(tmp_path / "c.sqlite", 7)  # the monitor's view of the same rows (no serial port needed)
    w.last = 0
    texts = [e["text"] for e in w.poll()]
    assert "temperature=4.12 degC humidity=81.5 %RH events=-" in texts[0]
    assert "pressure=1008.0 hPa events=cold_chain" in texts[1] and "node=cold_store" in texts[1]
