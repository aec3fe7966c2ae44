"""fieldnode deploy through mpremote's transport: only what changed is sent, verified, stale shadows removed.

The board here is the MicroPython unix port on a pseudo-terminal with its working directory as the board's
filesystem (the virtual board's own tests cover the littlefs root; deploy only needs a raw REPL and files).
"""

import json
import os
import pty
import subprocess
import tty

import pytest
from fieldnode import build
from fieldnode.deploy import deploy, protected
from fieldnode.device import connect
from fieldnode.errors import ConfigError, DeviceError
from fieldnode.paths import micropython_cmd


@pytest.fixture
def pty_board(tmp_path):
    m, s = pty.openpty()
    tty.setraw(s)
    root = tmp_path / "flash"
    root.mkdir()
    p = subprocess.Popen([micropython_cmd()], stdin=m, stdout=m, stderr=m, cwd=root)
    os.close(m)
    yield os.ttyname(s), root
    p.kill()
    p.wait()
    os.close(s)


def test_deploy_uploads_everything_then_nothing(pty_board):
    port, root = pty_board
    with connect(port) as dev:
        first = deploy(dev, "m5stack-core2")
        second = deploy(dev, "m5stack-core2")
    files = build.build("m5stack-core2", arch="x64").files
    assert len(first.uploaded) == len(files) and first.unchanged == 0
    assert second.uploaded == [] and second.unchanged == len(files)
    for dev_path, local in files.items():
        assert (root / dev_path.lstrip("/")).read_bytes() == local.read_bytes()
    assert not list(root.rglob("*.tmp"))


def test_deploy_sends_only_the_changed_file_and_removes_shadowing_py(pty_board):
    port, root = pty_board
    with connect(port) as dev:
        deploy(dev, "lowpower-ref")
        (root / "policy.mpy").write_bytes(b"corrupted")
        (root / "policy.py").write_text("raise ImportError('stale source shadows the module')\n")
        res = deploy(dev, "lowpower-ref")
    assert res.uploaded == ["policy.mpy"]
    assert res.removed == ["policy.py"]
    assert not (root / "policy.py").exists()


def test_config_is_not_overwritten_unless_asked(pty_board):
    port, root = pty_board
    with connect(port) as dev:
        r1 = deploy(dev, "lowpower-ref", config={"interval": 600})
        r2 = deploy(dev, "lowpower-ref", config={"interval": 60})
        assert json.loads((root / "config.json").read_text()) == {"interval": 600}
        r3 = deploy(dev, "lowpower-ref", config={"interval": 60}, overwrite_config=True)
    assert (r1.config_written, r2.config_written, r3.config_written) == (True, False, True)
    assert json.loads((root / "config.json").read_text()) == {"interval": 60}


def test_no_such_port_says_so(tmp_path):
    with pytest.raises(DeviceError, match="no such port"):
        connect(str(tmp_path / "ttyUSB9"))


def test_port_busy_says_so(pty_board):
    port, _ = pty_board
    with connect(port):
        with pytest.raises(DeviceError, match="busy"):
            connect(port)


def test_not_a_micropython_board(tmp_path):
    m, s = pty.openpty()
    tty.setraw(s)
    # a device that echoes nothing useful: cat of /dev/zero-like silence (a sleeping process holding the master)
    p = subprocess.Popen(["sleep", "30"], stdin=m, stdout=m, stderr=m)
    try:
        with pytest.raises(DeviceError, match="not a MicroPython board"):
            connect(os.ttyname(s), timeout=1)
    finally:
        p.kill()
        os.close(m)
        os.close(s)


def test_deploy_takes_back_a_device_that_ran_an_update_over_the_link(pty_board):
    port, root = pty_board
    with connect(port) as dev:
        deploy(dev, "lowpower-ref")
        (root / "app.ptr").write_bytes(b"pointer to /app_b")
        res = deploy(dev, "lowpower-ref")
        again = deploy(dev, "lowpower-ref")
    assert res.ota_pointer_removed and not (root / "app.ptr").exists()
    assert "replaced" in res.summary() and not again.ota_pointer_removed


