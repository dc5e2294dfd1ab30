"""Test-side actors for the emulator: a run renderer (until core's Function.to_run is merged) and
a scripted job controller/kubelet that acts through the HTTP API, as the real ones do."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_mlres.core.function import new_function
from jupyter_mlres.core.runs import RenderedRun
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.volumes import mount_v3io

from .emulator import RunningEmulator

NS = "ns"
USER_AGENT = "mlres-test-kubelet"


def render_run(
    run_id: str,
    *,
    function: str = "train",
    code: str = "def handler():\n    print('hello')\n    return 42\n",
    handler: str | None = "handler",
    replicas: int = 1,
    image: str = "python:3.11-slim",
    resources: Mapping[str, Any] | None = None,
    priority_class: str | None = None,
    preemption_retry: bool = False,
    secret: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    backoff_limit: int = 0,
) -> RenderedRun:
    """What core renders for such a function (``Function.to_run``), as the magic would submit it."""
    settings = Settings(
        allowed_priority_classes=(priority_class,) if priority_class else (),
        # spot nodes configured + mode "allow": core adds the podFailurePolicy that retries
        # preempted pods without using up the retry budget
        preemptible_node_selector={"node.kubernetes.io/lifecycle": "spot"} if preemption_retry else {},
    )
    fn = new_function(function, image=image, code=code, handler=handler)
    if replicas > 1:
        fn.spec.replicas = replicas
    fn.spec.retries = backoff_limit
    fn.spec.resources = dict(
        resources or {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    )
    if priority_class:
        fn.with_priority_class(priority_class)
    if preemption_retry:
        fn.with_preemption_mode("allow")
    if node_selector:
        fn.with_node_selection(node_selector=dict(node_selector))
    if secret:
        fn.apply(mount_v3io(remote="bigdata/data", access_key=secret))
    return fn.to_run(settings, run_id=run_id)


class Kube:
    """Plays the Job controller and the kubelet: creates pods, patches their status, writes logs."""

    def __init__(self, cluster: RunningEmulator, namespace: str = NS) -> None:
        self.cluster = cluster
        self.em = cluster.emulator
        self.ns = namespace

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.cluster.url + path, data=data, method=method)
        req.add_header("Content-Type", content_type)
        req.add_header("User-Agent", USER_AGENT)
        if self.em.token:
            req.add_header("Authorization", f"Bearer {self.em.token}")
        context = ssl.create_default_context(cafile=self.cluster.cafile) if self.cluster.cafile else None
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return json.loads(resp.read() or b"null")

    # -- objects ------------------------------------------------------------------------------------
    def add_node(
        self,
        name: str,
        *,
        cpu: str = "8",
        memory: str = "32Gi",
        labels: Mapping[str, str] | None = None,
        gpus: int = 0,
        taints: list[dict[str, str]] | None = None,
    ) -> None:
        alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
        if gpus:
            alloc["nvidia.com/gpu"] = str(gpus)
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"taints": taints or []},
            "status": {"allocatable": alloc},
        }
        self.request("POST", "/api/v1/nodes", body)

    def add_priority_class(self, name: str, value: int = 1000) -> None:
        self.request(
            "POST",
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
            },
        )

    def job(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/apis/batch/v1/namespaces/{self.ns}/jobs/{run_id}")

    def create_pod(self, run_id: str, index: int = 0, *, suffix: str | None = None) -> str:
        job = self.job(run_id)
        template = job["spec"]["template"]
        name = f"{run_id}-{index}-{suffix or uuid.uuid4().hex[:5]}"
        labels = dict(
            template["metadata"]["labels"],
            **{"batch.kubernetes.io/job-completion-index": str(index), "job-name": run_id},
        )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": {"batch.kubernetes.io/job-completion-index": str(index)},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": run_id,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending"},
        }
        self.request("POST", f"/api/v1/namespaces/{self.ns}/pods", pod)
        return name

    def pod_status(self, pod: str, status: dict[str, Any]) -> None:
        self.request(
            "PATCH",
            f"/api/v1/namespaces/{self.ns}/pods/{pod}/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )

    def job_status(self, run_id: str, status: dict[str, Any]) -> None:
        self.request(
            "PATCH",
            f"/apis/batch/v1/namespaces/{self.ns}/jobs/{run_id}/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )

    # -- the kubelet's verbs --------------------------------------------------------------------------
    def unschedulable(self, pod: str, message: str) -> None:
        self.pod_status(
            pod,
            {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
                ],
            },
        )

    def waiting(self, pod: str, reason: str, message: str = "", image: str = "python:3.11-slim") -> None:
        self.pod_status(
            pod,
            {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "main",
                        "image": image,
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": reason, "message": message}},
                    }
                ],
            },
        )

    def running(self, pod: str) -> None:
        self.em.open_log(self.ns, pod)
        self.pod_status(
            pod,
            {
                "phase": "Running",
                "startTime": now(),
                "containerStatuses": [
                    {
                        "name": "main",
                        "image": "python:3.11-slim",
                        "ready": True,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": now()}},
                    }
                ],
            },
        )

    def terminated(
        self,
        pod: str,
        exit_code: int,
        *,
        reason: str = "",
        message: str = "",
        pod_reason: str | None = None,
        pod_message: str | None = None,
        conditions: list[dict[str, Any]] | None = None,
    ) -> None:
        phase = "Succeeded" if exit_code == 0 and not pod_reason else "Failed"
        term: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
        }
        if message:
            term["message"] = message
        status: dict[str, Any] = {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "main",
                    "image": "python:3.11-slim",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": term},
                }
            ],
        }
        if pod_reason:
            status.update(reason=pod_reason, message=pod_message or "")
        if conditions:
            status["conditions"] = conditions
        self.em.close_log(self.ns, pod)
        self.pod_status(pod, status)

    def complete(self, run_id: str) -> None:
        self.job_status(
            run_id,
            {
                "succeeded": 1,
                "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": now()}],
            },
        )

    def fail(self, run_id: str, reason: str, message: str = "") -> None:
        self.job_status(
            run_id,
            {
                "failed": 1,
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastTransitionTime": now(),
                    }
                ],
            },
        )


def now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
