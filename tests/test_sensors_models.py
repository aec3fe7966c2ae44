"""The real drivers under MicroPython against the register-level models on a HwBus (simulated hardware)."""

import json

from fieldnode import boards
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.physics import Environment, core2_demo
from fieldnode.sim.runtime import run
from fieldnode.sim.sensors import MODELS, build_adc, build_bus_devices
from fieldnode.sim.sensors.base import crc8


def on_bus(code, i2c=None, adc=None, clock=None):
    clock = clock or VirtualClock()
    bus = HwBus(clock, i2c=i2c or {}, adc=adc or {})
    try:
        r = run(code, bus=bus)
    finally:
        bus.close()
    assert r.rc == 0, r.out + r.err
    return r.out.split()


def test_models_are_registered_and_answer_identity():
    clock = VirtualClock()
    env = Environment()
    ids = {"qmp6988": (0xD1, 0x5C), "bmp280": (0xD0, 0x58), "mpu6886": (0x75, 0x19), "axp192": (0x03, 0x03)}
    for name, (reg, val) in ids.items():
        m = MODELS[name](clock, None, env)
        assert m.write(bytes([reg])) and m.read(1) == bytes([val])
    assert crc8(b"\xbe\xef") == 0x92


def test_sht3x_model_nacks_until_the_measurement_is_done_then_sends_crc_words():
    clock = VirtualClock()
    env = Environment.from_dict({"quantities": {"temperature_c": 23.5, "humidity_pct": 61.25}})
    i2c = {0: {0x44: MODELS["sht3x"](clock, 0x44, env)}}
    out = on_bus("""
import machine, time
i2c = machine.I2C(0)
i2c.writeto(0x44, b'\\x24\\x00')
for wait in (0, 14, 1):
    time.sleep_ms(wait)
    try:
        d = i2c.readfrom(0x44, 6)
        print('data', d[0] << 8 | d[1], d[2], d[3] << 8 | d[4], d[5])
    except OSError as e:
        print('nack', e.errno)
try:
    i2c.readfrom(0x44, 6)
except OSError as e:
    print('empty', e.errno)
from sensors.sht3x import SHT3x
print(*SHT3x(i2c).read())
""", i2c, clock=clock)
    # high repeatability: up to 15 ms (SHT3x Table 4): NACK at 0 and 14 ms, data at 15 ms
    assert out[:4] == ["nack", "19", "nack", "19"]
    st, st_crc, srh, srh_crc = (int(v) for v in out[5:9])
    assert st == round((23.5 + 45) * 65535 / 175) and st_crc == crc8(st.to_bytes(2, "big"))
    assert srh == round(61.25 * 65535 / 100) and srh_crc == crc8(srh.to_bytes(2, "big"))
    assert out[9:11] == ["empty", "19"]  # the data was read once; nothing waits any more
    assert abs(int(out[11]) - 2350) <= 1 and abs(int(out[12]) - 6125) <= 1


def test_pressure_drivers_recover_the_scenarios_values_through_models():
    clock = VirtualClock()
    env = Environment.from_dict({"quantities": {"temperature_c": -7.25, "pressure_pa": 96123.0}})
    i2c = {1: {0x76: MODELS["bmp280"](clock, 0x76, env), 0x70: MODELS["qmp6988"](clock, 0x70, env)}}
    out = on_bus("""
import machine
from sensors.bmp280 import BMP280
from sensors.qmp6988 import QMP6988
i2c = machine.I2C(1)
b = BMP280(i2c, 0x76)
q = QMP6988(i2c, 0x70)
print(*b.read())
print(*q.read())
""", i2c, clock=clock)
    bt, bp, qt, qp = (int(v) for v in out)
    assert abs(bt - (-725)) <= 1 and abs(bp - 96123) <= 1
    assert abs(qt - (-725)) <= 1 and abs(qp - 96123) <= 1


def test_power_and_metering_chips_through_models():
    clock = VirtualClock()
    env = Environment.from_dict({"quantities": {"battery_v": 3.87, "battery_ma": 120.0, "vbus_v": 5.0,
                                                "bus_voltage_v": 24.0, "current_a": 1.25}})
    i2c = {0: {0x34: MODELS["axp192"](clock, 0x34, env), 0x41: MODELS["ina219"](clock, 0x41, env)}}
    out = on_bus("""
import machine
from sensors.axp192 import AXP192
from sensors.ina219 import INA219
i2c = machine.I2C(0)
p = AXP192(i2c)
p.set_rails({'dcdc1_mv': 3350, 'ldo2_mv': 3300, 'exten': True})
print(*p.read())
print(*INA219(i2c, 0x41, shunt_mohm=100).read())
""", i2c, clock=clock)
    axp = i2c[0][0x34]
    assert axp.dcdc1_mv() == 3350 and axp.ldo2_mv() == 3300 and axp.rail_on(6) and axp.rail_on(2)
    mv, ma, flags = (int(v) for v in out[:3])
    assert abs(mv - 3870) <= 2 and ma == 120 and flags == 1 | 2 | 4
    bus_mv, shunt_uv, cur_ua, pow_uw = (int(v) for v in out[3:])
    assert bus_mv == 24000 and shunt_uv == 125000
    assert abs(cur_ua - 1_250_000) <= 100 and abs(pow_uw - 30_000_000) <= 30_000


