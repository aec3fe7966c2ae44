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

import struct

from proto import schema

NODE_MARK = 0xFF
PREFIX = 4  # mark, schema id, length
MAX_MEASUREMENTS = 24
MAX_DETECTORS = 8  # one events byte
# A report with HEALTH must fit one uplink with its header, command ack and tag (codec.MAX_UPLINK): 393 bytes.
MAX_REPORT = 393 - 9 - 3 - 6

# quantity: ({sensor type: index in its read_into() output}, driver's step in micro base units,
#            (lo, hi) range in micro base units, {unit: micro base units per unit})
# Ranges from the parts' datasheets: SHT3x -40..125 degC, 0..100 %RH (Sensirion SHT3x-DIS table 1/2); BMP280
# 300..1100 hPa (BST-BMP280-DS001 table 2; QMP6988 the same); INA219 bus 0..32 V, +-320 mV shunt (TI SBOS448
# 8.6.2.1: +-3.2 A on the usual 0.1 ohm shunt), power = bus x current; AXP192 battery ADC 0..4.5045 V (1.1 mV LSB).
QUANTITIES = {
    "temperature": ({"sht3x": 0, "bmp280": 0, "qmp6988": 0}, 10000, (-40000000, 125000000), {"degC": 1000000}),
    "humidity": ({"sht3x": 1}, 10000, (0, 100000000), {"%RH": 1000000}),
    "pressure": ({"bmp280": 1, "qmp6988": 1}, 1000000, (30000000000, 110000000000),
                 {"Pa": 1000000, "hPa": 100000000, "kPa": 1000000000}),
    "battery": ({"axp192": 0}, 1000, (0, 4600000), {"V": 1000000, "mV": 1000}),
    "bus_voltage": ({"ina219": 0}, 1000, (0, 32000000), {"V": 1000000, "mV": 1000}),
    "current": ({"ina219": 2}, 1, (-3200000, 3200000), {"A": 1000000, "mA": 1000, "uA": 1}),
    "power": ({"ina219": 3}, 1, (0, 102400000), {"W": 1000000, "mW": 1000}),
    "adc": ({"adc": 0}, 1000, (0, 3300000), None),  # mV at the pin, to any unit through "scale"
}
KEYS = ("name", "board", "measurements", "detectors", "policy", "title")
M_KEYS = ("name", "sensor", "quantity", "unit", "resolution", "scale")
D_KEYS = ("name", "on", "kind", "threshold", "hysteresis")
KINDS = ("above", "below")
CODES = ("B", "b", "H", "h", "I", "i")


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
    out = []
    for i, m in enumerate(ms):
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
            _fail(p + ".sensor", "%r is not on board %s, which carries %s" % (s, n["board"],
                                                                                ", ".join(sensors) or "no sensors"))
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
        out.append(dict(m))
    ds = n.get("detectors") or []
    if not isinstance(ds, list) or len(ds) > MAX_DETECTORS:
        _fail("detectors", "must be a list of at most %d detectors" % MAX_DETECTORS)
    dout = []
    for i, d in enumerate(ds):
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
        dout.append(dd)
    pol = n.get("policy") or {}
    import policy

    try:
        pol = policy.validate(pol)
    except ValueError as e:
        _fail("policy", e.args[0] if e.args else "not valid")
    res = {"name": n["name"], "board": n["board"], "measurements": out, "detectors": dout, "policy": pol}
    size = Layout(res).size + schema.size(schema.HEALTH)
    if size > MAX_REPORT:
        _fail("measurements", "the report is %d bytes, one uplink carries at most %d; declare fewer or coarser "
              "measurements" % (size, MAX_REPORT))
    return res


def _step(q, u):
    _, step, _, units = QUANTITIES[q]
    return "%g %s" % (step / units[u], u)


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _code(lo, hi):
    for c in CODES:
        a, b = schema.LIMITS[c]
        if a <= lo and hi <= b:
            return c
    return None


