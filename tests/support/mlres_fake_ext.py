"""A test-only Jupyter Server extension: a scripted backend the tests drive over HTTP.

Loaded by ``jupyter_test_config.py`` next to ``jupyter_mlres`` in a real ``jupyter server`` /
``jupyter lab`` subprocess. Registers backend ``fake`` (a :class:`FakeBackend` with replicas and
notebooks) and ``broken`` (cannot be created), plus ``/mlres-test/...`` endpoints that submit runs
and make them log, change phase and finish.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from jupyter_mlres.backends.registry import register_backend
from jupyter_mlres.core.errors import BackendUnavailable
from jupyter_mlres.core.runs import JobPhase, RenderedRun, ReplicaStatus, RunId
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.testing import FakeBackend


class ScriptedBackend(FakeBackend):
    """FakeBackend whose runs also carry replicas and the notebook that started them."""

    def submit_scripted(self, run_id: str, function: str, replicas: int, notebook: str, secret: str) -> None:
        rendered = RenderedRun(
            run_id=RunId(run_id),
            function=function,
            manifests=[],
            files={"main.py": "print('hi')\n"},
            secret_data={f"{run_id}-v3io": {"accessKey": secret}} if secret else {},
        )
        self.submit(rendered)
        self._set(
            run_id,
            notebook=notebook,
            replicas=tuple(ReplicaStatus(i, JobPhase.PENDING) for i in range(replicas)),
        )

    def set_replica(self, run_id: str, index: int, phase: JobPhase, reason: str = "") -> None:
        status = self.status(RunId(run_id))
        replicas = tuple(
            replace(r, phase=phase, reason=reason) if r.index == index else r for r in status.replicas
        )
        self._set(run_id, replicas=replicas)
        self.emit_event(RunId(run_id), reason or str(phase), replica=index, phase=phase)

    def _set(self, run_id: str, **changes: Any) -> None:
        with self._changed:
            run = self._get(RunId(run_id))
            run.status = replace(run.status, **changes)

    def finish(self, run_id: RunId, phase: JobPhase = JobPhase.SUCCEEDED, **kwargs: Any) -> None:
        status = self.status(run_id)
        self._set(run_id, replicas=tuple(replace(r, phase=phase) for r in status.replicas))
        super().finish(run_id, phase, **kwargs)


BACKEND = ScriptedBackend(name="fake")


def _broken(settings: Settings) -> ScriptedBackend:
    raise BackendUnavailable("cluster at https://127.0.0.1:1 refused the connection")


register_backend("fake", lambda settings: BACKEND)
register_backend("broken", _broken)


class _Control(APIHandler):
    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.request.body or b"{}")
        return data


class SubmitHandler(_Control):
    @web.authenticated
    def post(self) -> None:
        b = self.body()
        BACKEND.submit_scripted(
            b["run_id"],
            b.get("function", b["run_id"].split("-")[0]),
            int(b.get("replicas", 1)),
            b.get("notebook", ""),
            b.get("secret", ""),
        )
        self.finish(json.dumps({"ok": True}))


class ActionHandler(_Control):
    @web.authenticated
    def post(self, run_id: str, action: str) -> None:
        b = self.body()
        rid = RunId(run_id)
        if action == "log":
            BACKEND.emit_log(
                rid, *b["lines"], replica=int(b.get("replica", 0)), stream=b.get("stream", "stdout")
            )
        elif action == "start":
            BACKEND.start(rid)
            for r in BACKEND.status(rid).replicas:
                BACKEND.set_replica(run_id, r.index, JobPhase.RUNNING)
        elif action == "replica":
            BACKEND.set_replica(run_id, int(b["index"]), JobPhase(b["phase"]), b.get("reason", ""))
        elif action == "finish":
            BACKEND.finish(rid, JobPhase(b.get("phase", "Succeeded")))
        elif action == "drip":
            threading.Thread(
                target=_drip,
                args=(rid, int(b.get("count", 1000)), float(b.get("interval", 0.2))),
                daemon=True,
            ).start()
        else:
            raise web.HTTPError(400, f"unknown action {action}")
        self.finish(json.dumps({"ok": True}))


def _drip(run_id: RunId, count: int, interval: float) -> None:
    """Print a numbered line every ``interval`` seconds until ``count`` or the run ends."""
    stop = threading.Event()
    for i in range(count):
        if BACKEND.status(run_id).phase.is_terminal:
            return
        BACKEND.emit_log(run_id, f"tick {i}")
        stop.wait(interval)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlres_fake_ext"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "/mlres-test/runs"), SubmitHandler),
            (url_path_join(base, r"/mlres-test/runs/([^/]+)/([a-z]+)"), ActionHandler),
        ],
    )
