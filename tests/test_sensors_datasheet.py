"""Drivers under the real MicroPython runtime against the datasheets' worked examples and hand-written fakes.

The fakes here are written from the datasheets, independently of the simulator's models: they hold register
bytes, answer reads with them and NACK (OSError 19) what the part would NACK. They also allocate nothing, so the
gc.mem_alloc() deltas measure the drivers alone.
"""

import pytest
from conftest import run_mpy

FAKES = r"""
import gc
from array import array

def alloc(fn, n):
    # bytes allocated by n calls of fn (a module-level loop would allocate its loop variable as a global)
    gc.collect()
    a = gc.mem_alloc()
    for i in range(n):
        fn()
    return gc.mem_alloc() - a

class FakeRegs:
    # A register-pointer I2C part: readfrom_mem_into copies from regs[reg...], writeto_mem stores.
    def __init__(self, addr, regs):
        self.addr = addr
        self.regs = regs
        self.writes = 0
    def _chk(self, addr):
        if addr != self.addr:
            raise OSError(19)
    def readfrom_mem_into(self, addr, reg, buf):
        self._chk(addr)
        for i in range(len(buf)):
            buf[i] = self.regs[(reg + i) & 0xFF]
    def writeto_mem(self, addr, reg, buf):
        self._chk(addr)
        self.writes += 1
        for i in range(len(buf)):
            self.regs[(reg + i) & 0xFF] = buf[i]

class FakeSHT:
    # SHT3x: command writes, then a 6-byte read of T, CRC, RH, CRC (datasheet example words).
    def __init__(self, addr, data, status):
        self.addr = addr
        self.data = data
        self.status = status
        self.cur = data
    def writeto(self, addr, cmd):
        if addr != self.addr:
            raise OSError(19)
        self.cur = self.status if cmd[0] == 0xF3 else self.data
    def readfrom_into(self, addr, buf):
        if addr != self.addr:
            raise OSError(19)
        for i in range(len(buf)):
            buf[i] = self.cur[i]
"""


def run(code):
    return run_mpy(FAKES + code).check().split()


def test_sht3x_crc_is_the_datasheets_example_and_conversion_exact():
    out = run("""
from sensors import sht3x
print(hex(sht3x.crc8(b'\\xbe\\xef', 0, 2)))
for raw in (0, 1, 0x6666, 0xABCD, 0xFFFF):
    print(sht3x.to_centi_c(raw), sht3x.to_centi_pct(raw))
""")
    assert out[0] == "0x92"  # SHT3x datasheet section 4.12, Table 19: CRC(0xBEEF) = 0x92
    vals = [int(v) for v in out[1:]]
    for i, raw in enumerate((0, 1, 0x6666, 0xABCD, 0xFFFF)):
        # T = -45 + 175 * S / 65535 (section 4.13), floored to 0.01 degC; RH likewise
        assert vals[2 * i] == -4500 + (17500 * raw) // 65535
        assert vals[2 * i + 1] == (10000 * raw) // 65535


def test_sht3x_reads_fake_checks_crc_and_names_missing_address():
    out = run("""
from sensors.sht3x import SHT3x, crc8
def word(v):
    b = bytes([v >> 8, v & 0xFF])
    return b + bytes([crc8(b, 0, 2)])
good = word(0x6666) + word(0x8000)
f = FakeSHT(0x44, good, word(0x8010))
s = SHT3x(f)
print(s.status, s.read()[0], s.read()[1])
out = array('i', [0, 0])
print(alloc(lambda: s.read_into(out), 20))
bad = bytearray(good); bad[2] ^= 1
f.data = bytes(bad)
try:
    s.read()
except OSError as e:
    print('crc', e.args[0])
try:
    SHT3x(FakeSHT(0x45, good, word(0)), 0x44)
except OSError as e:
    print('absent', e.args[0], e.args[1].split()[-1])
""")
    assert out[0] == str(0x8010)
    assert int(out[1]) == -4500 + (17500 * 0x6666) // 65535 and int(out[2]) == 5000
    assert out[3] == "0", "read_into allocated"
    assert out[4:6] == ["crc", "5"]
    assert out[6:9] == ["absent", "19", "0x44"]


def test_bmp280_datasheet_compensation_example():
    # BMP280 datasheet section 3.12: dig_T1..dig_P9 and adc_T = 519888, adc_P = 415148 give t_fine = 128422,
    # T = 25.08 degC and p = 100653.27 Pa (floating point); the 64-bit integer code agrees to a fraction of a Pa.
    out = run("""
from sensors import bmp280
c = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
t, tf = bmp280.compensate_t(c, 519888)
p = bmp280.compensate_p(c, 415148, tf)
print(t, tf, p)
""")
    t, tf, p = (int(v) for v in out)
    assert (t, tf) == (2508, 128422)
    assert abs(p / 256 - 100653.27) < 0.05


def _bmp280_regs():
    calib = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
    regs = bytearray(256)
    for i, v in enumerate(calib):
        regs[0x88 + 2 * i:0x8A + 2 * i] = (v & 0xFFFF).to_bytes(2, "little")
    regs[0xD0] = 0x58
    adc_p, adc_t = 415148, 519888
    regs[0xF7:0xFD] = bytes([adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4,
                             adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4])
    return regs