def _field(m):
    """(name, code, num, den, off, res_micro, unit_micro, unit): wire = (driver value * num + den // 2) // den + off,
    value in units = wire * res_micro / unit_micro."""
    q = m["quantity"]
    _, step, rng, units = QUANTITIES[q]
    unit = m["unit"]
    if units is None:  # adc: units = mV * per_mv + offset; fixed point with 16 fractional bits, found at boot
        sc = m["scale"]
        res = m["resolution"]
        num = int(round(sc["per_mv"] / res * 65536))
        off = int(round(sc.get("offset", 0) / res))
        lo = (rng[0] // step * num) // 65536 + off
        hi = (rng[1] // step * num) // 65536 + off
        return (m["name"], _code(min(lo, hi), max(lo, hi)), num, 65536, off, 0, 0, unit)
    umicro = units[unit]
    rmicro = int(round(m["resolution"] * umicro))
    if rmicro < step:
        return (m["name"], "B", 0, 0, 0, rmicro, umicro, unit)  # finer than the driver: validate() refuses it
    g = _gcd(step, rmicro)
    return (m["name"], _code(rng[0] // rmicro, -(-rng[1] // rmicro)), step // g, rmicro // g, 0, rmicro, umicro,
            unit)


def _fnv16(s):
    # FNV-1a 32-bit over the layout's text, folded to 16 bits: the same on CPython and MicroPython, no library
    h = 0x811C9DC5
    for c in s.encode():
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return (h >> 16) ^ (h & 0xFFFF)


class Layout:
    """The report layout of a validated node: ``fields`` (see _field), ``detectors``, ``sid`` (schema id),
    ``size`` (bytes before HEALTH), ``encode`` and ``decode``."""

    def __init__(self, n):
        self.node = n
        self.fields = [_field(m) for m in n["measurements"]]
        self.detectors = n.get("detectors") or []
        self.fmt = ">IB" + "".join(f[1] or "i" for f in self.fields) + ("B" if self.detectors else "")
        self.body = struct.calcsize(self.fmt)
        self.size = PREFIX + self.body
        text = ";".join("%s:%s:%s:%s:%s:%d:%d" % (f[0], f[1], f[5], f[6], f[7], f[2], f[4]) for f in self.fields)
        text += "|" + ";".join("%s:%s" % (d["name"], d["kind"]) for d in self.detectors)
        self.sid = _fnv16(text)
        self.limits = [schema.LIMITS[f[1] or "i"] for f in self.fields]

    def wire(self, i, v):
        """Driver value ``v`` of field ``i`` as its saturated wire integer (no allocation for small ints)."""
        f = self.fields[i]
        w = (v * f[2] + f[3] // 2) // f[3] + f[4]
        lo, hi = self.limits[i]
        return lo if w < lo else hi if w > hi else w

    def threshold(self, d):
        """A detector's threshold and hysteresis in its measurement's wire units."""
        for i, m in enumerate(self.node["measurements"]):
            if m["name"] == d["on"]:
                res = m["resolution"]
                return i, int(round(d["threshold"] / res)), int(round(d["hysteresis"] / res))
        raise ValueError("detector %s: no measurement %s" % (d["name"], d["on"]))

    def encode(self, ts, flags, values, events, health=None):
        """The report's bytes: ``values`` wire integers in declared order, ``events`` the detector bits."""
        if health is not None:
            flags |= schema.FLAG_HEALTH
        else:
            flags &= ~schema.FLAG_HEALTH & 0xFF
        n = self.size + (schema.size(schema.HEALTH) if health is not None else 0)
        buf = bytearray(n)
        struct.pack_into(">BHB", buf, 0, NODE_MARK, self.sid, self.body)
        args = [ts, flags] + list(values)
        if self.detectors:
            args.append(events)
        struct.pack_into(self.fmt, buf, PREFIX, *args)
        if health is not None:
            hf = schema.HEALTH
            hv = []
            for i in range(len(hf)):
                lo, hi = schema.LIMITS[hf[i][1]]
                hv.append(min(max(int(health[i]), lo), hi))
            struct.pack_into(schema.fmt(hf), buf, self.size, *hv)
        return bytes(buf)

    def decode(self, raw):
        """(ts, flags, [wire values], events, health tuple or None) of a report of this layout."""
        if len(raw) < self.size or raw[0] != NODE_MARK or struct.unpack_from(">H", raw, 1)[0] != self.sid:
            raise ValueError("malformed", "not a report of schema %04x" % self.sid)
        v = struct.unpack_from(self.fmt, raw, PREFIX)
        nf = len(self.fields)
        events = v[2 + nf] if self.detectors else 0
        health = None
        if v[1] & schema.FLAG_HEALTH:
            health = struct.unpack_from(schema.fmt(schema.HEALTH), raw, self.size)
        return v[0], v[1], list(v[2:2 + nf]), events, health


def is_node(raw, off=0):
    return raw[off] == NODE_MARK


def schema_id(raw, off=0):
    return struct.unpack_from(">H", raw, off + 1)[0]
