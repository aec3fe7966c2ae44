"""What an app update costs, for ``make bench`` (tools/bench.py finds ``run()``): a virtual Core2 (SIM7080G model,
real UDP to an in-process collector) takes two releases of the x64 build made by fieldnode.release:

- typical: one module changed (app.py): the rest is copied on the flash from the running app;
- full: every module changed: everything comes over the link.

Rows per case: files and bytes of the release, fetch requests, bytes on the wire both ways (requests, replies and
the device's status datagrams), radio time of the fetch session and virtual time from the cycle that received the
offer to the confirmed new version, and the extra charge of that cycle over an ordinary uplink cycle.

    .venv/bin/python tools/bench.py update
"""

import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode import build, release  # noqa: E402
from fieldnode.collector import Collector, Servers  # noqa: E402
from fieldnode.paths import FIRMWARE  # noqa: E402
from fieldnode.registry import Registry  # noqa: E402
from fieldnode.sim.board import VirtualBoard  # noqa: E402
from fieldnode.sim.physics import core2_demo  # noqa: E402

BOARD = "m5stack-core2"
CONFIG = {"device_id": 42, "link": {"apn": "soracom.io"}, "policy": {"uplink_s": 600, "summary_s": 600}}


def _variant(bundle, tmp, every):
    files = dict(bundle)
    for src in build.firmware_sources():
        rel = src.relative_to(FIRMWARE).as_posix()
        if rel in ("main.py", "boot.py", "loader.py") or (not every and rel != "app.py"):
            continue
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(src.read_text() + "\n_RELEASE = 2\n")
        build.compile_module(out, out.with_suffix(".mpy"), "x64")
        files["/" + rel[:-3] + ".mpy"] = out.with_suffix(".mpy").read_bytes()
    return files


def _charge(board):
    return board.energy.report(board.clock.now_ms())["charge_mc"]


def measure(name, every, home):
    reg = Registry(home / "registry.sqlite")
    key = reg.add_device(42, board=BOARD).key
    col = Collector(home / "collector.sqlite", reg, rate=5000, burst=5000)
    srv = Servers(col, udp=0, tcp=-1, http=-1)
    udp = srv.addresses[0].split("//")[1]
    board = VirtualBoard(BOARD, flash_dir=home / "board",
                         scenario={"env": core2_demo(), "modem": {"dns": {"uni.soracom.io": udp}}})
    try:
        b = build.build(BOARD, home / "bundle", arch="x64")
        bundle = {p: f.read_bytes() for p, f in b.files.items()}
        board.put_files({**bundle, "/config.json": json.dumps(CONFIG), "/key.bin": key})
        board.run(cycles=2)
        c0 = _charge(board)
        board.run(cycles=1)
        ordinary = _charge(board) - c0
        rel = release.make(_variant(bundle, home / "src", every), BOARD, "x64", "1.0.1")
        release.write(rel, release.default_path(rel))
        col.updates.offer(42, "1.0.1")
        c0 = _charge(board)
        first = board.run(cycles=1)[0]  # the offer arrives with the ack of its reports; the session follows
        extra = _charge(board) - c0 - ordinary
        for _ in range(4):
            board.run(cycles=1)
            if any(h["status"] == "confirmed" for h in col.updates.history(42)):
                break
        took = board.clock.now_ms() - first.start_ms
        statuses = [h["status"] for h in col.updates.history(42)]
        session = re.search(r"session: (\d+) request\(s\), (\d+) bytes received, (\d+) ms", first.output)
        served = col.updates.served.get((42, rel.version), {"chunks": 0, "bytes": 0})
        status_bytes = 2 * (24 + 27)  # switched and confirmed: one request and its reply each
        return [
            {"group": "update", "name": f"{name}: release", "value": rel.size, "unit": "bytes",
             "files": len(rel.files), "manifest": len(rel.body) + 32},
            {"group": "update", "name": f"{name}: fetch requests", "value": served["chunks"], "unit": "datagrams",
             "statuses": 2},
            {"group": "update", "name": f"{name}: on the wire", "value": served["bytes"] + status_bytes,
             "unit": "bytes"},
            {"group": "update", "name": f"{name}: fetch session", "value": int(session.group(3)) / 1000 if session
             else None, "unit": "s radio"},
            {"group": "update", "name": f"{name}: offer cycle to confirmed", "value": took / 1000, "unit": "s virtual",
             "statuses": "/".join(statuses)},
            {"group": "update", "name": f"{name}: extra charge of the update cycle", "value": extra / 3.6,
             "unit": "uAh"},
        ]
    finally:
        srv.close()
        board.close()
        col.close()
        reg.close()


def run():
    rows = []
    for name, every in (("typical (app.py changed)", False), ("full (every module changed)", True)):
        with tempfile.TemporaryDirectory() as d:
            os.environ["FIELDNODE_HOME"] = d
            rows += measure(name, every, Path(d))
    return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