def test_bmp280_driver_on_fake_reads_example_and_checks_identity():
    regs = _bmp280_regs()
    out = run(f"""
from sensors.bmp280 import BMP280
f = FakeRegs(0x76, bytearray({bytes(regs)!r}))
b = BMP280(f)
print(b.read()[0], b.read()[1], b.adc_t, b.adc_p, f.regs[0xF4])
print(alloc(b.measure, 10))
f.regs[0xD0] = 0x60
try:
    BMP280(f)
except OSError as e:
    print('id', e.args[1].split()[3])
try:
    BMP280(f, 0x77)
except OSError as e:
    print('absent', e.args[1].split()[-1])
""")
    assert out[:5] == ["2508", "100653", "519888", "415148", str(0x2D)]
    assert out[5] == "0", "measure() allocated"
    assert out[6:] == ["id", "0x60", "absent", "0x77"]


def test_qmp6988_exact_conversion_matches_the_datasheet_formula():
    """The driver's integer evaluation against the datasheet's real-number formula (evaluated here in CPython
    floats from the A/S table, independently of the driver) for a hand-made OTP."""
    otp = dict(b00=-120000, bt1=-20000, bt2=3000, bp1=-15000, b11=32000, bp2=-32000, b12=100, b21=-2000,
               bp3=30000, a0=-30000, a1=20000, a2=-5000)
    AS = {"a1": (-6.30e-03, 4.30e-04), "a2": (-1.90e-11, 1.20e-10), "bt1": (1.00e-01, 9.10e-02),
          "bt2": (1.20e-08, 1.20e-06), "bp1": (3.30e-02, 1.90e-02), "b11": (2.10e-07, 1.40e-07),
          "bp2": (-6.30e-10, 3.50e-10), "b12": (2.90e-13, 7.60e-13), "b21": (2.10e-15, 1.20e-14),
          "bp3": (1.30e-16, 7.90e-17)}
    k = {n: a + s * otp[n] / 32767 for n, (a, s) in AS.items()}
    cases = [(-2_000_000, 3_000_000), (500_000, -1_000_000), (0, 0), (1_234_567, 2_345_678)]
    b = bytearray(25)
    for i, n in enumerate(("bt1", "bt2", "bp1", "b11", "bp2", "b12", "b21", "bp3")):
        b[2 + 2 * i:4 + 2 * i] = (otp[n] & 0xFFFF).to_bytes(2, "big")
    b00, a0 = otp["b00"] & 0xFFFFF, otp["a0"] & 0xFFFFF
    b[0], b[1], b[18], b[19] = b00 >> 12, (b00 >> 4) & 0xFF, a0 >> 12, (a0 >> 4) & 0xFF
    b[20:22], b[22:24] = (otp["a1"] & 0xFFFF).to_bytes(2, "big"), (otp["a2"] & 0xFFFF).to_bytes(2, "big")
    b[24] = ((b00 & 0xF) << 4) | (a0 & 0xF)
    out = run(f"""
from sensors import qmp6988
otp = qmp6988.parse_otp({bytes(b)!r})
print(otp[0], otp[1], otp[11])
k = qmp6988.coefficients(otp)
for dt, dp in {cases!r}:
    t, p = qmp6988.compensate(otp, k, dt, dp)
    print(t, p)
""")
    assert [int(v) for v in out[:3]] == [otp["b00"], otp["a0"], otp["a2"]]
    for i, (dt, dp) in enumerate(cases):
        tr = otp["a0"] / 16 + k["a1"] * dt + k["a2"] * dt * dt
        pr = (otp["b00"] / 16 + k["bt1"] * tr + k["bp1"] * dp + k["b11"] * tr * dp + k["bt2"] * tr * tr
              + k["bp2"] * dp * dp + k["b12"] * dp * tr * tr + k["b21"] * dp * dp * tr + k["bp3"] * dp ** 3)
        t, p = int(out[3 + 2 * i]), int(out[4 + 2 * i])
        assert abs(t - tr / 256 * 100) <= 1
        assert abs(p - pr) <= 1


