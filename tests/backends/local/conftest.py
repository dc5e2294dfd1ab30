"""Fixtures for the local backend: a backend on a temporary run root, runs rendered by hand.

``make_run`` writes the manifests docs/internals.md ("Rendering a run") describes, so these tests
exercise the same shapes core's renderer produces.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import textwrap
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.runs import JobEvent, RenderedRun, RunId, RunStatus
from jupyter_mlres.core.settings import Settings

RUNNER = (Path(__file__).parents[3] / "jupyter_mlres" / "runner.py").read_text(encoding="utf-8")
LABELS = {"app.kubernetes.io/managed-by": "jupyter-mlres"}


def make_run(
    code: str,
    *,
    run_id: str | None = None,
    function: str = "job",
    handler: str | None = None,
    params: Mapping[str, Any] | None = None,
    replicas: int = 1,
    env: Sequence[Mapping[str, Any]] = (),
    limits: Mapping[str, str] | None = None,
    requests: Mapping[str, str] | None = None,
    volumes: Sequence[Mapping[str, Any]] = (),
    mounts: Sequence[Mapping[str, Any]] = (),
    pod: Mapping[str, Any] | None = None,
    job: Mapping[str, Any] | None = None,
    attachments: Mapping[str, bytes] | None = None,
    secret_data: Mapping[str, Mapping[str, str]] | None = None,
    image: str = "python:3.11-slim",
) -> RenderedRun:
    run_id = run_id or f"{function}-{uuid.uuid4().hex[:10]}"
    labels = {**LABELS, "app.kubernetes.io/name": function, "jupyter-mlres.io/run-id": run_id}
    files = {
        "mlres_runner.py": RUNNER,
        "main.py": textwrap.dedent(code),
        "job.json": json.dumps(
            {
                "name": function,
                "handler": handler,
                "params": dict(params or {}),
                "kind": "job",
                "replicas": replicas,
            }
        ),
    }
    attachments = dict(attachments or {})
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": run_id, "labels": labels},
        "data": files,
    }
    if attachments:
        config_map["binaryData"] = {k: base64.b64encode(v).decode() for k, v in attachments.items()}
    container_env: list[dict[str, Any]] = [
        {"name": "MLRES_CODE_DIR", "value": "/mlres/code"},
        {"name": "MLRES_RUN_ID", "value": run_id},
        {"name": "MLRES_FUNCTION", "value": function},
        {"name": "MLRES_RESULT_PATH", "value": "/dev/termination-log"},
    ]
    manifests: list[dict[str, Any]] = [config_map]
    job_spec: dict[str, Any] = {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600}
    pod_spec: dict[str, Any] = {"restartPolicy": "Never"}
    if replicas > 1:
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": run_id, "labels": labels},
                "spec": {"clusterIP": "None", "selector": {"jupyter-mlres.io/run-id": run_id}},
            }
        )
        job_spec.update(completionMode="Indexed", completions=replicas, parallelism=replicas)
        pod_spec["subdomain"] = run_id
        container_env += [
            {
                "name": "RANK",
                "valueFrom": {
                    "fieldRef": {
                        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                    }
                },
            },
            {"name": "WORLD_SIZE", "value": str(replicas)},
            {"name": "MASTER_ADDR", "value": f"{run_id}-0.{run_id}"},
            {"name": "MASTER_PORT", "value": "29500"},
        ]
    container_env += [dict(e) for e in env]
    resources: dict[str, Any] = {}
    if limits:
        resources["limits"] = dict(limits)
    if requests:
        resources["requests"] = dict(requests)
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "command": ["python3", "/mlres/code/mlres_runner.py"],
        "env": container_env,
        "resources": resources,
        "volumeMounts": [{"name": "mlres-code", "mountPath": "/mlres/code", "readOnly": True}, *mounts],
    }
    pod_spec.update(
        containers=[container],
        volumes=[{"name": "mlres-code", "configMap": {"name": run_id}}, *volumes],
    )
    pod_spec.update(pod or {})
    job_spec["template"] = {"metadata": {"labels": labels}, "spec": pod_spec}
    job_spec.update(job or {})
    manifests.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": run_id, "labels": labels},
            "spec": job_spec,
        }
    )
    return RenderedRun(
        run_id=RunId(run_id),
        function=function,
        manifests=manifests,
        files=files,
        binary_files=attachments,
        secret_data=dict(secret_data or {}),
    )


def wait(backend: LocalBackend, run_id: RunId) -> tuple[RunStatus, list[JobEvent]]:
    """Follow the run's events to its end; its final status and every event."""
    events = list(backend.events(run_id, follow=True))
    return backend.status(run_id), events


def log_text(backend: LocalBackend, run_id: RunId, stream: str | None = None) -> str:
    return "\n".join(line.text for line in backend.logs(run_id) if stream is None or line.stream == stream)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(local_run_root=str(tmp_path / "mlres" / "runs"), local_gpu_devices=[])


@pytest.fixture(params=["warm", "cold"])
def backend(request: pytest.FixtureRequest, settings: Settings) -> Iterator[LocalBackend]:
    """A backend whose runs start from the warm start server, or each as a new interpreter."""
    warm = request.param == "warm"
    backend = LocalBackend(dataclasses.replace(settings, local_warm_start=warm))
    if warm:
        assert backend.prewarm(wait=60), "the warm start server did not answer"
    yield backend
    for status in backend.list_runs():  # never leave a test's processes behind
        if not status.phase.is_terminal:
            backend.cancel(status.run_id)
