"""Provisioning benchmark: wall time of ``fieldnode.provision.provision`` on an interactive virtual Core2 running the
real firmware (deployed first), a SIM7080G model routing uni.soracom.io to a collector on a free UDP port, for the
simulated network's attach time of 300 ms and of 6 s (the model's default, near a real LTE-M attach), and the part
of it that is not the device's own uplink (connect, state check, writing key and config, registry).

Rows: group "provision"; seconds per device, the mean of ``REPEAT`` devices (each a fresh board and identity).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

REPEAT = 2


def _one(attach_ms, tmp):
    from fieldnode.collector import Collector, Servers
    from fieldnode.deploy import deploy
    from fieldnode.device import connect
    from fieldnode.provision import ProvisionOptions, provision
    from fieldnode.registry import Registry
    from fieldnode.sim.board import VirtualBoard

    reg = Registry(Path(tmp) / "registry.sqlite")
    col = Collector(Path(tmp) / "collector.sqlite", reg)
    srv = Servers(col, host="127.0.0.1", udp=0, tcp=-1, http=-1)
    port = int(srv.addresses[0].rsplit(":", 1)[1])
    marks = []
    try:
        b = VirtualBoard("m5stack-core2", flash_dir=Path(tmp) / f"flash{time.monotonic_ns()}",
                         scenario={"modem": {"network": {"attach_ms": attach_ms},
                                             "dns": {"uni.soracom.io": f"127.0.0.1:{port}"}}})
        try:
            b.start()
            time.sleep(0.5)
            with connect(b.port) as dev:
                deploy(dev, "m5stack-core2")
            t0 = time.monotonic()
            rep = provision(b.port, None, ProvisionOptions(start=False), reg,
                            progress=lambda msg: marks.append((msg, time.monotonic())))
            total = time.monotonic() - t0
        finally:
            b.close()
    finally:
        srv.close()
        col.close()
        reg.close()
    if not rep.passed:
        raise RuntimeError(rep.summary())
    t_up = next(t for m, t in marks if "attaching" in m)
    return total, t_up - t0


def run():
    rows = []
    for attach_ms in (300, 6000):
        totals, host = [], []
        for _ in range(REPEAT):
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["FIELDNODE_HOME"] = tmp
                total, before = _one(attach_ms, tmp)
            totals.append(total)
            host.append(before)
            print(f"provision attach {attach_ms} ms: {total:.2f} s", file=sys.stderr)
        rows.append({"group": "provision", "name": f"one device, network attach {attach_ms} ms",
                     "value": round(sum(totals) / len(totals), 2), "unit": "s",
                     "note": f"mean of {REPEAT}; before the uplink {sum(host) / len(host):.2f} s"})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
