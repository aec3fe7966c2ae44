"""A virtual M5Stack Core2 reads all its sensors through the real drivers via firmware/board.py, and the
scenario environment (physics) behaves as documented."""

import math

import pytest
from fieldnode import boards
from fieldnode.errors import ConfigError
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.physics import Environment, core2_demo
from fieldnode.sim.runtime import run
from fieldnode.sim.sensors import build_bus_devices

CORE2_CODE = """
import board, time
from array import array
b = board.load(%r)
print('sensors', ','.join(sorted(b.sensors)), len(b.errors))
t, rh = b.sensors['sht3x'].read()
qt, qp = b.sensors['qmp6988'].read()
mv, ma, flags = b.sensors['axp192'].read()
print('env', t, rh, qt, qp, mv, flags)
imu = b.sensors['mpu6886']
x = array('h', bytes(2048)); y = array('h', bytes(2048)); z = array('h', bytes(2048))
def window():
    t0 = time.ticks_ms()
    imu.read_window(x, y, z)
    dt = time.ticks_diff(time.ticks_ms(), t0)
    m = sum(z) // len(z)
    e = 0
    for v in z:
        e += (v - m) * (v - m)
    return dt, m, e // len(z)
print('healthy', *window())
time.sleep_ms(%d)
print('failing', *window())
print('uart', b.modem_uart() is not None, b.pin('pwrkey'))
"""


def test_virtual_core2_reads_every_sensor_and_sees_the_bearing_fail(tmp_path):
    board = boards.load("m5stack-core2")
    clock = VirtualClock()
    env = Environment.from_dict(core2_demo(bearing_start_s=60), t0_ms=clock.now_ms())
    devs = build_bus_devices(board, clock, env)
    bus = HwBus(clock, i2c=devs)
    (tmp_path / "board.json").write_text(board.path.read_text())
    try:
        r = run(CORE2_CODE % (str(tmp_path / "board.json"), 4 * 3600 * 1000), bus=bus)
    finally:
        bus.close()
    assert r.rc == 0, r.out + r.err
    lines = {ln.split()[0]: ln.split()[1:] for ln in r.out.splitlines()}
    assert lines["sensors"] == ["axp192,mpu6886,qmp6988,sht3x", "0"]
    t, rh, qt, qp, mv, flags = (int(v) for v in lines["env"])
    t0 = env.t0_ms
    assert abs(t / 100 - env.value_at("temperature_c", 0.1)) < 0.15
    assert abs(rh / 100 - env.value_at("humidity_pct", 0.1)) < 0.05
    assert abs(qt - t) < 20 and abs(qp - env.value_at("pressure_pa", 0.1)) < 2
    assert abs(mv - 4100) < 5 and flags & 4
    # the rails the Core2 needs were applied from the board file
    axp = devs[0][0x34]
    assert axp.rail_on(6) and axp.dcdc1_mv() == 3350
    # 1024 samples at the chip's 1 kHz take 1024 ms of virtual time; z sits at 1 g (8192 counts at +-4 g)
    dt_h, mean_h, var_h = (int(v) for v in lines["healthy"])
    dt_f, mean_f, var_f = (int(v) for v in lines["failing"])
    assert 1024 <= dt_h <= 1060 and abs(mean_h - 8192) < 100
    assert var_f > 20 * var_h, "the failing bearing's bursts must dominate the window's variance"
    assert lines["uart"] == ["True", "None"]
    assert clock.now_ms() - t0 > 4 * 3600 * 1000


def test_core2_board_reports_a_missing_unit_without_losing_the_others(tmp_path):
    board = boards.load("m5stack-core2")
    clock = VirtualClock()
    env = Environment.from_dict({"faults": [{"kind": "removed", "chip": "qmp6988"}]}, t0_ms=clock.now_ms())
    bus = HwBus(clock, i2c=build_bus_devices(board, clock, env))
    (tmp_path / "board.json").write_text(board.path.read_text())
    try:
        r = run(f"import board; b = board.load({str(tmp_path / 'board.json')!r}); "
                "print(sorted(b.sensors)); print(b.errors['qmp6988'])", bus=bus)
    finally:
        bus.close()
    assert r.rc == 0, r.err
    out = r.out.splitlines()
    assert out[0] == "['axp192', 'mpu6886', 'sht3x']"
    assert "0x70" in out[1]


def test_environment_sources_faults_and_csv(tmp_path):
    csv = tmp_path / "load.csv"
    csv.write_text("timestamp,value\n2014-04-01 00:00:00,1.0\n2014-04-01 00:05:00,3.0\n")
    env = Environment.from_dict({
        "seed": 3,
        "quantities": {
            "current_a": {"csv": {"path": "load.csv"}},
            "temperature_c": {"sum": [20.0, {"sine": {"amplitude": 2.0, "period_s": 400}}]},
            "pressure_pa": {"ramp": {"from": 100000, "to": 99000, "start_s": 10, "over_s": 100}},
            "light_lux": {"steps": [[0, 5], [50, 500]]},
        },
        "faults": [{"kind": "stuck", "quantity": "temperature_c", "start_s": 100},
                   {"kind": "drift", "quantity": "light_lux", "per_hour": 3600, "start_s": 60},
                   {"kind": "noise", "quantity": "humidity_pct", "std": 1.0}],
    }, t0_ms=0, base=tmp_path)
    assert env.value_at("current_a", 150) == pytest.approx(2.0)
    assert env.value_at("temperature_c", 100) == pytest.approx(20.0 + 2 * math.sin(math.pi / 2))
    assert env.value_at("temperature_c", 300) == env.value_at("temperature_c", 100)  # stuck at its value
    assert env.value_at("pressure_pa", 60) == pytest.approx(99500)
    assert env.value_at("light_lux", 40) == 5 and env.value_at("light_lux", 70) == pytest.approx(510)
    hum = [env.value_at("humidity_pct", t / 1000) for t in range(2000)]
    assert 0.8 < (sum((h - 45) ** 2 for h in hum) / len(hum)) ** 0.5 < 1.2
    assert env.value_at("humidity_pct", 1.5) == env.value_at("humidity_pct", 1.5)  # repeatable


@pytest.mark.parametrize("bad,field", [
    ({"quantities": {"t": {"sine": {"amplitude": 1}}}}, "quantities.t.sine.period_s"),
    ({"faults": [{"kind": "melt", "quantity": "t"}]}, "faults[0].kind"),
    ({"faults": [{"kind": "removed"}]}, "faults[0].chip"),
    ({"quantities": {"x": {"csv": "nope.csv"}}}, "quantities.x.csv"),
    ({"vibration": {"bearing": {"defect_hz": 0}}}, "vibration.bearing"),
    ({"weather": 1}, "unknown key"),
])
def test_environment_rejects_malformed_sections_naming_the_field(bad, field, tmp_path):
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Environment.from_dict(bad, base=tmp_path)
