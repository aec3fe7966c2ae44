"""The ESP32's own ADC: a current transformer (RMS of the mains current) or a light sensor.

    from sensors.adc import AnalogSensor
    ct = AnalogSensor(36, kind="ct", turns=2000, burden_ohm=33)   # SCT-013-000 style CT on a biased burden
    rms_mv, current_ma = ct.read()
    light = AnalogSensor(39, kind="light", mv_per_lux_x1000=100)   # 0.1 mV per lux
    mv, lux = light.read()

machine.ADC with 11 dB attenuation reads about 0..3.1 V (ESP32 technical reference, SAR ADC attenuation);
read_uv() applies the chip's eFuse calibration on the ESP32 port. A current transformer's secondary current
(primary / turns) across the burden resistor gives an AC voltage around a mid-supply bias; the RMS of the samples
minus their mean is V_rms, and I_primary = V_rms / burden x turns. Samples are taken every ``interval_ms`` on
time.sleep_ms (1 ms: 20 samples per 50 Hz cycle); ``samples`` should cover whole mains cycles (100 = 5 cycles at
50 Hz, 6 at 60 Hz). Integer arithmetic in mV keeps every sum a small integer; the buffer is allocated once.
"""

from array import array
import time


def isqrt(n):
    """Integer square root (Newton), for RMS without floats."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


class AnalogSensor:
    def __init__(self, pin, kind="ct", samples=100, interval_ms=1, turns=2000, burden_ohm=33,
                 mv_per_lux_x1000=100):
        from machine import ADC, Pin

        if kind not in ("ct", "light"):
            raise ValueError("adc: kind must be 'ct' or 'light', not %r" % (kind,))
        if not 1 <= samples <= 400:
            raise ValueError("adc: samples must be 1..400 (sums stay small integers)")
        self.kind = kind
        self.adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)
        self.pin = pin
        self.interval_ms = interval_ms
        self.turns = turns
        self.burden_ohm = burden_ohm
        self.mv_per_lux_x1000 = mv_per_lux_x1000
        self._mv = array("h", bytes(2 * samples))

    def read_into(self, out):
        """ct: out[0] = RMS mV of the AC part, out[1] = primary current mA.
        light: out[0] = mean mV, out[1] = lux."""
        mv, adc, n = self._mv, self.adc, len(self._mv)
        total = 0
        for i in range(n):
            v = adc.read_uv() // 1000
            mv[i] = v
            total += v
            if self.kind == "ct":
                time.sleep_ms(self.interval_ms)
        mean = total // n
        if self.kind == "light":
            out[0] = mean
            out[1] = mean * 1000 // self.mv_per_lux_x1000
            return
        ss = 0
        for i in range(n):
            d = mv[i] - mean
            ss += d * d
        rms = isqrt(ss // n)
        out[0] = rms
        out[1] = rms * self.turns // self.burden_ohm

    def read(self):
        out = [0, 0]
        self.read_into(out)
        return out[0], out[1]