def test_removed_and_failing_chips_raise_oserror_naming_the_address():
    clock = VirtualClock()
    env = Environment.from_dict({"faults": [
        {"kind": "removed", "chip": "sht3x", "start_s": 1},
        {"kind": "bus_error", "chip": "0x70", "start_s": 0, "end_s": 5}]}, t0_ms=clock.now_ms())
    i2c = {1: {0x44: MODELS["sht3x"](clock, 0x44, env), 0x70: MODELS["qmp6988"](clock, 0x70, env)}}
    out = on_bus("""
import machine, time
from sensors.sht3x import SHT3x
from sensors.qmp6988 import QMP6988
i2c = machine.I2C(1)
s = SHT3x(i2c)
print('before', s.read()[1] > 0, i2c.scan())
time.sleep_ms(1000)
print(i2c.scan())
try:
    s.read()
except OSError as e:
    print('gone', e.args[0])
try:
    SHT3x(i2c)
except OSError as e:
    print('absent', e.args[0], e.args[1].split()[-1])
try:
    QMP6988(i2c)
except OSError as e:
    print('bus', e.args[1].split()[-1])
time.sleep_ms(5000)
print('back', QMP6988(i2c).read()[1] > 90000)
""", i2c, clock=clock)
    assert out[:4] == ["before", "True", "[68,", "112]"]
    assert out[4] == "[112]"  # scan no longer sees 0x44
    assert out[5:7] == ["gone", "19"]
    assert out[7:10] == ["absent", "19", "0x44"]
    assert out[10:12] == ["bus", "0x70"]
    assert out[12:] == ["back", "True"]


def test_current_transformer_rms_through_the_adc():
    clock = VirtualClock()
    env = Environment.from_dict({"quantities": {"current_a": 10.0, "mains_hz": 50.0}}, t0_ms=clock.now_ms())
    board = {"sensors": [{"type": "adc", "pin": 36, "kind": "ct", "turns": 2000, "burden_ohm": 33}]}
    out = on_bus("""
from sensors.adc import AnalogSensor
print(*AnalogSensor(36, kind='ct', turns=2000, burden_ohm=33).read())
""", adc=build_adc(board, env), clock=clock)
    rms_mv, ma = int(out[0]), int(out[1])
    # 10 A / 2000 turns x 33 ohm = 165 mV RMS
    assert abs(rms_mv - 165) <= 3 and abs(ma - 10000) <= 250


def test_build_bus_devices_keys_hardware_id_and_softi2c_sda():
    b = boards.load("m5stack-core2")
    clock = VirtualClock()
    devs = build_bus_devices(b, clock, Environment())
    assert set(devs[0]) == {0x34, 0x68} and set(devs[1]) == {0x44, 0x70}
    assert devs[0x80 | 21] is not None and devs[0x80 | 32][0x44] is devs[1][0x44]
    assert json.dumps(sorted(devs))  # plain ints as keys
    env = Environment.from_dict(core2_demo())
    assert env.vibration.bearing is not None


def test_mpu6886_window_is_the_same_bytes_as_sample_by_sample():
    # The FIFO model computes a window's acceleration at once (numpy, Environment.accel_many): every record must be
    # the bytes _sample gives for its instant, with noise, a ringing bearing, gyro and temperature faults and sources.
    from fieldnode.sim.sensors.mpu6886 import MPU6886

    base = core2_demo(bearing_start_s=5.0, seed=7)
    base["quantities"]["gyro_dps_y"] = {"sine": {"mean": 1.5, "amplitude": 40.0, "period_s": 0.05}}
    base["faults"] = base.get("faults", []) + [
        {"kind": "noise", "quantity": "gyro_dps_x", "std": 3.0},
        {"kind": "drift", "quantity": "temperature_c", "per_hour": 900.0, "start_s": 5.5, "end_s": 6.05},
        {"kind": "offset", "quantity": "gyro_dps_z", "value": 2.5, "start_s": 6.01}]
    stuck = dict(base, faults=[{"kind": "stuck", "quantity": "temperature_c", "start_s": 6.0},
                               {"kind": "stuck", "quantity": "accel_g", "start_s": 6.02}])
    for env_d, fs in ((base, 0x18), (stuck, 0x10), (core2_demo(seed=3), 0x00), ({"vibration": {"noise_g": 0.0}}, 0x08)):
        env = Environment.from_dict(env_d, t0_ms=0)
        m = MPU6886(VirtualClock(), None, env)
        m.regs[0x1C], m.regs[0x1B] = fs, fs  # full-scale ranges
        for start, per, n in ((4000.0, 1.0, 300), (5990.3, 0.125, 200), (6000.0, 1.000037, 97)):
            assert m._samples(start, per, n) == [m._sample(start + i * per) for i in range(n)]
