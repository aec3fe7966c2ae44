"""The physical world around a simulated node: what its sensors would measure, as functions of virtual time.

A scenario's ``"environment"`` section becomes an ``Environment`` with ``Environment.from_dict(d)`` (the value
specs of its quantities are ``sim/signals.py``'s). Every value is a pure function of the time since the scenario
started, so a run is repeatable and a model can ask for any instant (the MPU6886 model asks for every millisecond
of a vibration window).

Keys of the ``"environment"`` section (all optional)::

    {
      "seed": 1,                                  # noise is deterministic per seed, quantity and instant
      "quantities": {                             # name -> spec; unknown names are allowed (custom models)
        "temperature_c": 21.5,                    # a number is a constant
        "humidity_pct": {"sine": {"mean": 50, "amplitude": 10, "period_s": 86400, "phase_s": 0}},
        "pressure_pa": {"ramp": {"from": 101325, "to": 100325, "start_s": 0, "over_s": 3600}},
        "current_a": {"csv": "load.csv", "time_column": "timestamp", "column": "value",
                      "time_scale": 1.0, "loop": true},   # a recorded series, linearly interpolated
        "light_lux": {"steps": [[0, 200], [3600, 15000]]},  # piecewise constant
        "bus_voltage_v": {"sum": [12.0, {"sine": {"amplitude": 0.2, "period_s": 60}}]}
      },
      "faults": [                                 # each applies from start_s until end_s (or forever)
        {"kind": "stuck", "quantity": "temperature_c", "start_s": 600, "value": 20.0},   # value omitted: frozen
        {"kind": "noise", "quantity": "humidity_pct", "std": 0.5},
        {"kind": "drift", "quantity": "pressure_pa", "per_hour": 12.0, "start_s": 0},
        {"kind": "offset", "quantity": "temperature_c", "value": 3.0, "start_s": 100},
        {"kind": "removed", "chip": "sht3x", "start_s": 7200, "end_s": 7300},      # the part NACKs
        {"kind": "bus_error", "chip": "qmp6988", "start_s": 50, "end_s": 51}       # transactions fail (EIO)
      ],
      "vibration": {                              # the machine the accelerometer is bolted to, in g
        "gravity_g": [0, 0, 1], "shaft_hz": 29.95, "imbalance_g": 0.02, "noise_g": 0.005,
        "bearing": {"defect_hz": 162.2, "resonance_hz": 230, "decay_ms": 4, "start_s": 3600,
                    "initial_g": 0.05, "growth_g_per_hour": 0.5, "max_g": 2.0, "axis": 2}
      }
    }

Quantities the built-in sensor models read (their defaults in ``DEFAULTS``): ``temperature_c``, ``humidity_pct``,
``pressure_pa``, ``battery_v``, ``battery_ma`` (positive charging), ``vbus_v``, ``bus_voltage_v``, ``current_a``,
``light_lux``, ``mains_hz``; the vector ``accel_g`` comes from ``"vibration"`` and ``gyro_dps`` is zero unless
``gyro_dps_x/y/z`` are given.

The bearing model: a defect on a race is struck ``defect_hz`` times a second (for the CWRU test motor at 1797 rpm
the inner-race defect frequency BPFI is 5.4152 x shaft = 162.2 Hz); each strike rings the structure at
``resonance_hz`` with an exponential decay of ``decay_ms``, the classic envelope-analysis picture. The burst
amplitude is ``initial_g`` at ``start_s`` and grows by ``growth_g_per_hour`` up to ``max_g``.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .signals import SPEC_KINDS, make_source, number

__all__ = ["Environment", "Fault", "Bearing", "Vibration", "DEFAULTS", "core2_demo", "gauss", "make_source",
           "SPEC_KINDS"]

DEFAULTS = {
    "temperature_c": 22.0,
    "humidity_pct": 45.0,
    "pressure_pa": 101325.0,
    "battery_v": 3.95,
    "battery_ma": 0.0,
    "vbus_v": 0.0,
    "bus_voltage_v": 12.0,
    "current_a": 0.0,
    "light_lux": 300.0,
    "mains_hz": 50.0,
    "gyro_dps_x": 0.0,
    "gyro_dps_y": 0.0,
    "gyro_dps_z": 0.0,
}
FAULT_KINDS = {"stuck", "noise", "drift", "offset", "removed", "bus_error"}
CHIP_FAULTS = {"removed", "bus_error"}

_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a fast, well-distributed hash, so noise is a pure function of (seed, name, instant)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@functools.lru_cache(maxsize=256)
def _name_key(name: str) -> int:  # cached: a vibration window asks for it thousands of times
    h = 1469598103934665603
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) & _M64
    return h


@functools.cache
def numpy():
    """numpy for the vectorised windows, imported on first use. Its OpenBLAS would start a thread per core that
    spins while idle (perf showed 3% of a fleet run in blas_thread_server); the simulator does no linear algebra,
    so one thread, unless the caller chose otherwise."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy as np

    return np


