from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.labserver import LabServer, lab_server

_ids = itertools.count()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """One real ``jupyter server`` with the mlres API and the scripted ``fake`` backend."""
    with lab_server(tmp_path_factory.mktemp("jupyter-server")) as s:
        yield s


@pytest.fixture
def new_run(server: LabServer) -> Callable[..., str]:
    """Submit a scripted run on the fake backend; returns its id."""

    def submit(function: str = "train", **extra: object) -> str:
        run_id = f"{function}-{next(_ids)}-{Path(server.root).parent.name[-6:]}".lower()
        reply = server.request("POST", "mlres-test/runs", {"run_id": run_id, "function": function, **extra})
        assert reply.status == 200, reply.text
        return run_id

    return submit
