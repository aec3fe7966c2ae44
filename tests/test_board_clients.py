"""Unmodified mpremote and ampy against the interactive virtual board, on its pseudo-terminal (no ``resume``)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_for
from fieldnode.sim.board import VirtualBoard

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.xdist_group("board-clients")


def tool(*args, timeout=60):
    r = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout)
    return r


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    b = VirtualBoard("m5stack-atom-lite", flash_dir=tmp_path_factory.mktemp("flash"))
    b.start()
    assert wait_for(lambda: any(e["kind"] == "firmware" and e["text"] == "boot:mounted" for e in b.events))
    yield b
    b.close()


def mpremote(board, *args):
    r = tool("mpremote", "connect", board.port, *args)
    assert r.returncode == 0, f"mpremote {args}: rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_mpremote_files_and_code(board, tmp_path):
    src = tmp_path / "hello.py"
    src.write_text("def hi():\n    return 'hi from the board'\n" + "# padding\n" * 300)
    mpremote(board, "fs", "cp", str(src), ":hello.py")
    listing = mpremote(board, "fs", "ls")
    assert "hello.py" in listing and "boot.py" in listing
    out = mpremote(board, "exec", "import hello; print(hello.hi())")
    assert "hi from the board" in out
    back = tmp_path / "back.py"
    mpremote(board, "fs", "cp", ":hello.py", str(back))
    assert back.read_text() == src.read_text()
    mpremote(board, "fs", "rm", ":hello.py")
    assert "hello.py" not in mpremote(board, "fs", "ls")


def test_mpremote_cp_recursive_and_run(board, tmp_path):
    tree = tmp_path / "lib"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("VALUE = 42\n")
    (tree / "top.bin").write_bytes(bytes(range(256)) * 20)
    mpremote(board, "fs", "cp", "-r", str(tree), ":")
    assert "pkg" in mpremote(board, "fs", "ls", ":lib")
    script = tmp_path / "script.py"
    script.write_text("import sys\nsys.path.append('/lib')\nimport pkg, os\nprint('value', pkg.VALUE, "
                      "os.stat('/lib/top.bin')[6])\n")
    out = mpremote(board, "run", str(script))
    assert "value 42 5120" in out
    # The bytes live in the board's flash image, inside the littlefs "vfs" partition.
    assert board.read_file("/lib/top.bin") == bytes(range(256)) * 20


def test_mpremote_soft_reset_runs_boot_py_and_keeps_raw_repl(board):
    mpremote(board, "exec", "f=open('boot.py','w'); f.write('BOOTED = 1\\n'); f.close()")
    n = sum(1 for e in board.events if e["kind"] == "boot" and e["soft"])
    out = mpremote(board, "soft-reset", "exec", "print('booted', BOOTED)")
    assert "booted 1" in out
    assert sum(1 for e in board.events if e["kind"] == "boot" and e["soft"]) > n


def test_mpremote_reset_is_a_hard_reset(board):
    n = sum(1 for e in board.events if e["kind"] == "boot" and not e["soft"])
    mpremote(board, "reset")
    assert wait_for(lambda: sum(1 for e in board.events if e["kind"] == "boot" and not e["soft"]) > n)
    out = mpremote(board, "exec", "import machine; print('cause', machine.reset_cause())")
    assert "cause 2" in out  # HARD_RESET after machine.reset()


def test_ampy_put_get_ls_rm_run(board, tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("field data\n" * 50)
    port = ["ampy", "--port", board.port]
    assert tool(*port, "put", str(f), "/data.txt").returncode == 0
    ls = tool(*port, "ls")
    assert ls.returncode == 0 and "/data.txt" in ls.stdout
    got = tool(*port, "get", "/data.txt")
    assert got.returncode == 0 and got.stdout.replace("\r\n", "\n") == f.read_text() + "\n"  # ampy prints it
    script = tmp_path / "run.py"
    script.write_text("print(sum(range(10)))\n")
    run = tool(*port, "run", str(script))
    assert run.returncode == 0 and "45" in run.stdout
    assert tool(*port, "rm", "/data.txt").returncode == 0
    assert "/data.txt" not in tool(*port, "ls").stdout


def test_friendly_repl_ctrl_c_and_ctrl_d(board):
    import serial

    with serial.Serial(board.port, 115200, timeout=0.3) as s:
        s.write(b"\r\x02")  # friendly REPL
        s.read(4096)
        s.write(b"while True: pass\r\r\r")
        time.sleep(0.3)
        s.write(b"\x03")
        out = s.read(4096)
        assert b"KeyboardInterrupt" in out
        s.write(b"\x04")
        out = b""
        end = time.monotonic() + 5
        while b">>> " not in out and time.monotonic() < end:
            out += s.read(4096)
        assert b"MPY: soft reboot\r\n" in out
        assert b"with ESP32\r\n" in out and b"linux" not in out