def _mix_many(x):
    """``_mix`` on a numpy uint64 array: the same bits (uint64 arithmetic wraps modulo 2**64 as the masks do)."""
    c = _mix_consts()
    x = x + c[0]
    x = (x ^ (x >> c[1])) * c[2]
    x = (x ^ (x >> c[3])) * c[4]
    return x ^ (x >> c[5])


@functools.cache
def _mix_consts():
    u = numpy().uint64
    return u(0x9E3779B97F4A7C15), u(30), u(0xBF58476D1CE4E5B9), u(27), u(0x94D049BB133111EB), u(31)


def gauss_many(seed: int, names, ticks):
    """``gauss(seed, name, tick)`` for every name of ``names`` and every tick of an int64 array: a float64 array,
    one row a name, of the same values. The hashing and the arithmetic vectorised (integer and IEEE-754 basic
    operations, exact in numpy as in Python), the log and cosine from ``math``, element by element (numpy's SIMD
    versions differ from them in the last bit for some arguments)."""
    np = numpy()

    n = len(ticks)
    keys = np.repeat(np.array([(seed ^ _name_key(name)) & _M64 for name in names], dtype=np.uint64), n)
    k = _mix_many(keys ^ np.tile(_mix_many(ticks.view(np.uint64)), len(names)))
    u1 = ((k >> np.uint64(11)) + np.uint64(1)).astype(np.float64) / 9007199254740993.0
    u2 = (_mix_many(k) >> np.uint64(11)).astype(np.float64) / 9007199254740992.0
    logs = np.fromiter(map(math.log, u1.tolist()), np.float64, len(u1))
    coss = np.fromiter(map(math.cos, (2.0 * math.pi * u2).tolist()), np.float64, len(u2))
    return (np.sqrt(-2.0 * logs) * coss).reshape(len(names), n)


def gauss(seed: int, name: str, tick: int) -> float:
    """A standard normal deviate determined by its arguments (Box-Muller on two hashed uniforms)."""
    k = _mix(seed ^ _name_key(name) ^ _mix(tick & _M64))
    u1 = ((k >> 11) + 1) / 9007199254740993.0
    u2 = (_mix(k) >> 11) / 9007199254740992.0
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@dataclass
class Fault:
    kind: str
    target: str  # a quantity name, or a chip name / address for removed and bus_error
    start_s: float = 0.0
    end_s: float | None = None
    params: dict = field(default_factory=dict)

    def active(self, t: float) -> bool:
        return t >= self.start_s and (self.end_s is None or t < self.end_s)


@dataclass
class Bearing:
    defect_hz: float = 162.2
    resonance_hz: float = 230.0
    decay_ms: float = 4.0
    start_s: float = 3600.0
    initial_g: float = 0.05
    growth_g_per_hour: float = 0.5
    max_g: float = 2.0
    axis: int = 2

    def amplitude(self, t: float) -> float:
        if t < self.start_s:
            return 0.0
        return min(self.max_g, self.initial_g + self.growth_g_per_hour * (t - self.start_s) / 3600.0)

    def signal(self, t: float) -> float:
        a = self.amplitude(t)
        if a <= 0.0:
            return 0.0
        period = 1.0 / self.defect_hz
        tau = self.decay_ms / 1000.0
        k = math.floor((t - self.start_s) / period)
        s = 0.0
        # Strikes older than ~8 time constants have rung out; sum the recent ones.
        for j in range(int(8 * tau / period) + 1):
            tk = self.start_s + (k - j) * period
            if tk < self.start_s:
                break
            dt = t - tk
            s += math.exp(-dt / tau) * math.sin(2 * math.pi * self.resonance_hz * dt)
        return a * s


