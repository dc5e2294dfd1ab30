"""A real IPython shell with the extension loaded, settings on a temporary run root, and a
FakeBackend registered as backend ``fake`` (scripted by the test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import comm
import pytest
from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from jupyter_mlres.backends.registry import _registered, register_backend
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.kernel.magics import MlresMagics
from jupyter_mlres.testing import FakeBackend


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    ip = start_ipython()
    if ip is None:  # another test module started IPython's global test shell first
        from IPython import get_ipython

        ip = get_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "jupyter_mlres")
    return ip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(local_run_root=str(tmp_path / "runs"), log_tail_lines=5)


@pytest.fixture
def magics(shell: InteractiveShell, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> MlresMagics:
    monkeypatch.delenv("MLRES_VIEW", raising=False)
    found: MlresMagics = shell.magics_manager.registry["MlresMagics"]
    found.settings = settings
    found.view = "text"
    found.cancel_on_interrupt = False
    found._runs.clear()
    return found


@pytest.fixture
def ip(shell: InteractiveShell, magics: MlresMagics) -> Iterator[InteractiveShell]:
    before = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


@pytest.fixture
def fake() -> Iterator[FakeBackend]:
    backend = FakeBackend(name="fake")
    register_backend("fake", lambda settings: backend)
    yield backend
    _registered.pop("fake", None)


class RecordingComm(BaseComm):
    """Counts what a widget would send to the front end (one comm message each)."""

    messages: ClassVar[list[int]] = []

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        RecordingComm.messages.append(len(json.dumps(data or {}, default=str)))


@pytest.fixture
def comm_messages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    RecordingComm.messages = []
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return RecordingComm.messages
