"""A collector fed by a small simulated fleet over its real ingest path: every report encoded by the firmware's
codec, authenticated with the device's registry key and handed to ``Collector.handle`` (the bytes a UDP, TCP or
HTTP uplink carries), on a clock the test moves. Shared by the console's API and browser tests."""

from fieldnode.collector import Collector
from fieldnode.registry import Registry
from proto import codec, schema

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600


class Clock:
    def __init__(self, t=T0):
        self.t = float(t)

    def __call__(self):
        return self.t


class Fleet:
    """``n`` devices (ids 101..) on ``board``, each sending one authenticated report an hour (a health block every
    6th, and in the first report), values that vary with time; ``alarm(dev)`` sends an anomaly report."""

    def __init__(self, tmp_path, n=3, board="m5stack-core2"):
        self.clock = Clock()
        self.reg = Registry(tmp_path / "reg.sqlite")
        self.ids = [101 + i for i in range(n)]
        self.keys = {}
        self.ctr = {}
        for i, d in enumerate(self.ids):
            self.keys[d] = bytes((d + j) % 256 for j in range(16))
            self.reg.add_device(d, self.keys[d], who="test", board=board, iccid=f"898100000000000{i:04d}",
                                imsi=f"44010000000{i:04d}", imei=f"35000000000{i:04d}")
            self.ctr[d] = 0
        self.col = Collector(tmp_path / "c.sqlite", self.reg, rate=1e6, burst=1e6, clock=self.clock)

    def report(self, dev, flags=0, rms_g=0.25):
        self.ctr[dev] += 1
        c = self.ctr[dev]
        health = c == 1 or c % 6 == 0
        fl = flags | (schema.FLAG_BOOT if c == 1 else 0) | (schema.FLAG_HEALTH if health else 0)
        main = (int(self.clock()), fl, 2000 + (c % 24) * 10, 4000 - c, int(rms_g * 1000), 900, 31, 77)
        raw = codec.encode_report(main, (-71, 0, 1, 1, 0) if health else None)
        reply = self.col.handle(codec.encode_uplink(self.keys[dev], dev, c, [raw]), f"udp:127.0.0.1:{dev}")
        assert reply is not None and codec.parse_reply(self.keys[dev], dev, reply)[0] == c
        return c

    def hours(self, n, devices=None):
        """``n`` hours of reports from ``devices`` (default all), the clock moving an hour before each round."""
        for _ in range(n):
            self.clock.t += HOUR
            for d in devices or self.ids:
                self.report(d)

    def alarm(self, dev):
        return self.report(dev, schema.FLAG_ANOMALY, rms_g=1.8)

    def close(self):
        self.col.close()
