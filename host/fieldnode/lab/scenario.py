"""Simulation scenarios: small JSON files a user writes to say what a fleet run simulates.

    {
      "board": "m5stack-core2",          # a board file name (fieldnode boards)
      "devices": 3,                      # how many boards, each with its own identity and key
      "duration": "7d",                  # 90s, 45m, 36h, 7d, or seconds
      "seed": 1,                         # everything random (noise, fault instants) follows it
      "config": {"policy": {"sample_s": 600}},   # merged into each device's config.json (firmware/appconfig.py)
      "environment": {"preset": "core2_demo", "bearing_start": "5d"},
                                         # or a full physics section (host/fieldnode/sim/physics.py)
      "modem": {"network": {"rssi_dbm": -95}},    # the modem scenario (host/fieldnode/sim/modems/__init__.py)
      "faults": [
        {"kind": "power_cut", "at": "2d3h"},       # power cut at an instant (lands in the wake cycle running then)
        {"kind": "power_cuts", "count": 5},        # that many cuts at random instants inside wake cycles
        {"kind": "outage", "from": "3d", "to": "3d12h"},   # no coverage (Wi-Fi boards: no access point)
        {"kind": "modem_error", "match": "AT+CNACT", "code": 30, "times": 3}
      ],
      "variation": {"sensor_offset": {"temperature_c": 0.3}, "rssi_dbm": [-110, -80], "cells": ["a", "b"]}
    }

A fault reaches every device, or only ``"device": 1003``, ``"share": 0.2`` of the fleet or ``"cell": "a"`` (cells
and the other per-device differences: ``variation.py``).

Every key is optional. ``load()`` validates and raises ConfigError naming the file, the key and what is allowed.
Examples live in ``tools/scenarios/`` and are installed with the package: ``load("fleet-outage")`` (``fieldnode sim
run --scenario fleet-outage``) reads the built-in one of that name when there is no such file.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import boards
from ..errors import ConfigError
from ..paths import SCENARIOS
from ..units import parse_duration
from . import variation

MAX_DEVICES = 100_000
FAULT_KINDS = ("power_cut", "power_cuts", "outage", "modem_error", "no_sim", "denied")
KEYS = ("board", "devices", "duration", "seed", "config", "environment", "modem", "faults", "variation", "name",
        "description", "node")


@dataclass
class Scenario:
    board: str = "m5stack-core2"
    devices: int = 1
    duration_s: int = 86400
    seed: int = 1
    config: dict = field(default_factory=dict)
    environment: dict = field(default_factory=lambda: {"preset": "core2_demo", "bearing_start": "5d"})
    modem: dict = field(default_factory=dict)
    faults: list = field(default_factory=list)
    name: str = "scenario"
    description: str = ""
    variation: dict = field(default_factory=dict)  # validated by variation.validate
    node: dict | None = None  # a declared node (fieldnode node check), validated; its board is the scenario's


def builtin() -> list[str]:
    """The names of the example scenarios shipped with fieldnode."""
    return sorted(p.stem for p in SCENARIOS.glob("*.json"))


def _resolve(source) -> Path:
    """A path as given; a bare name that is no file, such as ``fleet-outage``, is the built-in scenario of that name."""
    p = Path(source)
    if not p.exists() and p.name == str(source) and p.stem in builtin() and p.suffix in ("", ".json"):
        return SCENARIOS / f"{p.stem}.json"
    return p


def load(source, overrides: dict | None = None) -> Scenario:
    """A Scenario from a file path or a built-in name, a dict, or None (the built-in defaults), with ``overrides``
    applied."""
    where = "scenario"
    data: dict = {}
    if isinstance(source, (str, Path)):
        p = _resolve(source)
        where = p.name
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no such scenario file: {p}",
                              f"give a JSON file, or a built-in scenario: {', '.join(builtin())}")
        except json.JSONDecodeError as e:
            raise ConfigError(f"{where}: not valid JSON at line {e.lineno} column {e.colno}: {e.msg}")
    elif isinstance(source, dict):
        data = dict(source)
    elif source is not None:
        raise ConfigError("a scenario is a JSON file or an object")
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a JSON object")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})

    def fail(key, what):
        raise ConfigError(f"{where}: '{key}': {what}")

    for k in data:
        if k not in KEYS:
            fail(k, f"unknown key (allowed: {', '.join(KEYS)})")
    s = Scenario()
    if data.get("node") is not None:  # a node file (relative to the scenario file) or an example node's name
        from .. import node as nodefile

        ref = data["node"]
        if isinstance(source, (str, Path)) and not Path(ref).is_absolute() and (_resolve(source).parent / ref).exists():
            ref = _resolve(source).parent / ref
        s.node = nodefile.check(ref)[0]
        if "board" not in data:
            data["board"] = s.node["board"]
        elif data["board"] != s.node["board"]:
            fail("node", f"node {s.node['name']} is declared for board {s.node['board']}, not {data['board']}; "
                         "give its board, or a node file for this one")
    if "board" in data:
        if data["board"] not in boards.names():
            fail("board", f"{data['board']!r} is not a board (choose one of: {', '.join(boards.names())})")
        s.board = data["board"]
    if "devices" in data:
        n = data["devices"]
        # up to 100,000: capacity planning runs that many across shards (shards.py), a laptop runs fewer
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_DEVICES:
            fail("devices", f"{n!r} must be an integer 1..{MAX_DEVICES}")
        s.devices = n
    for key, attr in (("duration", "duration_s"),):
        if key in data:
            try:
                setattr(s, attr, parse_duration(data[key]))
            except ValueError as e:
                fail(key, str(e))
            if getattr(s, attr) < 60:
                fail(key, "at least 60 seconds")
    if "seed" in data:
        if not isinstance(data["seed"], int):
            fail("seed", "an integer")
        s.seed = data["seed"]
    for key in ("config", "modem", "environment"):
        if key in data:
            if not isinstance(data[key], dict):
                fail(key, "must be an object")
            setattr(s, key, dict(data[key]))
    env = s.environment
    if isinstance(source, (str, Path)):
        _csv_beside(env, _resolve(source).parent)
    if env.get("preset") not in (None, "core2_demo", "quiet"):
        fail("environment.preset", f"{env.get('preset')!r} is not one of core2_demo, quiet")
    if "bearing_start" in env:
        try:
            env["bearing_start"] = parse_duration(env["bearing_start"])
        except ValueError as e:
            fail("environment.bearing_start", str(e))
    if "variation" in data:
        from ..sim.physics import DEFAULTS

        names = set(DEFAULTS) | set(env.get("quantities") or {})
        s.variation = variation.validate(data["variation"], names, fail)
    faults = data.get("faults", [])
    if not isinstance(faults, list):
        fail("faults", "must be a list of objects")
    for i, f in enumerate(faults):
        if not isinstance(f, dict) or f.get("kind") not in FAULT_KINDS:
            fail(f"faults[{i}].kind", f"{(f or {}).get('kind')!r} is not one of {', '.join(FAULT_KINDS)}")
        f = dict(f)
        for k in ("at", "from", "to"):
            if k in f:
                try:
                    f[k] = parse_duration(f[k])
                except ValueError as e:
                    fail(f"faults[{i}].{k}", str(e))
        if f["kind"] == "power_cut" and "at" not in f:
            fail(f"faults[{i}].at", "when the power is cut, e.g. \"2d3h\"")
        if f["kind"] == "power_cuts" and not isinstance(f.get("count"), int):
            fail(f"faults[{i}].count", "how many random power cuts, an integer")
        if f["kind"] == "outage" and not ("from" in f and "to" in f and f["to"] > f["from"]):
            fail(f"faults[{i}]", "an outage needs \"from\" and a later \"to\"")
        _check_target(f, i, s, fail)
        s.faults.append(f)
    s.name = str(data.get("name", Path(str(source)).stem if isinstance(source, (str, Path)) else "scenario"))
    s.description = str(data.get("description", ""))
    return s


def _csv_beside(spec, base: Path) -> None:
    """A CSV series named relative to the scenario file is read from beside it (wherever the run starts)."""
    if isinstance(spec, dict):
        c = spec.get("csv")
        if isinstance(c, str):
            spec["csv"] = c = {"path": c}
        if isinstance(c, dict) and isinstance(c.get("path"), str) and not Path(c["path"]).is_absolute() \
                and (base / c["path"]).exists():
            c["path"] = str(base / c["path"])
        for v in spec.values():
            _csv_beside(v, base)
    elif isinstance(spec, list):
        for v in spec:
            _csv_beside(v, base)


def _check_target(f: dict, i: int, s: Scenario, fail) -> None:
    """A fault's target: one of device (an id of this fleet), share (0 < share <= 1) or cell (a cell of
    variation.cells)."""
    given = [k for k in variation.TARGET_KEYS if k in f]
    if len(given) > 1:
        fail(f"faults[{i}]", f"one target at most, not {' and '.join(given)}")
    first, last = variation.DEVICE_ID_BASE, variation.DEVICE_ID_BASE + s.devices - 1
    if "device" in f and not (isinstance(f["device"], int) and first <= f["device"] <= last):
        fail(f"faults[{i}].device", f"{f['device']!r} is not a device of this fleet ({first}..{last})")
    share = f.get("share")
    if "share" in f and not (isinstance(share, (int, float)) and not isinstance(share, bool) and 0 < share <= 1):
        fail(f"faults[{i}].share", f"{share!r} is not a share of the fleet, 0 < share <= 1")
    cells = s.variation.get("cells") or {}
    if "cell" in f and f["cell"] not in cells:
        fail(f"faults[{i}].cell", f"{f['cell']!r} is not a cell of variation.cells ({', '.join(cells) or 'none'})")
