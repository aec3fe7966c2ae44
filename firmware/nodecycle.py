"""The wake cycle's part for a declared node (config.json "node", node.py): read the declared measurements, run the
declared detectors, encode the node report.

The declaration is interpreted once per boot (a wake cycle is one boot) into a Layout and one int32 buffer per
sensor, which the drivers fill with ``read_into`` (no allocation in the drivers); each reading is then turned into
its wire integer by the integer ratio the layout found. A sensor that does not answer leaves its fields 0 and sets
FLAG_SENSOR_ERR, as measure.py does.

Detector state (which detectors are active, for hysteresis across deep sleep) rides in the RTC state's detector
bytes, which a node without a vibration window does not otherwise use.
"""

from array import array

import measure
import nodelayout as N


class NodeReading(measure.Reading):
    """A measure.Reading (so app.detect and the log line work unchanged) plus the node's wire values."""

    def __init__(self, layout):
        super().__init__()
        self.layout = layout
        self.values = [0] * len(layout.fields)
        self.events = 0
        self.flags = 0

    def encode(self, ts, flags, health):
        return self.layout.encode(ts, flags, self.values, self.events, health)


class Node:
    def __init__(self, cfg):
        self.layout = N.Layout(cfg)
        self.sensors = []  # [sensor type, buffer]
        self.where = []  # per field: (buffer, index)
        bufs = {}
        for m in cfg["measurements"]:
            s = m["sensor"]
            if s not in bufs:
                bufs[s] = array("i", (0, 0, 0, 0))
                self.sensors.append((s, bufs[s]))
            self.where.append((bufs[s], N.QUANTITIES[m["quantity"]][0][s]))
        self.dets = [self.layout.threshold(d) + (d["kind"] == "above",) for d in self.layout.detectors]

    def take(self, b):
        r = NodeReading(self.layout)
        for name in b.errors:
            r.errors.append(name)
        for s, buf in self.sensors:
            dev = b.sensors.get(s)
            try:
                if dev is None:
                    raise OSError(19, s)
                if s == "axp192":
                    buf[0] = dev.battery_mv()
                else:
                    dev.read_into(buf)
            except OSError:
                r.errors.append(s)
                for i in range(len(buf)):
                    buf[i] = 0
        lay = self.layout
        for i in range(len(self.where)):
            buf, j = self.where[i]
            r.values[i] = lay.wire(i, buf[j])
            q = lay.node["measurements"][i]["quantity"]
            if q == "temperature" and not r.temp_c100:
                r.temp_c100 = buf[j]  # the log line and the fixed alarm (alarm.temp_high_c100) keep working
            elif q == "humidity":
                r.rh_c100 = buf[j]
            elif q == "battery":
                r.batt_mv = buf[j]
        return r

    def detect(self, r, st):
        """Run the detectors on ``r``; set r.events and return the schema flags (FLAG_HIGH/FLAG_LOW)."""
        from proto import schema as S

        prev = st.detector[0] if len(st.detector) == 1 else 0
        ev = prev  # a sensor that did not answer reads 0: the detectors stay as they were
        if not r.errors:
            ev = 0
            for k in range(len(self.dets)):
                i, thr, hyst, above = self.dets[k]
                v = r.values[i]
                if prev & (1 << k):  # active: it clears only past the hysteresis band
                    on = v >= thr - hyst if above else v <= thr + hyst
                else:
                    on = v > thr if above else v < thr
                if on:
                    ev |= 1 << k
        flags = 0
        for k in range(len(self.dets)):
            if ev & (1 << k):
                flags |= S.FLAG_HIGH if self.dets[k][3] else S.FLAG_LOW
        r.events = ev
        st.detector = bytes((ev,))
        return flags

    def release(self, r):
        """A plain measure.Reading with ``r``'s logged values; unloads this module and the layout (on the device)
        so that their heap is free for the uplink, the cycle's largest step."""
        out = measure.Reading()
        out.temp_c100, out.rh_c100, out.batt_mv, out.errors = r.temp_c100, r.rh_c100, r.batt_mv, r.errors
        import sys

        if sys.implementation.name == "micropython":
            sys.modules.pop("nodecycle", None)
            sys.modules.pop("nodelayout", None)
        self.layout = self.sensors = self.where = self.dets = None
        return out
