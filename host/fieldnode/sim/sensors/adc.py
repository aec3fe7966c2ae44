"""Analog sources for the ESP32's ADC (not I2C parts): a current transformer and a light sensor.

Each is ``fn(now_ms) -> raw`` as the hardware bus's ``adc`` map wants: 12-bit counts for 0..3.1 V, the span of the
ESP32 ADC at 11 dB attenuation (ESP32 technical reference manual, SAR ADC; the shim's ``read_uv`` uses it).

Current transformer (e.g. a YHDC SCT-013-000, 2000 turns): the secondary current I / turns develops a voltage
across a burden resistor, biased at mid-supply so the AC swing stays inside the ADC range:
v = bias + sqrt(2) * I_rms / turns * burden * sin(2 pi f t), with I_rms from ``current_a`` and f from ``mains_hz``.
Light: a linear sensor (photodiode with a transimpedance stage), v = lux * mv_per_lux, clipped at the span.
"""

import math

FULL_SCALE_V = 3.1


def to_raw(v: float) -> int:
    return max(0, min(4095, int(round(v / FULL_SCALE_V * 4095))))


def ct_source(env, turns: int = 2000, burden_ohm: float = 33.0, bias_v: float = 1.55):
    def fn(now_ms):
        t = env.t(now_ms)
        i = env.value_at("current_a", t)
        f = env.value_at("mains_hz", t)
        return to_raw(bias_v + math.sqrt(2) * i / turns * burden_ohm * math.sin(2 * math.pi * f * t))

    return fn


def light_source(env, mv_per_lux: float = 0.1):
    def fn(now_ms):
        return to_raw(env.value("light_lux", now_ms) * mv_per_lux / 1000.0)

    return fn
