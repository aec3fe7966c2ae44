"""The web console at fleet scale: 1,000 devices x a year of hourly reports (8.76 M rows, written straight into a
collector database with Store.insert_bulk, cached under build/bench-console/), then the time and size of each
view: the server's answer for /, /api/devices, /devices/N?range=month and /events, and, with Debian's chromium
and chromium-driver, the browser's time to first contentful paint of the fleet and device pages (goal: under 1 s
and 1 MB). FIELDNODE_BENCH_CONSOLE=DEVICES,HOURS shrinks the fleet (e.g. 50,720).

    .venv/bin/python tools/bench.py console
"""

import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "firmware"))

from fieldnode.collector import Collector, Servers  # noqa: E402
from fieldnode.collector.db import Store  # noqa: E402
from fieldnode.registry import Registry  # noqa: E402
from proto import schema  # noqa: E402

T0 = 1_767_225_600


def build(path, devices, hours):
    st = Store(path)
    for d in range(1, devices + 1):
        rows = []
        for h in range(hours):
            fl = (schema.FLAG_HEALTH if h % 24 == 0 else 0) | (schema.FLAG_ANOMALY if h % 500 == d % 500 else 0)
            f = {"device": d, "counter": h + 1, "ts": T0 + h * 3600, "flags": [], "temp": 20 + (h % 24) / 2,
                 "batt": 4.1 - h / 20000, "rms": 0.25, "p2p": 0.9, "zc": 31, "band": 0.077,
                 "health": {"rssi": -70, "qdepth": 0, "resets": 1, "rcause": 1, "dropped": 0} if h % 24 == 0
                 else None}
            rows.append((d, h + 1, T0 + h * 3600, "bench", T0 + h * 3600, fl, f, b""))
        st.insert_bulk(rows)
    st.refresh_devices()
    st.close()


def _get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
    return time.perf_counter() - t, len(body)


def _paint(url):
    """First contentful paint (ms) and bytes transferred of ``url`` in headless chromium, or None without it."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        return None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    prof = tempfile.mkdtemp()
    o = webdriver.ChromeOptions()
    o.binary_location = chromium
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={prof}"):
        o.add_argument(a)
    drv = webdriver.Chrome(options=o, service=Service(executable_path=driver))
    try:
        drv.get(url)
        time.sleep(0.5)
        return drv.execute_script(
            "const p = performance.getEntriesByName('first-contentful-paint')[0];"
            "const n = performance.getEntriesByType('navigation')[0];"
            "const r = performance.getEntriesByType('resource').reduce((s, e) => s + e.transferSize, 0);"
            "return [p ? p.startTime : null, n.transferSize + r];")
    finally:
        drv.quit()
        shutil.rmtree(prof, ignore_errors=True)


def run():
    devices, hours = (int(x) for x in os.environ.get("FIELDNODE_BENCH_CONSOLE", "1000,8760").split(","))
    cache = ROOT / "build" / "bench-console" / f"c-{devices}x{hours}.sqlite"
    if not cache.exists():
        t = time.monotonic()
        tmp = cache.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        build(tmp, devices, hours)
        tmp.rename(cache)
        print(f"  console: built {devices} x {hours} reports in {time.monotonic() - t:.0f} s", file=sys.stderr)
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(Path(d) / "reg.sqlite")
        for i in range(1, devices + 1):
            reg.add_device(i, bytes(16), who="bench", board="m5stack-core2")
        col = Collector(cache, reg, clock=lambda: T0 + hours * 3600)
        srv = Servers(col, udp=-1, tcp=-1, http=0)
        u = srv.console_url
        rows = []
        try:
            for name, path in (("fleet page", ""), ("fleet API", "api/devices"),
                               ("device page (month)", "devices/1?range=month"), ("events page", "events")):
                s, n = _get(u + path)
                rows.append({"group": "console", "name": f"{name} served", "value": round(s * 1000), "unit": "ms",
                             "bytes": n, "scale": f"{devices} devices x {hours} h"})
                rows.append({"group": "console", "name": f"{name} size", "value": round(n / 1024), "unit": "KiB"})
            for name, path in (("fleet", ""), ("device (month)", "devices/1?range=month")):
                got = _paint(u + path)
                if got:
                    rows.append({"group": "console", "name": f"{name} first contentful paint",
                                 "value": round(got[0]) if got[0] else None, "unit": "ms",
                                 "transferred_kib": round(got[1] / 1024)})
        finally:
            srv.close()
            col.close()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
