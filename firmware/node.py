"""A node declared in one file: what it measures, what it detects, and the report layout that follows from it.
One validator for both ends: ``fieldnode node check`` runs this module under CPython (fwbridge), the device runs it
on ``config.json``'s "node" section at boot (appconfig.py), so a file the host accepts is a file the device accepts.

    {"name": "cold-store", "board": "lowpower-ref",
     "measurements": [{"name": "humidity", "sensor": "sht3x", "quantity": "humidity", "unit": "%RH",
                       "resolution": 0.01}, ...],
     "detectors": [{"name": "cold_chain", "on": "temperature", "kind": "above", "threshold": 8.0,
                    "hysteresis": 0.5}],
     "policy": {"sample_s": 600}}

Every value is an integer of the declared resolution on the wire; its type is the smallest that holds the
quantity's range (the sensor's range, QUANTITIES) at that resolution, and a value outside saturates. Conversion
from the driver's integer (its ``read_into``) is an integer ratio found at boot: no float per reading.

A node report (what the flash queue stores and the uplink carries, proto/codec.py):

    0  1  0xFF   NODE_MARK: a fixed report starts with its ts, which would be 0xFF only after 2105
    1  2  schema id: a 16-bit hash of the layout (names, types, resolutions, units, detectors)
    3  1  length of what follows up to the HEALTH block
    4  4  ts (as schema.MAIN's)
    8  1  flags (schema.FLAG_*; FLAG_HEALTH says the HEALTH block follows)
    9  .  the measurements in declared order, then (with detectors) one byte: bit i = detector i active
    .  8  HEALTH (schema.HEALTH), when flags say so
"""


from nodelayout import PREFIX, QUANTITIES, Layout, field as _field  # noqa: F401 - re-exported

MAX_MEASUREMENTS = 64
MAX_DETECTORS = 8  # one events byte
# A report's length byte (after the 4-byte prefix) counts at most 255 bytes; with HEALTH (8) it then fits one uplink
# with its header, command ack and tag (codec.MAX_UPLINK, 393 bytes) and the collector's framing.
MAX_REPORT = 4 + 255

KEYS = ("name", "board", "measurements", "detectors", "policy", "title")
M_KEYS = ("name", "sensor", "quantity", "unit", "resolution", "scale")
D_KEYS = ("name", "on", "kind", "threshold", "hysteresis")
KINDS = ("above", "below")


def _fail(path, msg):
    raise ValueError("%s: %s" % (path, msg))


def _keys(d, allowed, path):
    if not isinstance(d, dict):
        _fail(path, "must be an object")
    for k in d:
        if k not in allowed:
            _fail("%s.%s" % (path, k) if path else k, "unknown key; allowed: %s" % ", ".join(allowed))


def _name(v, path):
    ok = isinstance(v, str) and 0 < len(v) <= 24 and (v[0].isalpha() or v[0] == "_")
    for c in v if isinstance(v, str) else "":
        if not (c.isalpha() or c.isdigit() or c == "_"):
            ok = False
    if not ok:
        _fail(path, "%r is not a name; use 1..24 letters, digits and _ (a letter first)" % (v,))