@dataclass
class Vibration:
    gravity_g: tuple = (0.0, 0.0, 1.0)
    shaft_hz: float = 29.95
    imbalance_g: float = 0.02
    noise_g: float = 0.005
    bearing: Bearing | None = None


class Environment:
    """Physical quantities as functions of virtual time. ``t0_ms`` is the scenario's start on the virtual clock."""

    def __init__(self, sources=None, faults=(), vibration: Vibration | None = None, seed: int = 0,
                 t0_ms: int | None = None):
        self.sources = dict(sources or {})
        self.faults = list(faults)
        self.vibration = vibration or Vibration()
        self.seed = int(seed)
        self.t0_ms = t0_ms
        self._frozen: dict[int, float] = {}

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict | None, t0_ms: int | None = None, base: Path | None = None) -> Environment:
        """Build from a scenario's ``"environment"`` section (keys in this module's docstring)."""
        d = d or {}
        if not isinstance(d, dict):
            raise ConfigError("environment: must be an object", "see fieldnode.sim.physics for the keys")
        unknown = set(d) - {"seed", "quantities", "faults", "vibration"}
        if unknown:
            raise ConfigError(f"environment: unknown key(s) {sorted(unknown)}",
                              "allowed: seed, quantities, faults, vibration")
        q = d.get("quantities", {})
        if not isinstance(q, dict):
            raise ConfigError("environment: quantities: must be an object of name -> value spec", "")
        sources = {name: make_source(spec, f"quantities.{name}", base) for name, spec in q.items()}
        faults = [_parse_fault(f, i) for i, f in enumerate(d.get("faults", []))]
        vib = _parse_vibration(d.get("vibration"))
        return cls(sources, faults, vib, d.get("seed", 0), t0_ms)

    # -- time ----------------------------------------------------------------------------------------------
    def t(self, now_ms: int) -> float:
        """Seconds since the scenario started (the first instant asked about, unless t0_ms was given)."""
        if self.t0_ms is None:
            self.t0_ms = now_ms
        return (now_ms - self.t0_ms) / 1000.0

    # -- values --------------------------------------------------------------------------------------------
    def base_value(self, name: str, t: float) -> float:
        src = self.sources.get(name)
        if src is not None:
            return src(t)
        if name in DEFAULTS:
            return DEFAULTS[name]
        raise KeyError(f"no quantity {name!r} in the environment")

    def value_at(self, name: str, t: float) -> float:
        v = self.base_value(name, t)
        for i, f in enumerate(self.faults):
            if f.target != name or f.kind in CHIP_FAULTS:
                continue
            if not f.active(t):
                self._frozen.pop(i, None)
                continue
            if f.kind == "stuck":
                if "value" in f.params:
                    v = float(f.params["value"])
                else:
                    v = self._frozen.setdefault(i, self.base_value(name, f.start_s))
            elif f.kind == "noise":
                v += float(f.params.get("std", 0.0)) * gauss(self.seed, name, int(t * 1000))
            elif f.kind == "drift":
                v += float(f.params.get("per_hour", 0.0)) * (t - f.start_s) / 3600.0
            elif f.kind == "offset":
                v += float(f.params.get("value", 0.0))
        return v

    def value(self, name: str, now_ms: int) -> float:
        return self.value_at(name, self.t(now_ms))

    def accel_at(self, t: float) -> tuple[float, float, float]:
        """Acceleration of the machine in g on three axes at ``t`` seconds (gravity included)."""
        vb = self.vibration
        w = 2 * math.pi * vb.shaft_hz * t
        out = [vb.gravity_g[0] + vb.imbalance_g * math.cos(w),
               vb.gravity_g[1] + vb.imbalance_g * math.sin(w),
               vb.gravity_g[2]]
        if vb.noise_g:
            tick = int(round(t * 1e6))
            for ax in range(3):
                out[ax] += vb.noise_g * gauss(self.seed, "accel%d" % ax, tick)
        if vb.bearing is not None:
            out[vb.bearing.axis] += vb.bearing.signal(t)
        for i, f in enumerate(self.faults):
            if f.target == "accel_g" and f.active(t) and f.kind == "stuck":
                out = list(self._frozen.setdefault(i, self.accel_at_base(f.start_s)))
        return out[0], out[1], out[2]

    def accel_many(self, ts):
        """``accel_at`` for every instant of a float64 array ``ts``: three float64 arrays with the same values, or
        None where a fault on ``accel_g`` applies (its frozen value is state: the caller asks ``accel_at`` in order).
        A vibration window (the MPU6886 model's FIFO) asks for hundreds of instants at once."""
        np = numpy()

        if any(f.target == "accel_g" for f in self.faults):
            return None
        vb = self.vibration
        w = 2 * math.pi * vb.shaft_hz * ts
        n = len(ts)
        out = [vb.gravity_g[0] + vb.imbalance_g * np.fromiter(map(math.cos, w.tolist()), np.float64, n),
               vb.gravity_g[1] + vb.imbalance_g * np.fromiter(map(math.sin, w.tolist()), np.float64, n),
               np.full(n, float(vb.gravity_g[2]))]
        if vb.noise_g:
            noise = gauss_many(self.seed, ("accel0", "accel1", "accel2"),
                               np.rint(ts * 1e6).astype(np.int64))  # round() is half-to-even too
            for ax in range(3):
                out[ax] = out[ax] + vb.noise_g * noise[ax]
        if vb.bearing is not None and ts[-1] >= vb.bearing.start_s:  # before its start signal() is 0.0
            out[vb.bearing.axis] = out[vb.bearing.axis] + np.fromiter(map(vb.bearing.signal, ts.tolist()),
                                                                      np.float64, n)
        return out

    def value_many(self, name: str, ts):
        """``value_at(name, t)`` for every instant of a float64 array ``ts``, as a float64 array of the same values.
        Faults are added in their order where they are active (adding 0.0 elsewhere changes no value); a stuck
        fault keeps state (its frozen value), so with one on ``name`` each instant is asked in order."""
        np = numpy()

        mine = [f for f in self.faults if f.target == name and f.kind not in CHIP_FAULTS]
        n = len(ts)
        if any(f.kind == "stuck" for f in mine):
            return np.fromiter((self.value_at(name, t) for t in ts.tolist()), np.float64, n)
        src = self.sources.get(name)
        if src is not None:
            v = np.fromiter(map(src, ts.tolist()), np.float64, n)
        else:
            v = np.full(n, float(self.base_value(name, 0.0)))
        for f in mine:
            on = ts >= f.start_s if f.end_s is None else (ts >= f.start_s) & (ts < f.end_s)
            if f.kind == "noise":
                ms = np.trunc(ts * 1000).astype(np.int64)  # int(t * 1000): truncated as int() does
                d = float(f.params.get("std", 0.0)) * gauss_many(self.seed, (name,), ms)[0]
            elif f.kind == "drift":
                d = float(f.params.get("per_hour", 0.0)) * (ts - f.start_s) / 3600.0
            else:  # offset
                d = np.full(n, float(f.params.get("value", 0.0)))
            v = v + np.where(on, d, 0.0)
        return v

    def accel_at_base(self, t):
        saved, self.faults = self.faults, []
        try:
            return self.accel_at(t)
        finally:
            self.faults = saved

    def gyro_at(self, t: float) -> tuple[float, float, float]:
        return tuple(self.value_at("gyro_dps_" + a, t) for a in "xyz")

    # -- chip faults ---------------------------------------------------------------------------------------
    def chip_fault(self, kind: str, chip: str, addr: int, now_ms: int) -> bool:
        t = self.t(now_ms)
        for f in self.faults:
            if f.kind == kind and f.active(t) and f.target in (chip, "%#04x" % addr, str(addr)):
                return True
        return False


