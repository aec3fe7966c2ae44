"""The sensor models audited against their datasheets: modes, status flags and registers a driver or a user could
read, each test a transaction and the bytes the datasheet gives (the section is cited in the model)."""

from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.physics import Environment
from fieldnode.sim.sensors.axp192 import AXP192
from fieldnode.sim.sensors.base import crc8
from fieldnode.sim.sensors.bmp280 import BMP280
from fieldnode.sim.sensors.ina219 import CONFIG_RESET, INA219
from fieldnode.sim.sensors.qmp6988 import QMP6988
from fieldnode.sim.sensors.sht3x import SHT3x


def env(**q):
    return Environment.from_dict({"quantities": q})


def cmd(dev, c):
    return dev.write(bytes((c >> 8, c & 0xFF)))


def reg(dev, r, n=1):
    dev.write(bytes([r]))
    return dev.read(n)


# -- SHT3x ----------------------------------------------------------------------------------------------------
def test_sht3x_periodic_mode_and_fetch():
    clock = VirtualClock()
    s = SHT3x(clock, 0x44, env(temperature_c=25.0, humidity_pct=50.0))
    assert cmd(s, 0x2130)  # 1 measurement per second, high repeatability (Table 10)
    assert cmd(s, 0xE000) and s.read(6) is None  # nothing measured yet: the read header is not acknowledged
    clock.advance(20)
    assert cmd(s, 0xE000)
    data = s.read(6)
    assert data is not None and crc8(data[0:2]) == data[2] and crc8(data[3:5]) == data[5]
    assert cmd(s, 0xE000) and s.read(6) is None  # fetched already: no new data until the next period
    clock.advance(1000)
    assert cmd(s, 0xE000) and s.read(6) is not None


def test_sht3x_art_is_periodic_at_4_hz():
    clock = VirtualClock()
    s = SHT3x(clock, 0x44, env())
    cmd(s, 0x2B32)
    got = 0
    for _ in range(8):
        clock.advance(125)
        cmd(s, 0xE000)
        got += s.read(6) is not None
    assert got == 4  # one second, four measurements


def test_sht3x_periodic_mode_refuses_single_shot_until_break():
    clock = VirtualClock()
    s = SHT3x(clock, 0x44, env())
    cmd(s, 0x2032)
    cmd(s, 0x2400)  # single shot while periodic: not processed (status bit 1)
    cmd(s, 0xF32D)
    st = s.read(3)
    assert (st[0] << 8 | st[1]) & 0x0002
    cmd(s, 0x3093)  # break: single shot again
    cmd(s, 0x2400)
    clock.advance(16)
    assert s.read(6) is not None


# -- BMP280 ---------------------------------------------------------------------------------------------------
def test_bmp280_normal_mode_cycles_with_t_sb():
    clock = VirtualClock()
    b = BMP280(clock, 0x76, env(temperature_c=20.0, pressure_pa=100000.0))
    b.write(bytes([0xF5, 0xA0]))  # t_sb 101 = 1000 ms, filter off
    b.write(bytes([0xF4, 0x27]))  # osrs_t x1, osrs_p x1, normal mode
    assert reg(b, 0xF3)[0] & 0x08  # measuring
    clock.advance(10)
    assert reg(b, 0xF3)[0] == 0x00  # standby
    assert reg(b, 0xFA, 3) != b"\x80\x00\x00"  # a result, not the skipped/reset code
    assert reg(b, 0xF4)[0] & 0x03 == 0x03  # normal mode does not fall back to sleep
    clock.advance(1000)
    assert reg(b, 0xF3)[0] & 0x08  # the next measurement of the cycle


def test_bmp280_im_update_after_reset():
    clock = VirtualClock()
    b = BMP280(clock, 0x76, env())
    b.write(bytes([0xE0, 0xB6]))
    assert reg(b, 0xF3)[0] == 0x01  # NVM copied to the image registers
    clock.advance(2)
    assert reg(b, 0xF3)[0] == 0x00


def test_bmp280_resolution_follows_oversampling_without_filter():
    clock = VirtualClock()
    b = BMP280(clock, 0x76, env(temperature_c=21.37, pressure_pa=100123.0))
    b.write(bytes([0xF4, 0x25]))  # x1 / x1, forced: 16-bit results, xlsb reads 0
    clock.advance(10)
    raw = reg(b, 0xF7, 6)
    assert raw[2] == 0 and raw[5] == 0
    b.write(bytes([0xF5, 0x10]))  # filter coefficient 4: 20-bit results
    b.write(bytes([0xF4, 0x25]))
    clock.advance(10)
    raw = reg(b, 0xF7, 6)
    assert raw[2] != 0 or raw[5] != 0


