"""``%load_ext jupyter_mlres`` gives the local backend's warm start server a head start."""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres.backends.local import warmstart
from jupyter_mlres.kernel.magics import load_ipython_extension


def test_loading_the_extension_starts_the_warm_start_server(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # a directory no other server uses
    where = warmstart.address(sys.executable)
    assert where is not None
    assert not warmstart.wait_ready(where, 0)
    load_ipython_extension(shell)
    try:
        assert warmstart.wait_ready(where, 60)
    finally:
        if warmstart.wait_ready(where, 0):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(where))
                pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
            os.kill(pid, signal.SIGTERM)
