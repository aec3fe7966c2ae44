"""Devices that differ: what makes device i of a fleet unlike device j, drawn from the scenario's seed, and which
devices a fault reaches.

A scenario's ``"variation"`` section (every key optional; a number N is drawn from a normal law N(0, N), a pair
[lo, hi] uniformly, where a line below does not say otherwise)::

    "variation": {
      "sensor_offset": {"temperature_c": 0.3},   # a calibration offset per device and quantity (sd, or [lo, hi])
      "noise": {"humidity_pct": [0.1, 0.6],       # measurement noise per device: a std dev (a number: the same for
                "accel_g": 0.004},                #   all), or [lo, hi]; accel_g is the accelerometer's noise floor
      "clock_ppm": 40,                            # RTC error: a deep sleep of 600 s lasts 600 * (1 + ppm/1e6) s
      "start_phase_s": "10m",                     # first boot at a uniform instant in [0, 10 min): wakes spread out
      "rssi_dbm": [-110, -80],                    # the signal each device's modem hears (uniform integer)
      "cells": {"north": 0.7, "south": 0.3}       # each device sits in one cell (weights; or a list of names)
    }

and a fault (``scenario.py``) reaches every device, or those named by one of ``"device": 1003`` (a device id),
``"share": 0.2`` (that share of the fleet, rounded, at least one device) or ``"cell": "north"``.

Determinism: device i's draws come from a generator seeded with (scenario seed, what, i) alone, so they do not
depend on how many devices the fleet has or which shard runs the device. A shared fault's chosen devices depend on
the fleet's size (a share of it) but never on the shards.

Sources for the magnitudes a user may pick: the ESP32's internal 150 kHz RTC oscillator is specified only to about
±5 % (ESP32 Technical Reference Manual, "RTC_SLOW_CLK"), a 32.768 kHz crystal to ±20 ppm; SHT3x accuracy is ±0.2 °C
typical (Sensirion SHT3x-DIS datasheet, table 2).
"""

import random
from dataclasses import dataclass, field

from ..units import parse_duration

KEYS = ("sensor_offset", "noise", "clock_ppm", "start_phase_s", "rssi_dbm", "cells")
TARGET_KEYS = ("device", "share", "cell")
DEVICE_ID_BASE = 1001


def rng(seed: int, what: str, index: int) -> random.Random:
    """The generator of one draw of one device: a str seed is hashed (SHA-512) the same in every process."""
    return random.Random(f"fieldnode:{seed}:{what}:{index}")


def _spread(value, fail, key, allow_fixed=False):
    """A number or [lo, hi]; ConfigError (``fail``) otherwise."""
    if isinstance(value, bool):
        fail(key, "a number or [lo, hi]")
    if isinstance(value, (int, float)):
        if value < 0:
            fail(key, f"{value!r}: a spread is not negative")
        return float(value)
    if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                          for v in value) and value[0] <= value[1]):
        return [float(value[0]), float(value[1])]
    fail(key, f"{value!r} is not a number or [lo, hi] with lo <= hi")


def validate(v, quantities, fail) -> dict:
    """The ``"variation"`` section, checked; ``quantities``: the names an offset or noise may name. ``fail(key,
    what)`` raises the ConfigError naming the key."""
    if not isinstance(v, dict):
        fail("variation", "must be an object")
    out = {}
    for k, val in v.items():
        key = f"variation.{k}"
        if k not in KEYS:
            fail(key, f"unknown key (allowed: {', '.join(KEYS)})")
        if k in ("sensor_offset", "noise"):
            if not isinstance(val, dict):
                fail(key, "an object {quantity: spread}")
            allowed = sorted(quantities) + (["accel_g"] if k == "noise" else [])
            for q, s in val.items():
                if q not in allowed:
                    fail(f"{key}.{q}", f"not a quantity (one of: {', '.join(allowed)})")
                _spread(s, fail, f"{key}.{q}")
            out[k] = {q: _spread(s, fail, f"{key}.{q}") for q, s in val.items()}
        elif k == "start_phase_s":
            try:
                out[k] = ([parse_duration(x) for x in val] if isinstance(val, list) and len(val) == 2
                          else parse_duration(val))
            except (ValueError, TypeError) as e:
                fail(key, f"a duration or [from, to]: {e}")
        elif k == "cells":
            if isinstance(val, list) and val and all(isinstance(c, str) for c in val):
                val = {c: 1.0 for c in val}
            if not (isinstance(val, dict) and val and all(isinstance(w, (int, float)) and not isinstance(w, bool)
                                                          and w > 0 for w in val.values())):
                fail(key, "a list of cell names, or {name: weight > 0}")
            out[k] = {str(c): float(w) for c, w in val.items()}
        elif k == "rssi_dbm" and not isinstance(val, list) and not (-140 <= val <= -40):
            fail(key, f"{val!r}: a signal in dBm, -140..-40, or [lo, hi]")
        else:
            out[k] = _spread(val, fail, key)
    return out


