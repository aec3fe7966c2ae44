"""Benchmarks of reports on the wire and in the collector, for ``make bench`` (tools/bench.py finds ``run()``).

Rows: bytes of a typical report uplink against JSON of the same content (readable and one-letter keys), and
how many reports a second the collector verifies, de-duplicates and stores into SQLite (in-process handle(),
batches of 1 and of 8), plus encoding cost on the MicroPython unix port (CPU time, not the ESP32's).
"""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode.collector import Collector  # noqa: E402
from fieldnode.collector.fw import codec, schema  # noqa: E402
from fieldnode.collector.views import report_to_dict  # noqa: E402
from fieldnode.registry import Registry  # noqa: E402

KEY = bytes(range(16))
TYPICAL = (1_763_776_000, schema.FLAG_ANOMALY, 2150, 3712, 120, 803, 14, 55)


def _row(name, value, unit, group="proto"):
    return {"group": group, "name": name, "value": value, "unit": unit}


def sizes():
    up = codec.encode_uplink(KEY, 424242, 1001, [codec.encode_report(TYPICAL)])
    d = report_to_dict(424242, 1001, codec.encode_report(TYPICAL))
    d.pop("health")
    d["tag"] = up[-codec.TAG_LEN:].hex()  # JSON would need its authenticator too
    readable = json.dumps(d, separators=(",", ":"))
    short = json.dumps({k[0] if k not in ("counter", "device") else k[:2]: v for k, v in d.items()},
                       separators=(",", ":"))
    batch8 = codec.encode_uplink(KEY, 424242, 1001, [codec.encode_report(TYPICAL)] * 8)
    return [
        _row("uplink, 1 typical report (6 values, flags, counter, time, tag)", len(up), "bytes"),
        _row("same content as JSON, readable keys", len(readable), "bytes"),
        _row("same content as JSON, short keys", len(short), "bytes"),
        _row("binary / JSON (readable)", round(len(up) / len(readable), 3), "ratio"),
        _row("uplink of 8 reports, per report", round(len(batch8) / 8, 1), "bytes"),
    ]


def collector_rate(batch, n_uplinks):
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(Path(d) / "r.sqlite")
        reg.add_device(1, KEY)
        c = Collector(Path(d) / "c.sqlite", reg, rate=1e9, burst=1e9)
        ups = [codec.encode_uplink(KEY, 1, 1 + i * batch, [codec.encode_report(TYPICAL)] * batch)
               for i in range(n_uplinks)]
        t = time.perf_counter()
        for u in ups:
            if c.handle(u, "bench") is None:
                raise RuntimeError("bench uplink refused")
        dt = time.perf_counter() - t
        dup = time.perf_counter()
        for u in ups[:200]:
            c.handle(u, "bench")
        dupdt = time.perf_counter() - dup
        c.close()
    return [
        _row(f"collector: reports verified+stored per s (batches of {batch})", round(batch * n_uplinks / dt),
             "reports/s", "collector"),
        _row(f"collector: duplicate uplinks re-acked per s (batches of {batch})", round(200 / dupdt), "uplinks/s",
             "collector"),
    ]


def mpy_encode():
    import subprocess

    from fieldnode.sim import runtime

    code = f"""
import time
from proto import codec, auth
k = auth.Key({KEY!r})
v = {TYPICAL!r}
t = time.ticks_us()
for i in range(200):
    codec.encode_uplink(k, 1, i, [codec.encode_report(v)])
print(time.ticks_diff(time.ticks_us(), t) / 200)
"""
    try:
        out = runtime.run(code, shims=False, timeout=60).out.strip()  # the ESP32's heap, firmware on the path
        return [_row("MicroPython unix port: encode + tag one uplink", round(float(out), 1), "us")]
    except (OSError, ValueError, subprocess.SubprocessError):
        return []


def run() -> list:
    return sizes() + collector_rate(1, 2000) + collector_rate(8, 500) + mpy_encode()


if __name__ == "__main__":
    for r in run():
        print(f"{r['group']:<10} {r['name']:<70} {r['value']:>10} {r['unit']}")