def _num(v, path, positive=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (positive and v <= 0):
        _fail(path, "%r is not a %snumber" % (v, "positive " if positive else ""))
    return v


def validate(n, sensors=None):
    """The node with defaults filled in; ValueError("path: what is wrong; what is allowed") otherwise.
    ``sensors``: the sensor types the board file carries (None: not checked, the board is not known here)."""
    _keys(n, KEYS, "")
    _name(n.get("name"), "name")
    if not isinstance(n.get("board"), str):
        _fail("board", "must name a board file (fieldnode boards lists them)")
    ms = n.get("measurements")
    if not isinstance(ms, list) or not 1 <= len(ms) <= MAX_MEASUREMENTS:
        _fail("measurements", "must be a list of 1..%d measurements" % MAX_MEASUREMENTS)
    seen = []
    out = [_measurement(m, i, n["board"], sensors, seen) for i, m in enumerate(ms)]
    ds = n.get("detectors") or []
    if not isinstance(ds, list) or len(ds) > MAX_DETECTORS:
        _fail("detectors", "must be a list of at most %d detectors" % MAX_DETECTORS)
    dout = []
    for i, d in enumerate(ds):
        dout.append(_detector(d, i, seen, dout))
    pol = n.get("policy") or {}
    import policy

    try:
        pol = policy.validate(pol)
    except ValueError as e:
        _fail("policy", e.args[0] if e.args else "not valid")
    res = {"name": n["name"], "board": n["board"], "measurements": out, "detectors": dout, "policy": pol}
    size = Layout(res).size
    if size > MAX_REPORT:
        _fail("measurements", "the report is %d bytes, one uplink carries at most %d; declare fewer or coarser "
              "measurements" % (size, MAX_REPORT))
    return res


def _measurement(m, i, board, sensors, seen):
    p = "measurements[%d]" % i
    _keys(m, M_KEYS, p)
    _name(m.get("name"), p + ".name")
    if m["name"] in seen or m["name"] in ("ts", "flags", "events"):
        _fail(p + ".name", "%r is taken; each measurement needs its own name (not ts, flags, events)" % m["name"])
    seen.append(m["name"])
    q = m.get("quantity")
    if q not in QUANTITIES:
        _fail(p + ".quantity", "%r is not a quantity; one of %s" % (q, ", ".join(sorted(QUANTITIES))))
    by_sensor, _, _, units = QUANTITIES[q]
    s = m.get("sensor")
    if s not in by_sensor:
        _fail(p + ".sensor", "%r does not measure %s; one of %s" % (s, q, ", ".join(sorted(by_sensor))))
    if sensors is not None and s not in sensors:
        _fail(p + ".sensor", "%r is not on board %s, which carries %s" % (s, board,
                                                                            ", ".join(sensors) or "no sensors"))
    _unit(m, p, q, units)
    return dict(m)


def _unit(m, p, q, units):
    u = m.get("unit")
    if units is not None and u not in units:
        _fail(p + ".unit", "%r is not a unit of %s; one of %s" % (u, q, ", ".join(sorted(units))))
    if units is None:
        if not isinstance(u, str) or not 0 < len(u) <= 12:
            _fail(p + ".unit", "must be the unit the scale gives, a string of 1..12 characters")
        sc = m.get("scale")
        _keys(sc, ("per_mv", "offset"), p + ".scale")
        _num(sc.get("per_mv"), p + ".scale.per_mv", True)
        _num(sc.get("offset", 0), p + ".scale.offset")
    elif "scale" in m:
        _fail(p + ".scale", "only an adc measurement takes a scale")
    _num(m.get("resolution"), p + ".resolution", True)
    f = _field(m)
    if f[1] is None:
        _fail(p + ".resolution", "%r %s needs more than 32 bits for the sensor's range; use a coarser one"
              % (m["resolution"], u))
    if f[3] == 0 and units is not None:
        _fail(p + ".resolution", "%r %s is finer than the sensor reports (%s)" % (m["resolution"], u,
                                                                                   _step(q, u)))


def _detector(d, i, seen, dout):
    p = "detectors[%d]" % i
    _keys(d, D_KEYS, p)
    _name(d.get("name"), p + ".name")
    if d["name"] in [x["name"] for x in dout]:
        _fail(p + ".name", "%r is taken by another detector" % d["name"])
    if d.get("on") not in seen:
        _fail(p + ".on", "%r is not a measurement of this node; one of %s" % (d.get("on"), ", ".join(seen)))
    if d.get("kind") not in KINDS:
        _fail(p + ".kind", "%r is not a detector kind; one of %s" % (d.get("kind"), ", ".join(KINDS)))
    _num(d.get("threshold"), p + ".threshold")
    h = _num(d.get("hysteresis", 0), p + ".hysteresis")
    if h < 0:
        _fail(p + ".hysteresis", "must be 0 or more")
    dd = dict(d)
    dd["hysteresis"] = h
    return dd


def _step(q, u):
    _, step, _, units = QUANTITIES[q]
    return "%g %s" % (step / units[u], u)
