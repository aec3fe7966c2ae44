"""Wall time of what the tests check on the virtual clock only (tests/test_board_asyncio.py, test_testing_plugin.py,
test_net_transcripts.py): asyncio programs that wait seconds of virtual time on a headless virtual board, the pytest
plugin running a user's six tests, and the AT engine's transcripts (a whole up/send/time/down run of a cellular
driver against a scripted modem, one command replayed on a fresh engine) under CPython and MicroPython.

Rows: group "board" (seconds of wall time per program or session) and group "at" (per run or per replay).
"""

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "tests"))

SLEEP = """
import asyncio, time
async def tick(ms):
    while True:
        await asyncio.sleep_ms(ms)
async def main():
    a = asyncio.create_task(tick(10))
    b = asyncio.create_task(tick(25))
    await asyncio.sleep(10)
    a.cancel()
    b.cancel()
asyncio.run(main())
"""

WAIT_FOR = """
import asyncio
async def slow():
    await asyncio.sleep(3600)
async def main():
    try:
        await asyncio.wait_for(slow(), 30)
    except asyncio.TimeoutError:
        pass
asyncio.run(main())
"""


def _cycle(main):
    from fieldnode.sim.board import VirtualBoard

    with tempfile.TemporaryDirectory() as tmp:
        b = VirtualBoard("lowpower-ref", flash_dir=Path(tmp))
        try:
            b.put_files({"main.py": main})
            t0 = time.monotonic()
            c = b.run_cycle(timeout_s=120)
            return time.monotonic() - t0, c.end_ms - c.start_ms, c.end
        finally:
            b.close()


def _plugin_session():
    spec = importlib.util.spec_from_file_location("plugin_tests", ROOT / "tests" / "test_testing_plugin.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "src").mkdir()
        (Path(tmp) / "src" / "greet.py").write_text(mod.GREET)
        (Path(tmp) / "src" / "filt.py").write_text(mod.FILT)
        (Path(tmp) / "test_device.py").write_text(mod.USER_TESTS)
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tmp], cwd=tmp,
                           capture_output=True, text=True, timeout=600)
        took = time.monotonic() - t0
    tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-200:]
    return took, tail


def _transcripts():
    import transcripts as T
    from conftest import DEFAULT_HEAP, run_mpy
    from fieldnode import fwbridge

    fwbridge.install()
    from transcript_fakes import run_link

    rows = []
    for name, d in T.DIALECTS.items():
        run_link(d)  # imports
        n = 200
        t0 = time.perf_counter()
        for i in range(n):
            run_link(d, [i % 30, i % 4, d["urcs"][i % len(d["urcs"])]])
        rows.append({"group": "at", "name": f"{name} up/send/time/down, CPython", "value":
                     (time.perf_counter() - t0) / n * 1000, "unit": "ms/run"})
    code = T.FAKES + """
import json
import time as _t
d = json.loads(%r)
run_link(d)
t0 = _t.ticks_ms()
for i in range(100):
    run_link(d, [i %% 30, i %% 4, d["urcs"][i %% len(d["urcs"])]])
print(_t.ticks_diff(_t.ticks_ms(), t0) / 100)
""" % json.dumps(T.DIALECTS["sim7080g"])
    r = run_mpy(code, heap=4 * DEFAULT_HEAP, timeout=300)
    rows.append({"group": "at", "name": "sim7080g up/send/time/down, MicroPython", "value":
                 float(r.out.strip()) if r.rc == 0 else None, "unit": "ms/run",
                 **({} if r.rc == 0 else {"note": r.out[-200:]})})
    return rows


def run():
    rows = []
    for name, prog, virtual in (("asyncio: 10 s of sleeps", SLEEP, 10000), ("asyncio: 30 s wait_for", WAIT_FOR, 30000)):
        wall, ms, end = _cycle(prog)
        rows.append({"group": "board", "name": name, "value": wall, "unit": "s wall", "virtual_s": ms / 1000,
                     "end": end, "note": f"{virtual / 1000:.0f} s in wall time without the virtual poll"})
    took, tail = _plugin_session()
    rows.append({"group": "board", "name": "pytest plugin: six user tests", "value": took, "unit": "s wall",
                 "note": tail})
    return rows + _transcripts()


if __name__ == "__main__":
    for row in run():
        print(row)
