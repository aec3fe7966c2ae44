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
from fieldnode.deploy import deploy
from fieldnode.device import connect
from fieldnode.errors import DeviceError
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