def test_mpu6886_fifo_window_from_fake_is_contiguous_and_allocation_free():
    out = run("""
from sensors.mpu6886 import MPU6886
class FakeMPU(FakeRegs):
    # WHO_AM_I 0x19; the FIFO holds 14-byte records whose accel x counts up, one record per read byte group.
    def __init__(self):
        super().__init__(0x68, bytearray(256))
        self.regs[0x75] = 0x19
        self.n = 0
        self.rec = bytearray(14)
    def readfrom_mem_into(self, addr, reg, buf):
        self._chk(addr)
        if reg == 0x72:
            buf[0] = 0x01; buf[1] = 0xC0      # 448 bytes = 32 records waiting
        elif reg == 0x74:
            for i in range(len(buf) // 14):
                v = (self.n - 1000) & 0xFFFF
                j = 14 * i
                buf[j] = v >> 8; buf[j + 1] = v & 0xFF
                buf[j + 2] = 0; buf[j + 3] = 7
                buf[j + 4] = 0x20; buf[j + 5] = 0
                self.n += 1
        else:
            FakeRegs.readfrom_mem_into(self, addr, reg, buf)  # super() would allocate
f = FakeMPU()
imu = MPU6886(f, rate_hz=500, accel_fs_g=8)
print(f.regs[0x19], f.regs[0x1C], f.regs[0x1A], imu.accel_lsb_per_g())
x = array('h', bytes(200)); y = array('h', bytes(200)); z = array('h', bytes(200))
print(alloc(lambda: imu.read_window(x, y, z), 2), x[0], x[99], y[5], z[5], f.regs[0x23], f.regs[0x6A])
try:
    MPU6886(f, 0x69)
except OSError as e:
    print('absent', e.args[1].split()[-1])
f.regs[0x75] = 0x68
try:
    MPU6886(f)
except OSError as e:
    print('id', e.args[1].split()[2])
""")
    assert out[:4] == ["1", str(2 << 3), "1", "4096"]  # 1 kHz / (1 + 1) = 500 Hz; +-8 g
    assert out[4] == "0", "read_window allocated"
    # second window continues the stream: samples 100..199 -> counts -900..-801
    assert out[5:10] == ["-900", "-801", "7", "8192", str(0x18)]  # FIFO_EN (0x23) keeps accel+gyro
    assert out[10] == "0"
    assert out[11:] == ["absent", "0x69", "id", "0x68"]


def test_ina219_and_axp192_on_fakes():
    out = run("""
from sensors.ina219 import INA219
from sensors.axp192 import AXP192, FLAG_CHARGING, FLAG_BATTERY
class FakeINA:
    # 16-bit registers; a reset (bit 15 of 0x00) restores 0x399F (datasheet section 8.6.1)
    def __init__(self):
        self.r = {0: 0x399F, 1: 1500, 2: (12000 // 4) << 3 | 2, 3: 0, 4: 0, 5: 0}
    def writeto_mem(self, addr, reg, buf):
        if addr != 0x40:
            raise OSError(19)
        v = (buf[0] << 8) | buf[1]
        self.r[reg] = 0x399F if reg == 0 and v & 0x8000 else v
        # equations 4 and 5: current = shunt * cal / 4096, power = current * bus / 5000
        self.r[4] = self.r[1] * self.r[5] // 4096
        self.r[3] = self.r[4] * (self.r[2] >> 3) // 5000
    def readfrom_mem_into(self, addr, reg, buf):
        if addr != 0x40:
            raise OSError(19)
        buf[0] = self.r[reg] >> 8; buf[1] = self.r[reg] & 0xFF
fi = FakeINA()
m = INA219(fi, shunt_mohm=100, current_lsb_ua=100)
print(m.cal, fi.r[5])
out = array('i', [0, 0, 0, 0])
print(alloc(lambda: m.read_into(out), 10), out[0], out[1], out[2], out[3])
regs = bytearray(256)
regs[0x03] = 0x03
regs[0x01] = 0x60      # charging, battery present
raw = 3700 * 10 // 11  # 1.1 mV/LSB
regs[0x78] = raw >> 4; regs[0x79] = raw & 0xF
regs[0x7A] = 400 >> 5; regs[0x7B] = 400 & 0x1F   # 200 mA charge
fa = FakeRegs(0x34, regs)
p = AXP192(fa)
p.set_rails({'dcdc1_mv': 3350, 'ldo2_mv': 3300, 'exten': True, 'ldo3': False})
print(regs[0x26], regs[0x28] >> 4, regs[0x12], regs[0x82] & 0xC8)
o = array('i', [0, 0, 0])
print(alloc(lambda: p.read_into(o), 5), o[0], o[1], o[2] == FLAG_CHARGING | FLAG_BATTERY)
try:
    p.rail('ldo9', True)
except ValueError as e:
    print('rail')
""")
    assert out[:2] == ["4096", "4096"]  # 0.04096 / (100 uA x 0.1 ohm), equation 1
    # shunt 1500 x 10 uV = 15 mV over 0.1 ohm = 150 mA; power = 150 mA x 12 V = 1.8 W
    assert out[2:7] == ["0", "12000", "15000", "150000", str(1500 * 4096 // 4096 * 3000 // 5000 * 2000)]
    assert out[7:11] == [str((3350 - 700) // 25), "15", str(0x01 | 0x04 | 0x40), str(0xC8)]
    assert out[11] == "0"
    assert int(out[12]) in (3699, 3700) and out[13:15] == ["200", "True"]
    assert out[15] == "rail"


@pytest.mark.parametrize("module", ["sht3x", "bmp280", "qmp6988", "mpu6886", "axp192", "ina219", "adc"])
def test_driver_imports_cleanly_under_micropython(module):
    out = run_mpy(f"import gc; gc.collect(); a = gc.mem_alloc(); import sensors.{module}; print('ok')").check()
    assert out.strip() == "ok"