def _parse_fault(f, i) -> Fault:
    where = f"faults[{i}]"
    if not isinstance(f, dict):
        raise ConfigError(f"environment: {where}: must be an object", "see fieldnode.sim.physics")
    kind = f.get("kind")
    if kind not in FAULT_KINDS:
        raise ConfigError(f"environment: {where}.kind: {kind!r} is not a fault", f"allowed: {sorted(FAULT_KINDS)}")
    key = "chip" if kind in CHIP_FAULTS else "quantity"
    target = f.get(key)
    if not isinstance(target, str) or not target:
        raise ConfigError(f"environment: {where}.{key}: missing", f"name the {key} the {kind} fault applies to")
    start = number(f, "start_s", where, 0.0)
    end = f.get("end_s")
    if end is not None:
        end = number(f, "end_s", where)
        if end <= start:
            raise ConfigError(f"environment: {where}.end_s: {end} is not after start_s {start}", "")
    params = {k: v for k, v in f.items() if k not in ("kind", key, "start_s", "end_s")}
    return Fault(kind, target, start, end, params)


def _parse_vibration(v) -> Vibration:
    if v is None:
        return Vibration()
    if not isinstance(v, dict):
        raise ConfigError("environment: vibration: must be an object", "see fieldnode.sim.physics")
    vb = Vibration()
    allowed = {"gravity_g", "shaft_hz", "imbalance_g", "noise_g", "bearing"}
    unknown = set(v) - allowed
    if unknown:
        raise ConfigError(f"environment: vibration: unknown key(s) {sorted(unknown)}", f"allowed: {sorted(allowed)}")
    if "gravity_g" in v:
        g = v["gravity_g"]
        if not (isinstance(g, list) and len(g) == 3):
            raise ConfigError("environment: vibration.gravity_g: expected [x, y, z] in g", "")
        vb.gravity_g = tuple(float(x) for x in g)
    for k in ("shaft_hz", "imbalance_g", "noise_g"):
        if k in v:
            setattr(vb, k, number(v, k, "vibration"))
    if v.get("bearing") is not None:
        b = v["bearing"]
        if not isinstance(b, dict):
            raise ConfigError("environment: vibration.bearing: must be an object", "")
        bearing = Bearing()
        for k in b:
            if not hasattr(bearing, k):
                raise ConfigError(f"environment: vibration.bearing.{k}: unknown key",
                                  f"allowed: {sorted(Bearing.__dataclass_fields__)}")
            setattr(bearing, k, int(b[k]) if k == "axis" else number(b, k, "vibration.bearing"))
        if bearing.defect_hz <= 0 or bearing.decay_ms <= 0:
            raise ConfigError("environment: vibration.bearing: defect_hz and decay_ms must be positive", "")
        if bearing.axis not in (0, 1, 2):
            raise ConfigError("environment: vibration.bearing.axis: 0, 1 or 2 (x, y, z)", "")
        vb.bearing = bearing
    return vb