def _draw(spread, r: random.Random, fixed=False):
    if isinstance(spread, list):
        return r.uniform(*spread)
    return spread if fixed else r.gauss(0.0, spread)


@dataclass
class Traits:
    """What device ``index`` is like. Zero/None: as the scenario says for every device."""

    index: int
    offsets: dict = field(default_factory=dict)  # quantity -> added value
    noise: dict = field(default_factory=dict)  # quantity -> std dev
    clock_ppm: float = 0.0
    start_phase_ms: int = 0
    rssi_dbm: int | None = None
    cell: str | None = None

    def public(self) -> dict:
        """For the summary: what was drawn, rounded to what a reader compares."""
        out = {k: round(v, 4) for k, v in (("clock_ppm", self.clock_ppm),) if v}
        if self.offsets:
            out["offsets"] = {q: round(v, 4) for q, v in self.offsets.items()}
        if self.noise:
            out["noise"] = {q: round(v, 5) for q, v in self.noise.items()}
        if self.start_phase_ms:
            out["start_phase_s"] = round(self.start_phase_ms / 1000, 3)
        for k in ("rssi_dbm", "cell"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out


def traits(variation: dict, seed: int, index: int) -> Traits:
    t = Traits(index)
    for q, s in (variation.get("sensor_offset") or {}).items():
        t.offsets[q] = _draw(s, rng(seed, f"offset:{q}", index))
    for q, s in (variation.get("noise") or {}).items():
        t.noise[q] = _draw(s, rng(seed, f"noise:{q}", index), fixed=True)
    if "clock_ppm" in variation:
        t.clock_ppm = _draw(variation["clock_ppm"], rng(seed, "clock_ppm", index))
    if "start_phase_s" in variation:
        s = variation["start_phase_s"]
        r = rng(seed, "start_phase", index)
        t.start_phase_ms = int(1000 * (r.uniform(*s) if isinstance(s, list) else r.uniform(0, s)))
    if "rssi_dbm" in variation:
        s = variation["rssi_dbm"]
        t.rssi_dbm = round(rng(seed, "rssi", index).uniform(*s)) if isinstance(s, list) else int(s)
    if "cells" in variation:
        names = list(variation["cells"])
        t.cell = rng(seed, "cell", index).choices(names, weights=[variation["cells"][c] for c in names])[0]
    return t


def apply_environment(env: dict, t: Traits) -> dict:
    """Device ``t``'s physics: the fleet's, with its offsets and noise as physics faults (``sim/physics.py``)."""
    env = dict(env)
    faults = list(env.get("faults") or [])
    for q, v in t.offsets.items():
        faults.append({"kind": "offset", "quantity": q, "value": v})
    for q, v in t.noise.items():
        if q == "accel_g":
            env["vibration"] = dict(env.get("vibration") or {}, noise_g=v)
        else:
            faults.append({"kind": "noise", "quantity": q, "std": v})
    if faults:
        env["faults"] = faults
    return env


def chosen(fault: dict, k: int, seed: int, n_devices: int, cells: list) -> set:
    """The indices of the devices fault number ``k`` reaches; ``cells``: every device's cell, by index (None
    without cells). A share picks the devices with the smallest draws of that fault, so the same devices for the
    same seed and fleet size, whichever shard asks."""
    if "device" in fault:
        return {fault["device"] - DEVICE_ID_BASE}
    if "cell" in fault:
        return {i for i in range(n_devices) if cells[i] == fault["cell"]}
    if "share" in fault:
        n = max(1, round(fault["share"] * n_devices))
        order = sorted(range(n_devices), key=lambda i: (rng(seed, f"fault{k}", i).random(), i))
        return set(order[:n])
    return set(range(n_devices))
