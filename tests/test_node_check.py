"""Node files: `fieldnode node check` refuses each kind of bad file with one line naming the file, the field path,
what is wrong and what is allowed (the firmware's own validator, firmware/node.py); the report layout and its
schema id follow from the file; node reports ride in uplinks beside fixed ones and decode at the collector."""

import copy
import json

import pytest
from fieldnode import node
from fieldnode.cli import main
from fieldnode.collector.fw import codec
from fieldnode.collector.views import report_to_dict
from fieldnode.errors import ConfigError

KEY = bytes(range(16))


def _example():
    return json.loads(node.resolve("cold-store").read_text())


def _refused(tmp_path, mutate, capsys):
    d = _example()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ConfigError) as e:
        node.check(p)
    assert main(["node", "check", str(p)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(p) in err
    return e.value.message


@pytest.mark.parametrize("mutate, says", [
    (lambda d: d["measurements"][1].update(quantity="humdity"),
     "measurements[1].quantity: 'humdity' is not a quantity; one of adc, battery, bus_voltage, current, humidity"),
    (lambda d: d["measurements"][2].update(sensor="qmp6988"),
     "measurements[2].sensor: 'qmp6988' is not on board lowpower-ref, which carries sht3x, bmp280, mpu6886"),
    (lambda d: d["measurements"][2].update(sensor="sht3x"),
     "measurements[2].sensor: 'sht3x' does not measure pressure; one of bmp280, qmp6988"),
    (lambda d: d["measurements"][0].update(colour="red"),
     "measurements[0].colour: unknown key; allowed: name, sensor, quantity, unit, resolution, scale"),
    (lambda d: d.update(sensors=[]), "sensors: unknown key; allowed: name, board, measurements"),
    (lambda d: d["measurements"][0].update(unit="K"), "measurements[0].unit: 'K' is not a unit of temperature; "
                                                      "one of degC"),
    (lambda d: d["measurements"][0].update(resolution=0.001),
     "measurements[0].resolution: 0.001 degC is finer than the sensor reports (0.01 degC)"),
    (lambda d: d["detectors"][0].update(on="temp"), "detectors[0].on: 'temp' is not a measurement of this node"),
    (lambda d: d["detectors"][0].update(kind="rising"), "detectors[0].kind: 'rising' is not a detector kind; "
                                                        "one of above, below"),
    (lambda d: d.update(board="no-such-board"), "bad.json: board: "),
    (lambda d: d["policy"].update(sample_s=1), "policy: "),
])
def test_a_bad_node_file_is_refused_in_one_line_naming_file_field_and_choices(tmp_path, capsys, mutate, says):
    assert says in _refused(tmp_path, mutate, capsys)


def test_a_report_larger_than_one_uplink_is_refused(tmp_path, capsys):
    def many(d):
        d["measurements"] = [{"name": f"p{i}", "sensor": "bmp280", "quantity": "pressure", "unit": "Pa",
                              "resolution": 1} for i in range(64)]
        d["detectors"] = []
    msg = _refused(tmp_path, many, capsys)
    assert "measurements: the report is 265 bytes, one uplink carries at most 259" in msg


def test_the_example_checks_and_its_layout_follows_the_file(capsys):
    assert main(["node", "check", "cold-store"]) == 0
    assert "ok: node cold_store on lowpower-ref" in capsys.readouterr().out
    n, lay = node.check("cold-store")
    assert [(r["name"], r["type"], r["unit"]) for r in node.fields(lay)][2:] == [
        ("temperature", "i16", "degC"), ("humidity", "u16", "%RH"), ("pressure", "u16", "hPa"), ("events", "u8", "")]
    assert lay.size == 16 and 9 + lay.size + codec.TAG_LEN <= 32  # one report's uplink: 31 bytes
    assert main(["schema", "cold-store"]) == 0
    out = capsys.readouterr().out
    assert f"schema id {node.sid_hex(lay)}" in out and "humidity" in out and "%RH" in out
    other = copy.deepcopy(n)
    other["measurements"][2]["resolution"] = 1
    assert node.firmware().Layout(other).sid != lay.sid  # a changed layout gets a new schema id


def test_node_values_saturate_and_a_mixed_uplink_decodes_both_kinds():
    n, lay = node.check("cold-store")
    assert lay.wire(2, 10 ** 9) == 0xFFFF and lay.wire(0, -10 ** 6) == -0x8000  # saturates, never wraps
    vals = [lay.wire(0, -1234), lay.wire(1, 5555), lay.wire(2, 100800)]
    rec = lay.encode(1767225600, 0x02, vals, 1, (-71, 0, 1, 5, 0))
    fixed = codec.encode_report((1767225600, 0, 2150, 3900, 10, 20, 3, 4))
    up = codec.encode_uplink(KEY, 7, 10, [fixed, rec], version=codec.VERSION_NODE)
    assert up[0] >> 5 == codec.VERSION_NODE
    u = codec.Uplink(up)
    assert u.verify(KEY) and [len(r) for _, r in u.raw_reports()] == [len(fixed), len(rec)]
    nodes = {node.sid_hex(lay): n}
    old = report_to_dict(7, 10, u.raw_reports()[0][1], nodes=nodes)
    new = report_to_dict(7, 11, u.raw_reports()[1][1], nodes=nodes)
    assert old["temp"] == 21.5 and "schema" not in old  # today's fixed report decodes as before
    assert new["temperature"] == -12.34 and new["humidity"] == 55.55 and new["pressure"] == 1008.0
    assert new["events"] == ["cold_chain"] and new["flags"] == ["high"] and new["health"]["rssi"] == -71
    unknown = report_to_dict(7, 11, u.raw_reports()[1][1], nodes={})
    assert unknown["schema"] == node.sid_hex(lay) and unknown["undecoded"] == rec.hex()  # stored, not lost
    assert codec.encode_uplink(KEY, 7, 10, [fixed])[0] >> 5 == codec.VERSION  # no node report: as before


def test_micropython_encodes_the_node_report_cpython_decodes(mpy_run):
    from fieldnode.paths import FIRMWARE

    n, lay = node.check("cold-store")
    code = f"""
import node, nodelayout
n = node.validate({n!r})
lay = nodelayout.Layout(n)
print(lay.sid, lay.encode(1767225600, 0, [lay.wire(0, 412), lay.wire(1, 8150), lay.wire(2, 100800)], 0).hex())
"""
    res = mpy_run(code, path=[str(FIRMWARE)])
    sid, hexrec = res.out.split()
    assert int(sid) == lay.sid
    d = node.decode(bytes.fromhex(hexrec), n)
    assert (d["temperature"], d["humidity"], d["pressure"]) == (4.12, 81.5, 1008.0)


def test_converting_a_reading_to_its_wire_value_allocates_nothing(mpy_run):
    from fieldnode.paths import FIRMWARE

    n, _ = node.check("cold-store")
    setup = f"""
import nodelayout
lay = nodelayout.Layout({n!r})
raw = (412, 8150, 100800)
vals = [0, 0, 0]
"""
    code = """
for k in range(%d):
    for i in range(3):
        vals[i] = lay.wire(i, raw[i] + k)
"""
    few, many = (mpy_run(code % n, setup=setup, path=[str(FIRMWARE)], measure=True).alloc for n in (10, 1000))
    assert many == few  # per reading nothing: the integer ratio found at boot, no float, no long int, no object
