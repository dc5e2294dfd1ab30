"""The kernel's side of the warm start server (see warmserver.py): find it, start it, ask it.

A server is only used when it is certainly the right one: its address is a hash of the Python
that runs jobs, this copy of jupyter_mlres (path and source files) and the environment Python
reads at startup, and it lives in a directory only this user can enter. Anything unexpected
(no server yet, no Unix sockets, a foreign directory) means the run starts cold, as a new
interpreter, and a server is started for the next run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import socket
import stat
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jupyter_mlres.backends.local import launch
from jupyter_mlres.core.errors import SubmitError

__all__ = ["WarmStart", "address", "ensure_server", "request_start", "wait_ready"]

_PACKAGE_DIR: Final = Path(__file__).resolve().parents[2]
_ANSWER_TIMEOUT: Final = 10.0
# The server's entry point, ``python -c BOOT ADDRESS``: like the supervisor's boot code, it
# gets this very copy of jupyter_mlres without running its __init__ (the public API, which
# neither the server nor the jobs it forks need).
_SERVER_BOOT: Final = f"""
import sys, types
package = types.ModuleType("jupyter_mlres")
package.__path__ = [{str(_PACKAGE_DIR)!r}]
sys.modules["jupyter_mlres"] = package
from jupyter_mlres.backends.local.warmserver import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass(frozen=True)
class WarmStart:
    """A supervisor the server forked."""

    pid: int
    started: float | None


def _private_dir() -> Path | None:
    path = Path(tempfile.gettempdir()) / f"mlres-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None  # not certainly ours: never hand run requests to whoever made it
    return path


@functools.cache
def _source_stamp() -> str:
    digest = hashlib.sha256(str(_PACKAGE_DIR).encode())
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        info = path.stat()
        digest.update(f"{path}:{info.st_mtime_ns}:{info.st_size}".encode())
    return digest.hexdigest()


def address(python: str) -> Path | None:
    """The socket of the server for ``python`` and the current startup environment."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "fork"):
        return None
    directory = _private_dir()
    if directory is None:
        return None
    try:
        executable = os.stat(python)
    except OSError:
        return None
    startup = sorted(
        (k, v)
        for k, v in os.environ.items()
        if (k.startswith(launch.STARTUP_ENV_PREFIXES) or k in launch.STARTUP_ENV_NAMES)
        and k not in launch.STARTUP_ENV_EXEMPT
    )
    key = json.dumps([python, executable.st_mtime_ns, _source_stamp(), startup])
    return directory / f"warm-{hashlib.sha256(key.encode()).hexdigest()[:20]}.sock"


def ensure_server(where: Path, python: str) -> None:
    """Start a server at ``where`` unless one answers there; returns at once."""
    if _answers(where):
        return
    with open(where.with_suffix(".log"), "ab") as log:
        subprocess.Popen(
            [python, "-c", _SERVER_BOOT, str(where)],
            cwd=where.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    # Not waited for (nor reaped here: it outlives this process; init reaps it).


def wait_ready(where: Path, timeout: float) -> bool:
    """True once the server at ``where`` answers, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not _answers(where):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _answers(where: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(where))
        except OSError:
            return False
    return True


def request_start(where: Path, run_dir: Path, notify: socket.socket) -> WarmStart | None:
    """Have the server at ``where`` fork the supervisor of ``run_dir``.

    None when no server answers (start the run cold); :class:`SubmitError` when one answered
    but did not start it. ``notify`` is the supervisor's end of the notification channel.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(_ANSWER_TIMEOUT)
        try:
            sock.connect(str(where))
        except OSError:
            return None
        umask = os.umask(0o022)
        os.umask(umask)
        body = json.dumps({"run_dir": str(run_dir), "env": dict(os.environ), "umask": umask}).encode()
        message = struct.pack(">I", len(body)) + body
        try:
            sent = socket.send_fds(sock, [message], [notify.fileno()])
            if sent < len(message):
                sock.sendall(message[sent:])
            sock.shutdown(socket.SHUT_WR)
            reply = bytearray()
            while chunk := sock.recv(4096):  # the server closes after its one answer
                reply += chunk
            answer = json.loads(reply)
        except (OSError, ValueError) as e:
            raise SubmitError(
                f"the local warm start server ({where}) did not answer: {e}; the run was not submitted. "
                "Try again, or set Settings.local_warm_start=False (MLRES_LOCAL_WARM_START=false) "
                "to start runs without it"
            ) from e
    if "error" in answer:
        raise SubmitError(f"the local warm start server ({where}) could not start the run: {answer['error']}")
    with contextlib.suppress(TypeError, ValueError):
        return WarmStart(int(answer["pid"]), answer.get("started"))
    raise SubmitError(f"the local warm start server ({where}) answered {answer!r}")