# -- QMP6988 --------------------------------------------------------------------------------------------------
def test_qmp6988_normal_mode_keeps_measuring():
    clock = VirtualClock()
    q = QMP6988(clock, 0x70, env(temperature_c=20.0, pressure_pa=100000.0))
    q.write(bytes([0xF5, 0xA0]))  # t_standby 101 = 1 s
    q.write(bytes([0xF4, 0x27]))  # temp x1, press x1, normal
    clock.advance(5)
    assert reg(q, 0xF3)[0] == 0x00 and reg(q, 0xF4)[0] & 3 == 3
    first = reg(q, 0xF7, 3)
    assert first != b"\x00\x00\x00"
    clock.advance(1000)
    assert reg(q, 0xF3)[0] & 0x08  # measuring again


# -- INA219 ---------------------------------------------------------------------------------------------------
def test_ina219_cnvr_set_by_a_conversion_and_cleared_by_power_read():
    clock = VirtualClock()
    m = INA219(clock, 0x40, env(current_a=0.5, bus_voltage_v=12.0))
    clock.advance(2)  # 12-bit shunt + bus: 1.064 ms
    bus = int.from_bytes(reg(m, 0x02, 2), "big")
    assert bus & 0x02 and (bus >> 3) * 4 == 12000
    reg(m, 0x03, 2)  # reading power clears CNVR
    assert not int.from_bytes(reg(m, 0x02, 2), "big") & 0x02
    assert int.from_bytes(reg(m, 0x02, 2), "big") & 0x02 == 0  # still no new conversion at the same instant
    clock.advance(2)
    assert int.from_bytes(reg(m, 0x02, 2), "big") & 0x02


def test_ina219_power_down_and_triggered_modes():
    clock = VirtualClock()
    e = env(current_a=0.5, bus_voltage_v=12.0)
    m = INA219(clock, 0x40, e)
    m.write(bytes([0x00, (CONFIG_RESET & ~7) >> 8, (CONFIG_RESET & ~7) & 0xFF]))  # power-down
    assert int.from_bytes(reg(m, 0x00, 2), "big") == CONFIG_RESET & ~7
    trig = (CONFIG_RESET & ~7) | 0x03  # shunt and bus, triggered
    m.write(bytes([0x00, trig >> 8, trig & 0xFF]))
    assert not int.from_bytes(reg(m, 0x02, 2), "big") & 0x02  # not yet converted
    clock.advance(2)
    bus = int.from_bytes(reg(m, 0x02, 2), "big")
    assert bus & 0x02 and (bus >> 3) * 4 == 12000
    reg(m, 0x03, 2)
    clock.advance(50)
    assert not int.from_bytes(reg(m, 0x02, 2), "big") & 0x02  # triggered: one conversion, no more


def test_ina219_ovf_when_the_current_overflows():
    clock = VirtualClock()
    m = INA219(clock, 0x40, env(current_a=3.0, bus_voltage_v=12.0))
    m.write(bytes([0x05, 0xFF, 0xFE]))  # a calibration far too large for 3 A through 0.1 ohm
    clock.advance(2)
    assert int.from_bytes(reg(m, 0x02, 2), "big") & 0x01


# -- AXP192 ---------------------------------------------------------------------------------------------------
def test_axp192_power_status_vbus_usable_and_above_vhold():
    a = AXP192(VirtualClock(), 0x34, env(vbus_v=5.0, battery_v=3.9, battery_ma=100.0))
    assert reg(a, 0x00)[0] == 0x20 | 0x10 | 0x08 | 0x04


def test_axp192_irq_status_write_one_to_clear():
    clock = VirtualClock()
    e = Environment.from_dict({"quantities": {"vbus_v": {"steps": [[0, 0.0], [1, 5.0]]}}})
    a = AXP192(clock, 0x34, e)
    reg(a, 0x44)
    clock.advance(2000)
    assert reg(a, 0x44)[0] & 0x08  # VBUS inserted
    a.write(bytes([0x44, 0x08]))
    assert reg(a, 0x44)[0] & 0x08 == 0


def test_axp192_aps_voltage_and_internal_temperature():
    a = AXP192(VirtualClock(), 0x34, env(battery_v=3.9, vbus_v=0.0, temperature_c=25.0))
    hi, lo = reg(a, 0x7E, 2)
    assert abs(((hi << 4) | lo) * 1.4 - 3900) < 2
    hi, lo = reg(a, 0x5E, 2)
    assert abs(-144.7 + ((hi << 4) | lo) * 0.1 - 25.0) < 0.11