def test_deploy_removes_the_update_pointer_and_its_temporary_copy(pty_board):
    port, root = pty_board
    with connect(port) as dev:
        deploy(dev, "lowpower-ref")
        (root / "app.ptr.tmp").write_bytes(b"a pointer cut before its rename")  # the loader falls back to it
        res = deploy(dev, "lowpower-ref")
    assert res.ota_pointer_removed and not (root / "app.ptr.tmp").exists()


def test_a_bundle_that_carries_a_device_file_is_refused_before_anything_is_sent(pty_board, monkeypatch, tmp_path):
    port, root = pty_board
    real = build.build
    stray = tmp_path / "state.json"
    stray.write_bytes(b'{"resets": 0}')

    def with_a_state_file(*a, **kw):  # as if someone put a default state.json into firmware/
        b = real(*a, **kw)
        b.files = dict(b.files, **{"/state.json": stray})
        return b

    with connect(port) as dev:
        deploy(dev, "lowpower-ref")
        (root / "state.json").write_bytes(b"the device's own")
        (root / "policy.mpy").write_bytes(b"changed")
        monkeypatch.setattr(build, "build", with_a_state_file)
        with pytest.raises(ConfigError, match=r"carries state\.json, which the device keeps of its own"):
            deploy(dev, "lowpower-ref")
    assert (root / "state.json").read_bytes() == b"the device's own"
    assert (root / "policy.mpy").read_bytes() == b"changed"  # refused before the first file went


def test_protected_names_every_file_a_provisioned_device_keeps_and_deploy_leaves_them(fieldnode_board_factory,
                                                                                       fieldnode_collector):
    """What the real firmware writes once provisioned and cycling (config, last good config, key, state, the queue
    and its cursor) is exactly what PROTECTED covers; a second deploy, with a config offered, changes none of it."""
    b = fieldnode_board_factory("m5stack-core2")
    b.deploy_firmware()
    fieldnode_collector.provision(b)
    b.run_cycles(2)
    files = _device_files(b)
    shipped = {p.lstrip("/") for p in build.build("m5stack-core2", arch="x64").files}
    own = sorted(set(files) - shipped)
    assert {"config.json", "config.good", "key.bin", "state.json", "q/state"} <= set(own), own
    assert [p for p in own if not protected(p)] == []
    before = {p: b.read_file(p) for p in own}
    res = b.deploy_firmware(config={"device_id": 1})
    assert not res.config_written and res.uploaded == []
    assert {p: b.read_file(p) for p in _device_files(b) if p not in shipped} == before


_WALK = """
import os
def _walk(d):
    out = []
    for name, kind, *_ in os.ilistdir(d or '/'):
        out += _walk(d + name + '/') if kind == 0x4000 else [d + name]
    return out
"""


def _device_files(b) -> list:
    """Every file on the board, recursively, as paths without the leading /."""
    b.exec(_WALK)
    return b.eval("_walk('')")


def test_deploy_refuses_a_board_file_the_device_does_not_run(pty_board):
    port, root = pty_board
    with connect(port) as dev:
        deploy(dev, "m5stack-core2")
        with pytest.raises(ConfigError) as e:
            deploy(dev, "lowpower-ref")
        assert "runs the board file m5stack-core2, not lowpower-ref" in str(e.value)
        assert "--board m5stack-core2" in e.value.hint
        assert json.loads((root / "board.json").read_text())["name"] == "m5stack-core2"  # nothing was sent
        res = deploy(dev, "lowpower-ref", change_board=True)
    assert "board.json" in res.uploaded
    assert json.loads((root / "board.json").read_text())["name"] == "lowpower-ref"


def test_deploy_refuses_a_board_file_for_another_chip():
    from fieldnode.deploy import check_board

    class RealS3:  # what a LILYGO T-SIM7080G-S3 running MicroPython answers
        port = "/dev/ttyACM0"

        def value(self, code):
            return None, "LILYGO T-SIM7080G-S3 with ESP32S3"

    with pytest.raises(ConfigError) as e:
        check_board(RealS3(), "m5stack-core2")
    assert "is an ESP32S3" in str(e.value) and "for an ESP32" in str(e.value)
    check_board(RealS3(), "lilygo-t-sim7080g-s3")  # its own board file passes
