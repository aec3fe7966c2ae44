"""One reading: the board's sensors through their drivers, vibration features through the fixed-point core.

Everything is converted to the report's fixed-point units (proto.schema.MAIN): temperature in centi-degrees,
battery in millivolts, vibration in milli-g. Buffers are allocated once per boot (a wake cycle is one boot).
A sensor that does not answer leaves its fields 0 and sets FLAG_SENSOR_ERR; it never stops the cycle.

Vibration: the MPU6886 fills three int16 windows at its own sample clock (its FIFO); the core computes the
magnitude of each 3-axis sample and the window's features. The reported "rms" is the standard deviation of the
magnitude (the vibration about the static 1 g), "p2p" its peak-to-peak, "zc" its zero crossings about the mean,
"band" the amplitude at the first configured frequency (e.g. shaft speed 1x, a bearing defect frequency).
"""

from array import array

TEMP_TYPES = ("sht3x", "qmp6988", "bmp280")


class Reading:
    def __init__(self):
        self.temp_c100 = 0
        self.rh_c100 = 0
        self.batt_mv = 0
        self.rms_mg = 0
        self.p2p_mg = 0
        self.zc = 0
        self.band_mg = 0
        self.vibration = False
        self.errors = []


def _mg(counts_q4, lsb_per_g):
    # Q4 counts -> milli-g, rounded: counts * 1000 / lsb, with the Q4 folded in
    return (counts_q4 * 1000 + lsb_per_g * 8) // (lsb_per_g * 16)


def take(b, vib_cfg, with_vibration):
    """Read every sensor of board ``b`` (firmware/board.py); return a Reading."""
    r = Reading()
    for name in b.errors:
        r.errors.append(name)
    for t in TEMP_TYPES:
        s = b.sensors.get(t)
        if s is not None:
            try:
                vals = s.read()
                r.temp_c100 = vals[0]
                if t == "sht3x":
                    r.rh_c100 = vals[1]
                break
            except OSError:
                r.errors.append(t)
    pmu = b.sensors.get("axp192")
    if pmu is not None:
        try:
            r.batt_mv = pmu.battery_mv()
        except OSError:
            r.errors.append("axp192")
    imu = b.sensors.get("mpu6886")
    if with_vibration and imu is not None:
        try:
            _vibration(r, imu, vib_cfg)
        except OSError:
            r.errors.append("mpu6886")
    return r


def _vibration(r, imu, vib_cfg):
    from core import features

    n = vib_cfg["samples"]
    ax = array("h", bytes(2 * n))
    ay = array("h", bytes(2 * n))
    az = array("h", bytes(2 * n))
    mag = array("h", bytes(2 * n))
    if vib_cfg.get("lightsleep", 1):
        import machine

        imu.wait = machine.lightsleep  # the FIFO samples on while the CPU sleeps (ESP32: 0.8 mA vs ~30 mA idle)
    imu.read_window(ax, ay, az, n)
    features.magnitude(ax, ay, az, mag)
    fs = getattr(imu, "rate_hz", 1000)
    f = features.Features(fs=fs, bands=tuple(vib_cfg["bands_hz"][:1]), kurtosis=False)
    features.compute(mag, f)
    lsb = imu.accel_lsb_per_g()
    r.rms_mg = _mg(f.v[features.STD], lsb)
    r.p2p_mg = _mg(f.v[features.P2P] * 16, lsb)
    r.zc = f.v[features.ZC]
    if len(f.band):
        r.band_mg = _mg(f.band[0], lsb)
    r.vibration = True
