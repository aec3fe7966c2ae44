"""TDK InvenSense MPU-6886 accelerometer and gyroscope (M5Stack Core2, StickC), with FIFO capture of
vibration windows at a fixed rate.

    from array import array
    from sensors.mpu6886 import MPU6886
    imu = MPU6886(i2c, addr=0x68, rate_hz=1000, accel_fs_g=4)   # OSError naming the address if absent
    x, y, z = array("h", bytes(2048)), array("h", bytes(2048)), array("h", bytes(2048))
    imu.read_window(x, y, z)           # 1024 consecutive samples at exactly the chip's 1 kHz, in counts
    imu.read_accel_into(out)           # one snapshot: out[0..2] in counts (accel_lsb_per_g() counts per g)

Datasheet: TDK InvenSense MPU-6886 DS-000193. WHO_AM_I 0x75 = 0x19. Sample rate = 1 kHz / (1 + SMPLRT_DIV)
with FCHOICE_B = 0 and DLPF_CFG = 1 (register 0x19, 0x1A); accelerometer low-pass A_DLPF_CFG = 1 (register 0x1D,
218 Hz 3 dB bandwidth at 1 kHz). The FIFO (1 KB, registers 0x23, 0x6A, 0x72-0x74) records accel (6 bytes),
temperature (2) and gyro (6) bytes per sample at the chip's own sample clock, so the samples in a window are
evenly spaced no matter when the MCU drains the FIFO: the rate and its jitter are the chip's oscillator's, and
the MCU only has to drain the FIFO before 73 records (1024 / 14) accumulate. If it overflows (INT_STATUS bit 4)
the window is discarded and restarted, so a window is always contiguous (``overflows`` counts restarts).
No allocation per window: the burst buffer and its memoryviews are made once.
"""

from micropython import const
import time

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)
_FIFO_EN = const(0x23)
_INT_STATUS = const(0x3A)
_ACCEL_XOUT_H = const(0x3B)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)
_ID = const(0x19)
_REC = const(14)  # accel 6 + temperature 2 + gyro 6 bytes per FIFO record
_CHUNK = const(32)  # records per burst read: 448 bytes, under half the FIFO
_ENODEV = const(19)

_ACCEL_FS = {2: 0, 4: 1, 8: 2, 16: 3}
_GYRO_FS = {250: 0, 500: 1, 1000: 2, 2000: 3}


