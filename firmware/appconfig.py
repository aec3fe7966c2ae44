"""The device configuration (``config.json``, written by ``fieldnode provision``) with a last-good fallback.

``load()`` reads and validates the config. A config that does not parse or does not validate is not used: the
last config that did (``config.good``, kept by store.atomic with a CRC) takes its place and ``problem`` says, in
one line, what was wrong, so the next report can carry it (FLAG_CONFIG in the health block) and the log shows it.
A valid config that differs from the last good one becomes the new last good one, written then renamed.

    {"device_id": 42,
     "link": {"kind": "cellular", "apn": "soracom.io", ..., "endpoint": "uni.soracom.io:23080"},
     "policy": {"sample_s": 600, ...},          # see policy.py
     "detector": {"raise": 4.0, ...},           # see core/detector.py
     "vibration": {"samples": 512, "every": 1, "bands_hz": [29.95]},
     "alarm": {"rms_high_mg": null, "temp_high_c100": null, "lowbat_mv": 3400},
     "version": 1}
"""

import json

from store import atomic

CONFIG = "config.json"
GOOD = "config.good"

VIB_DEFAULTS = {"samples": 512, "every": 1, "bands_hz": []}


def _int(d, key, lo, hi, where):
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError("%s: %s must be an integer %d..%d, not %r" % (where, key, lo, hi, v))
    return v


def _unload(name):
    # On the device the validator's code (its messages above all) is needed once per boot: give its heap back (the
    # cycle loads nodelayout again when it runs the node, at the point it needs it; a provisioning test report does
    # not). CPython keeps its modules (the host validates many files).
    import sys

    if sys.implementation.name == "micropython":
        sys.modules.pop(name, None)


def validate(cfg):
    """Return the config with defaults filled in; raise ValueError naming the field and what is allowed."""
    import policy

    if not isinstance(cfg, dict):
        raise ValueError("config must be a JSON object")
    out = dict(cfg)
    _int(out, "device_id", 1, 0xFFFFFFFF, "config")
    link = out.get("link") or {}
    if not isinstance(link, dict):
        raise ValueError("config: link must be an object")
    kind = link.get("kind", "cellular")
    if kind not in ("cellular", "wifi"):
        raise ValueError("config: link.kind must be cellular or wifi, not %r" % (kind,))
    out["policy"] = policy.validate(out.get("policy") or {})
    vib = dict(VIB_DEFAULTS)
    vib.update(out.get("vibration") or {})
    _int(vib, "samples", 16, 4096, "config.vibration")
    _int(vib, "every", 0, 1000, "config.vibration")
    if not isinstance(vib["bands_hz"], list) or len(vib["bands_hz"]) > 4:
        raise ValueError("config.vibration: bands_hz must be a list of at most 4 frequencies")
    out["vibration"] = vib
    alarm = out.get("alarm") or {}
    if not isinstance(alarm, dict):
        raise ValueError("config: alarm must be an object")
    out["alarm"] = alarm
    det = out.get("detector") or {}
    if not isinstance(det, dict):
        raise ValueError("config: detector must be an object")
    from core import detector

    detector.validate(det)
    out["detector"] = det
    if out.get("node") is not None:  # a declared node: the same validator as `fieldnode node check` (node.py)
        import gc

        gc.collect()  # the JSON just parsed is garbage: free it before the validator's code needs heap
        import node

        try:
            out["node"] = node.validate(out["node"])
        except ValueError as e:
            raise ValueError("config.node.%s" % e.args[0])
        finally:
            _unload("node")
            _unload("nodelayout")
    return out


def load():
    """(config, problem): the config to use and None, or the last good config and a one-line problem."""
    problem = None
    raw = None
    try:
        with open(CONFIG) as f:
            raw = f.read()
        cfg = validate(json.loads(raw))
    except OSError:
        problem = "no config.json: provision the device (fieldnode provision)"
    except ValueError as e:
        problem = "config.json refused: %s" % (e.args[0] if e.args else "not valid JSON")
    if problem is None:
        good = atomic.read(GOOD)
        if good is None or good.decode() != raw:
            atomic.write(GOOD, raw.encode())
        return cfg, None
    good = atomic.read(GOOD)
    if good is not None:
        try:
            return validate(json.loads(good)), problem + "; using the last good config"
        except ValueError:
            pass
    return None, problem
