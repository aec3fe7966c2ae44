"""Benchmark: unmodified esptool writing a MicroPython-sized image to the ROM bootloader model over socket://.

    .venv/bin/python tools/bench_flash.py [--size-kib 1536] [--json build/bench_flash.json]

Prints one row per case (stub or ROM only, compressed or not): wall time and effective throughput of
``fieldnode.flash``-style write + verify. The image is mostly incompressible, as a real firmware is (about 60 %
of its size after deflate), so the deflate path does real work.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from esptool import cmds  # noqa: E402
from esptool.logger import TemplateLogger, log  # noqa: E402
from fieldnode import espimage  # noqa: E402
from fieldnode.sim.flash import FlashImage  # noqa: E402
from fieldnode.sim.rom import RomBootloader  # noqa: E402
from fieldnode.sim.romserve import SocketPort  # noqa: E402


class Quiet(TemplateLogger):
    def print(self, *a, **k): pass
    def note(self, m): pass
    def warning(self, m): pass
    def error(self, m): pass
    def stage(self, finish=False): pass
    def progress_bar(self, *a, **k): pass
    def set_verbosity(self, v): pass


def image(size: int) -> bytes:
    fw = bytearray(espimage.build_firmware("esp32"))
    rnd = os.urandom(size * 4 // 10)
    filler = (rnd + bytes(range(256)) * (size // 256 + 1))[: max(0, size - len(fw))]
    return bytes(fw + filler)


def run_case(data: bytes, stub: bool, compress: bool, tmp: Path) -> dict:
    flash = FlashImage(tmp / f"b-{stub}-{compress}.bin", 4 << 20)
    rom = RomBootloader(flash, "esp32", bytes.fromhex("246f28000001"))
    with SocketPort(rom.feed) as port:
        t0 = time.perf_counter()
        with cmds.detect_chip(port.url, connect_mode="no-reset", connect_attempts=2) as esp:
            if stub:
                esp = cmds.run_stub(esp)
            cmds.attach_flash(esp)
            t1 = time.perf_counter()
            cmds.write_flash(esp, [(0x1000, data)], compress=compress, no_compress=not compress)
            t2 = time.perf_counter()
            cmds.verify_flash(esp, [(0x1000, data)])
            t3 = time.perf_counter()
    ok = flash.read(0x1000, len(data)) == data
    flash.close()
    return {"loader": "stub" if stub else "ROM", "compressed": compress, "bytes": len(data),
            "connect_s": round(t1 - t0, 3), "write_s": round(t2 - t1, 3), "verify_s": round(t3 - t2, 3),
            "write_kib_s": round(len(data) / 1024 / (t2 - t1), 1), "ok": ok}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-kib", type=int, default=1536, help="image size (MicroPython ESP32 is ~1.6 MiB)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    log.set_logger(Quiet())
    data = image(args.size_kib * 1024)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for stub in (True, False):
            for compress in (True, False):
                rows.append(run_case(data, stub, compress, Path(d)))
    print(f"{'loader':<6} {'deflate':<8} {'bytes':>9} {'connect s':>9} {'write s':>8} {'verify s':>8} "
          f"{'KiB/s':>8}  ok")
    for r in rows:
        print(f"{r['loader']:<6} {str(r['compressed']):<8} {r['bytes']:>9} {r['connect_s']:>9.3f} "
              f"{r['write_s']:>8.3f} {r['verify_s']:>8.3f} {r['write_kib_s']:>8.1f}  {r['ok']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


def run(size_kib: int = 1536):
    """Rows for make bench (tools/bench.py): esptool write throughput against the ROM model."""
    log.set_logger(Quiet())
    data = image(size_kib * 1024)
    out = []
    with tempfile.TemporaryDirectory() as d:
        for stub in (True, False):
            for compress in (True, False):
                r = run_case(data, stub, compress, Path(d))
                out.append({"group": "flash", "name": f"esptool write-flash, {r['loader']}, "
                            f"{'deflate' if compress else 'raw'}", "value": r["write_kib_s"], "unit": "KiB/s",
                            "bytes": r["bytes"], "verify_s": r["verify_s"], "ok": r["ok"]})
    return out


if __name__ == "__main__":
    sys.exit(main())
