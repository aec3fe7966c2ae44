"""A declared node's report layout (node.py validates the node; this derives what goes on the wire): the
quantities each sensor gives, each field's wire type and integer conversion, the schema id, encode and decode.
Kept apart from the validator's messages so that the cycle loads only this, in small pieces of heap."""

import struct

from proto import schema

NODE_MARK = 0xFF
PREFIX = 4  # mark, schema id, length
CODES = ("B", "b", "H", "h", "I", "i")

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


def field(m):
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
        self.fields = [field(m) for m in n["measurements"]]
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
            from proto import codec  # loaded already on the device: the cycle encodes fixed reports with it too

            hf = schema.HEALTH  # saturated and packed as a fixed report's HEALTH block (codec.encode_report)
            struct.pack_into(codec.HEALTH_FMT, buf, self.size, *[codec._sat(health[i], hf[i][1])
                                                                for i in range(len(hf))])
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