def core2_demo(bearing_start_s: float = 3600.0, seed: int = 1) -> dict:
    """The "environment" section for the M5Stack Core2 demo: an ENV III (SHT3x + QMP6988) in a room with a daily
    cycle, and an MPU6886 on a 1797 rpm motor whose inner-race bearing starts to fail at ``bearing_start_s``."""
    return {
        "seed": seed,
        "quantities": {
            "temperature_c": {"sine": {"mean": 24.0, "amplitude": 3.0, "period_s": 86400, "phase_s": -21600}},
            "humidity_pct": {"sine": {"mean": 55.0, "amplitude": -8.0, "period_s": 86400, "phase_s": -21600}},
            "pressure_pa": {"sine": {"mean": 101200.0, "amplitude": 150.0, "period_s": 43200}},
            "battery_v": {"ramp": {"from": 4.10, "to": 3.60, "start_s": 0, "over_s": 7 * 86400}},
        },
        "faults": [{"kind": "noise", "quantity": "temperature_c", "std": 0.02}],
        "vibration": {
            "gravity_g": [0.0, 0.0, 1.0], "shaft_hz": 29.95, "imbalance_g": 0.03, "noise_g": 0.01,
            "bearing": {"defect_hz": 162.2, "resonance_hz": 230.0, "decay_ms": 4.0, "start_s": bearing_start_s,
                        "initial_g": 0.05, "growth_g_per_hour": 0.4, "max_g": 1.5, "axis": 2},
        },
    }
