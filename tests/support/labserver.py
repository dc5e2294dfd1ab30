"""Start a real ``jupyter server`` / ``jupyter lab`` on 127.0.0.1 in a subprocess, for tests.

A subprocess (not pytest-jupyter's in-process fixtures) so that the REST tests and the Playwright
tests can share one pytest run: pytest-jupyter's event loop clashes with Playwright's.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CONFIG = HERE / "jupyter_test_config.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.url + path.lstrip("/"), data=data, method=method)
        if auth:
            request.add_header("Authorization", f"token {self.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return Response(reply.status, dict(reply.headers), reply.read().decode())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read().decode())

    def login_cookie(self) -> str:
        """The session cookie a browser gets from opening ``/lab?token=...``."""
        parsed = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=10)
        try:
            connection.request("GET", f"{parsed.path}login?token={self.token}")
            cookies = connection.getresponse().headers.get_all("Set-Cookie") or []
        finally:
            connection.close()
        return "; ".join(c.split(";")[0] for c in cookies)

    def stream(self, path: str, *, timeout: float = 30) -> Iterator[tuple[str, Any]]:
        """Server-sent events from ``path`` as (event name, decoded data)."""
        request = urllib.request.Request(self.url + path.lstrip("/"))
        request.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            name, data = "message", ""
            for raw in reply:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data += line[6:]
                elif line == "":
                    if data:
                        yield name, json.loads(data)
                    name, data = "message", ""

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def lab_server(
    tmp: Path, *, app: str = "server", env: Mapping[str, str] | None = None, timeout: float = 90
) -> Iterator[LabServer]:
    """A running server whose config, data, runtime and settings dirs all live under ``tmp``."""
    root = tmp / "root"
    settings_dir = tmp / "lab-settings"
    for d in (root, settings_dir / "@jupyterlab" / "apputils-extension"):
        d.mkdir(parents=True, exist_ok=True)
    # The "get notified about Jupyter news" toast would cover the sidebar in screenshots.
    (settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false"})
    )
    port, token = free_port(), secrets.token_hex(16)
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_DATA_DIR": str(tmp / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")])),
        **(env or {}),
    }
    log_path = tmp / f"jupyter-{app}.log"
    command = [
        sys.executable, "-m", "jupyter", app,
        f"--config={CONFIG}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--no-browser",
        "--allow-root",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}/", token, root, process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited early:\n{server.logs()[-4000:]}")
            try:
                if server.request("GET", "api/status", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {app} did not start in {timeout}s:\n{server.logs()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