class MPU6886:
    def __init__(self, i2c, addr=0x68, rate_hz=1000, accel_fs_g=4, gyro_fs_dps=500):
        self.i2c = i2c
        self.addr = addr
        self.wait = time.sleep_ms  # how read_window waits for the FIFO to fill (see there)
        self._b1 = bytearray(1)
        self._b2 = bytearray(2)
        self._buf = bytearray(_CHUNK * _REC)
        mv = memoryview(self._buf)
        self._views = [mv[: n * _REC] for n in range(_CHUNK + 1)]
        try:
            i2c.readfrom_mem_into(addr, _WHO_AM_I, self._b1)
        except OSError:
            raise OSError(_ENODEV, "MPU6886: no answer at I2C address %#x" % addr)
        if self._b1[0] != _ID:
            raise OSError(_ENODEV, "MPU6886: WHO_AM_I %#x at %#x is not an MPU6886 (0x19)" % (self._b1[0], addr))
        if accel_fs_g not in _ACCEL_FS or gyro_fs_dps not in _GYRO_FS:
            raise ValueError("MPU6886: accel_fs_g must be 2/4/8/16 and gyro_fs_dps 250/500/1000/2000")
        if not 4 <= rate_hz <= 1000 or 1000 % rate_hz:
            raise ValueError("MPU6886: rate_hz must divide 1000 (1000, 500, 250, 200, ... 4)")
        self.rate_hz = rate_hz
        self.accel_fs_g = accel_fs_g
        self.overflows = 0
        self._write(_PWR_MGMT_1, 0x80)  # DEVICE_RESET
        time.sleep_ms(10)
        self._write(_PWR_MGMT_1, 0x01)  # awake, auto-select the best clock
        time.sleep_ms(10)
        self._write(_CONFIG, 0x01)  # DLPF_CFG 1, FIFO_MODE 0
        self._write(_GYRO_CONFIG, _GYRO_FS[gyro_fs_dps] << 3)  # FCHOICE_B 00
        self._write(_ACCEL_CONFIG, _ACCEL_FS[accel_fs_g] << 3)
        self._write(_ACCEL_CONFIG2, 0x01)  # A_DLPF_CFG 1
        self._write(_SMPLRT_DIV, 1000 // rate_hz - 1)

    def accel_lsb_per_g(self):
        return 32768 // self.accel_fs_g

    def _write(self, reg, v):
        self._b1[0] = v
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def read_accel_into(self, out):
        """out[0..2] = acceleration x, y, z in counts (one burst read of 0x3B..0x40)."""
        b = self._views[1]
        self.i2c.readfrom_mem_into(self.addr, _ACCEL_XOUT_H, b)
        for i in range(3):
            v = (b[2 * i] << 8) | b[2 * i + 1]
            out[i] = v - 0x10000 if v & 0x8000 else v

    def _fifo_restart(self):
        self._write(_USER_CTRL, 0x04)  # FIFO_RST
        self._write(_FIFO_EN, 0x18)  # gyro (+temp) and accel
        self._write(_USER_CTRL, 0x40)  # FIFO_EN
        self.i2c.readfrom_mem_into(self.addr, _INT_STATUS, self._b1)  # clears a stale overflow flag

    def _fifo_count(self):
        self.i2c.readfrom_mem_into(self.addr, _FIFO_COUNTH, self._b2)
        return ((self._b2[0] & 0x1F) << 8) | self._b2[1]

    def read_window(self, ax, ay, az, n=-1):
        """Fill ax, ay, az (array('h')) with n consecutive accelerometer samples (default: their length).

        Waits with ``self.wait`` (time.sleep_ms unless the caller sets another, e.g. machine.lightsleep: the FIFO
        keeps sampling at the chip's clock while the MCU sleeps at 0.8 mA instead of idling at tens of mA), so on
        the virtual board time passes as on the chip.
        Returns the number of samples (n). Raises OSError if the bus fails."""
        if n < 0:
            n = len(ax)
        # one name per line: a 4-item tuple assignment would build (allocate) a tuple
        i2c = self.i2c
        addr = self.addr
        views = self._views
        buf = self._buf
        per_ms = 1000 // self.rate_hz
        self._fifo_restart()
        got = 0
        while got < n:
            avail = self._fifo_count() // _REC
            if avail == 0:
                want = n - got
                self.wait(per_ms * (want if want < _CHUNK else _CHUNK))
                continue
            i2c.readfrom_mem_into(addr, _INT_STATUS, self._b1)
            if self._b1[0] & 0x10:  # FIFO_OFLOW_INT: samples were lost, the window is no longer contiguous
                self.overflows += 1
                self._fifo_restart()
                got = 0
                continue
            k = avail if avail < _CHUNK else _CHUNK
            if k > n - got:
                k = n - got
            i2c.readfrom_mem_into(addr, _FIFO_R_W, views[k])
            j = 0
            for _ in range(k):
                v = (buf[j] << 8) | buf[j + 1]
                ax[got] = v - 0x10000 if v & 0x8000 else v
                v = (buf[j + 2] << 8) | buf[j + 3]
                ay[got] = v - 0x10000 if v & 0x8000 else v
                v = (buf[j + 4] << 8) | buf[j + 5]
                az[got] = v - 0x10000 if v & 0x8000 else v
                got += 1
                j += _REC
        self._write(_USER_CTRL, 0x00)  # stop the FIFO between windows
        return n
