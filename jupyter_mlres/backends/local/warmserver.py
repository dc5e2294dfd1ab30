"""The warm start server: one long-lived, preloaded interpreter that forks each run's supervisor.

Starting a run used to mean starting a supervisor interpreter and then a runner interpreter,
about ten times the cost of ``python -c pass``. This server pays the interpreter start and the
imports once; a run then costs a fork for its supervisor and a fork per replica (see launch.py).
It is single-threaded (forking a process with threads is unsafe) and serves one Unix socket
(``warmstart.address`` names it: private to the user, one per interpreter, jupyter_mlres source
and startup environment). A supervisor it forks is in its own session, so it outlives the server
as it outlives the kernel; the server only reaps it. It exits after ``IDLE_SECONDS`` without a
request, or as soon as its socket is taken over or removed.

Protocol, one request per connection: a 4-byte big-endian length, then that much JSON
``{"run_dir": str, "env": {str: str}, "umask": int}``, sent with one file descriptor (SCM_RIGHTS):
the supervisor's end of the kernel's notification channel. Reply: JSON ``{"pid": int,
"started": float}`` (the supervisor), or ``{"error": str}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import select
import socket
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Final

IDLE_SECONDS: Final = 900.0
_REAP_INTERVAL: Final = 0.25
_MAX_REQUEST: Final = 16 << 20


def preload() -> None:
    """Import what every supervisor and runner needs, once, before the first fork."""
    import inspect  # noqa: F401  # the runner's imports
    import pickle  # noqa: F401
    import runpy  # noqa: F401
    import threading  # noqa: F401

    import psutil  # noqa: F401

    from jupyter_mlres.backends.local import launch, supervisor  # noqa: F401

    launch.precompile_runner(str(Path(launch.__file__).parents[2] / "runner.py"))

    with contextlib.suppress(ImportError):
        import cloudpickle  # noqa: F401  # unpickles captured notebook functions
    # Out of the collector's sight: a fork's collections would otherwise write to every
    # preloaded object's header, copying the server's memory page by page.
    gc.collect()
    gc.freeze()


def serve(address: str, idle_seconds: float = IDLE_SECONDS) -> int:
    lock = open(address + ".lock", "a")  # noqa: SIM115 - held for the server's whole life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another server for this address is up (or starting): it serves
    preload()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    os.chmod(address, 0o600)
    listener.listen(64)
    inode = os.stat(address).st_ino
    last_request = time.monotonic()
    try:
        while True:
            readable, _, _ = select.select([listener], [], [], _REAP_INTERVAL)
            _reap()
            if readable:
                conn, _ = listener.accept()
                with conn:
                    _handle(conn, listener, lock)
                last_request = time.monotonic()
            elif time.monotonic() - last_request > idle_seconds or not _still_ours(address, inode):
                return 0
    finally:
        if _still_ours(address, inode):
            # Leave nothing behind: a server starting right now and holding the old lock file
            # would bind the same address, and the later of two such servers sees the socket
            # is no longer its own and leaves within a fraction of a second.
            for leftover in (address, address + ".lock"):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
            log = str(Path(address).with_suffix(".log"))
            with contextlib.suppress(OSError):
                if os.path.getsize(log) == 0:
                    os.unlink(log)
        listener.close()
        lock.close()


def _still_ours(address: str, inode: int) -> bool:
    try:
        return os.stat(address).st_ino == inode
    except OSError:
        return False


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _handle(conn: socket.socket, listener: socket.socket, lock: Any) -> None:
    conn.settimeout(10.0)
    fds: list[int] = []
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != os.getuid():
            return  # the socket is private already; never serve another user anyway
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 1)
        if len(data) < 4 or len(fds) != 1:
            raise ValueError("a request is a length, JSON and one descriptor")
        size = struct.unpack(">I", data[:4])[0]
        if size > _MAX_REQUEST:
            raise ValueError(f"request of {size} bytes")
        body = bytearray(data[4:])
        while len(body) < size:
            chunk = conn.recv(min(1 << 20, size - len(body)))
            if not chunk:
                raise ValueError("request cut short")
            body += chunk
        request = json.loads(body)
        pid = _fork_supervisor(request, fds[0], [listener, conn], lock)
        reply: dict[str, Any] = {"pid": pid, "started": _create_time(pid)}
    except Exception as e:
        reply = {"error": f"{type(e).__name__}: {e}"}
    finally:
        for fd in fds:
            os.close(fd)
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(reply).encode())


def _create_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _fork_supervisor(request: dict[str, Any], notify_fd: int, sockets: list[socket.socket], lock: Any) -> int:
    run_dir = str(request["run_dir"])
    env = {str(k): str(v) for k, v in request["env"].items()}
    umask = int(request["umask"])
    log_path = os.path.join(run_dir, "supervisor.log")
    pid = os.fork()
    if pid:
        return pid
    code = 1  # pragma: no cover - the child (tests observe the runs it supervises)
    try:
        for sock in sockets:
            sock.close()
        lock.close()  # the server's lock must die with the server, not with its runs
        os.setsid()
        os.umask(umask)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(devnull)
        os.chdir(run_dir)
        # The kernel's environment, as if the kernel had started this supervisor itself.
        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        from jupyter_mlres.backends.local.supervisor import Supervisor

        code = Supervisor(Path(run_dir), notify_fd=notify_fd).run()
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: ... warmserver ADDRESS", file=sys.stderr)
        return 2
    return serve(argv[0])
