"""The Kubernetes backend: runs a :class:`RenderedRun` as a batch/v1 Job.

Submission order. The pod needs the ConfigMap (its code) when it starts, and deleting the Job must
delete the ConfigMap/Secret/Service, which takes owner references carrying the Job's uid — known
only once the Job exists. We create the ConfigMap, Secret and Service first, then the Job, then
patch the owner references onto the others. So the pod never waits for its volume, and a failure
between the steps deletes what this submission created (never anything that existed before).
A name that already exists (HTTP 409) is never replaced: it fails the submission with a clear
error, unless the existing object carries this very submission's nonce (a retried create that had
in fact succeeded).

Cancel deletes the Job with ``propagationPolicy=Background``: the Job goes at once and the garbage
collector removes its pods, and through the owner references the ConfigMap, Secret and Service.
A dask run's ``DaskAutoscaler``/``DaskCluster`` are deleted explicitly too (see dask.py).
Delete (finished runs only) does the same, stops following the run and removes its kept log file.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_mlres.backends.base import refuse_unfinished
from jupyter_mlres.backends.kubernetes.api import AlreadyExists, KubeApi, KubeApiProtocol
from jupyter_mlres.backends.kubernetes.config import load_cluster_config
from jupyter_mlres.backends.kubernetes.dask import (
    DASK_KINDS,
    cluster_of,
    crd_missing,
    delete_cluster,
    worker_replicas,
)
from jupyter_mlres.backends.kubernetes.logs import LogCollector
from jupyter_mlres.backends.kubernetes.tracker import (
    LABEL_MANAGED,
    LABEL_RUN,
    MANAGED_BY,
    RunTracker,
    status_from_objects,
)
from jupyter_mlres.core.errors import BackendError, RunNotFound, SubmitError
from jupyter_mlres.core.preflight import check_priority_class, node_fit
from jupyter_mlres.core.runs import JobEvent, JobPhase, LogLine, RenderedRun, RunId, RunStatus
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.status import ResultTooLarge, latest_pods_by_replica, parse_result

__all__ = ["KubernetesBackend", "default_log_dir"]

NONCE_ANNOTATION = "jupyter-mlres.io/submission"
Obj = dict[str, Any]


def default_log_dir() -> Path:
    """``<jupyter data dir>/mlres/k8s-logs``: where full run logs are kept."""
    try:
        from jupyter_core.paths import jupyter_data_dir

        base = Path(jupyter_data_dir())
    except ImportError:  # jupyter_core comes with Jupyter; without it use the XDG default
        base = Path(os.environ.get("XDG_DATA_HOME", str(Path.home() / ".local" / "share"))) / "jupyter"
    return base / "mlres" / "k8s-logs"


class _Run:
    def __init__(self, tracker: RunTracker, logs: LogCollector) -> None:
        self.tracker = tracker
        self.logs = logs


class KubernetesBackend:
    """Submit, watch, stream logs of and cancel runs as Kubernetes Jobs. Thread-safe."""

    name = "kubernetes"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        api: KubeApiProtocol | None = None,
        namespace: str | None = None,
        host: str | None = None,
        token: str | None = None,
        ca_file: str | None = None,
        verify_ssl: bool = True,
        log_dir: str | Path | None = None,
        watch_timeout: int = 300,
        preflight: bool = True,
    ) -> None:
        self.settings = settings or Settings()
        if api is None:
            cfg = load_cluster_config(
                self.settings, host=host, token=token, ca_file=ca_file, verify_ssl=verify_ssl
            )
            api = KubeApi(cfg.api_client)
            namespace = namespace or cfg.namespace
            self.config_source = cfg.source
        else:
            self.config_source = "explicit API object"
        self.api: KubeApiProtocol = api
        self.namespace: str = namespace or self.settings.namespace or "default"
        self.log_dir = Path(log_dir) if log_dir is not None else default_log_dir()
        self.watch_timeout = watch_timeout
        self.run_preflight = preflight
        self._runs: dict[RunId, _Run] = {}
        self._lock = threading.Lock()

    # -- submit -----------------------------------------------------------------------------------
    def submit(self, run: RenderedRun) -> RunStatus:
        manifests = [copy.deepcopy(dict(m)) for m in run.manifests]
        if not manifests or manifests[-1].get("kind") != "Job":
            raise SubmitError(f"run {run.run_id!r}: the rendered manifests must end with the Job")
        job = manifests[-1]
        notes = self.preflight(run) if self.run_preflight else []
        nonce = uuid.uuid4().hex
        created: list[Obj] = []
        try:
            for m in manifests[:-1]:
                created.append(self._create(m, run, nonce))
            job_obj = self._create(job, run, nonce)
        except BaseException:
            self._rollback(created)
            raise
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job_obj["metadata"]["name"],
            "uid": job_obj["metadata"].get("uid", ""),
        }
        for obj in created:
            meta = obj["metadata"]
            try:
                self.api.patch(
                    obj["kind"], self.namespace, meta["name"], {"metadata": {"ownerReferences": [owner]}}
                )
            except BackendError as exc:
                notes.append(f"could not set the owner reference on {obj['kind']} {meta['name']}: {exc}")
        entry = self._track(run.run_id, job_obj)
        for note in notes:
            entry.tracker._note("Preflight", note, warning=False)
        return entry.tracker.snapshot()

    def _create(self, manifest: Obj, run: RenderedRun, nonce: str) -> Obj:
        body = copy.deepcopy(manifest)
        kind = str(body.get("kind"))
        meta = body.setdefault("metadata", {})
        meta.pop("namespace", None)
        meta.setdefault("annotations", {})[NONCE_ANNOTATION] = nonce
        name = str(meta.get("name"))
        if kind == "Secret" and name in run.secret_data:
            body["stringData"] = dict(run.secret_data[name])
        try:
            result = self.api.create(kind, self.namespace, body)
        except RunNotFound as exc:
            if kind in DASK_KINDS:
                raise crd_missing(kind, self.namespace, exc) from None
            raise
        except AlreadyExists:
            existing = self._get_or_none(kind, name)
            if (
                existing is not None
                and (existing["metadata"].get("annotations") or {}).get(NONCE_ANNOTATION) == nonce
            ):
                return existing  # our own retried create had succeeded
            raise SubmitError(
                f"a {kind} named {name!r} already exists in namespace {self.namespace!r} "
                f"(run {((existing or {}).get('metadata') or {}).get('labels', {}).get(LABEL_RUN, '?')!r}); "
                "it was left untouched. Submit again to get a fresh run id."
            ) from None
        result.setdefault("kind", kind)
        return result

    def _get_or_none(self, kind: str, name: str) -> Obj | None:
        try:
            return self.api.get(kind, self.namespace, name)
        except RunNotFound:
            return None

    def _rollback(self, created: list[Obj]) -> None:
        for obj in reversed(created):
            # best effort: report the original failure, not the clean-up's
            with contextlib.suppress(BackendError):
                self.api.delete(obj["kind"], self.namespace, obj["metadata"]["name"])

    # -- preflight --------------------------------------------------------------------------------
    def preflight(self, run: RenderedRun) -> list[str]:
        """Check that the run could ever start; raise SubmitError saying why not.

        Returns notes about checks that were skipped (e.g. the account may not list nodes).
        """
        job = next((m for m in run.manifests if m.get("kind") == "Job"), None)
        if job is None:
            return []
        pod_spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
        notes: list[str] = []
        pclass = pod_spec.get("priorityClassName")
        if pclass:
            try:
                self.api.get("PriorityClass", None, pclass)
            except RunNotFound:
                try:
                    names = [str(p["metadata"]["name"]) for p in self.api.list("PriorityClass", None)[0]]
                except BackendError:
                    names = []
                raise SubmitError(check_priority_class(pclass, names)) from None
            except BackendError as exc:
                notes.append(f"priority class not checked ({exc})")
        try:
            nodes, _ = self.api.list("Node", None)
        except SubmitError as exc:  # 403: the account may not list nodes
            notes.append(f"node fit not checked: {exc}")
            return notes
        report = node_fit(pod_spec, nodes)
        if not report.fits:
            raise SubmitError(f"run {run.run_id!r} could never start: {report.message}")
        return notes

    # -- following --------------------------------------------------------------------------------
    def _track(self, run_id: RunId, job: Obj | None = None) -> _Run:
        with self._lock:
            entry = self._runs.get(run_id)
            if entry is not None:
                return entry
            holder: dict[str, LogCollector] = {}

            def on_pod(pod: Obj) -> None:
                if "logs" in holder:
                    holder["logs"].pod_seen(pod)

            tracker = RunTracker(
                self.api, self.namespace, run_id, watch_timeout=self.watch_timeout, on_pod=on_pod
            )
            if job is not None:
                tracker.seed(job)
            logs = LogCollector(
                self.api,
                self.namespace,
                run_id,
                self.log_dir / self.namespace / f"{run_id}.log",
                run_done=lambda: tracker.terminal,
                pod_state=lambda name: tracker.pods.get(name),
            )
            holder["logs"] = logs
            entry = self._runs[run_id] = _Run(tracker, logs)
        tracker.start()
        return entry

    def _attach(self, run_id: RunId) -> _Run:
        with self._lock:
            entry = self._runs.get(run_id)
        if entry is not None:
            return entry
        job = self._get_or_none("Job", run_id)
        if job is None:
            raise RunNotFound(f"no run named {run_id!r} in namespace {self.namespace!r}")
        return self._track(run_id, job)

    def log_path(self, run_id: RunId) -> Path:
        """The local file holding the full log of ``run_id`` (once followed)."""
        return self.log_dir / self.namespace / f"{run_id}.log"

    # -- Backend protocol -------------------------------------------------------------------------
    def status(self, run_id: RunId) -> RunStatus:
        with self._lock:
            entry = self._runs.get(run_id)
        if entry is not None and (entry.tracker.job is not None or entry.tracker.job_deleted):
            return self._with_workers(entry.tracker.snapshot(), entry.tracker.job)
        job = self._get_or_none("Job", run_id)
        if job is None:
            raise RunNotFound(f"no run named {run_id!r} in namespace {self.namespace!r}")
        pods, _ = self.api.list("Pod", self.namespace, label_selector=f"{LABEL_RUN}={run_id}")
        return self._with_workers(status_from_objects(run_id, self.namespace, job, pods), job)

    def _with_workers(self, status: RunStatus, job: Obj | None) -> RunStatus:
        """A dask run's workers are its replicas 1, 2, ... (replica 0 is the Job's pod)."""
        cluster = cluster_of(job)
        if cluster is None or status.phase.is_terminal:
            return status
        workers = worker_replicas(self.api, self.namespace, cluster)
        own = [r for r in status.replicas if r.index == 0]
        return dataclasses.replace(status, replicas=(*own, *workers))

    def events(
        self, run_id: RunId, *, follow: bool = True, stop: threading.Event | None = None
    ) -> Iterator[JobEvent]:
        entry = self._attach(run_id)
        entry.tracker.wait_synced()
        yield from entry.tracker.follow_events(follow=follow, stop=stop)
        cluster = cluster_of(entry.tracker.job)
        if follow and cluster is not None and entry.tracker.terminal:
            # the job is done with its Dask cluster: do not leave workers running until the TTL
            with contextlib.suppress(BackendError):
                delete_cluster(self.api, self.namespace, cluster)

    def logs(
        self,
        run_id: RunId,
        *,
        follow: bool = False,
        tail: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        entry = self._attach(run_id)
        entry.tracker.wait_synced()
        if not follow:
            # wait until what exists now is read: the followers of pods that are done finish
            with entry.logs.changed:
                entry.logs.changed.wait_for(
                    lambda: entry.logs._active == 0 or not entry.tracker.terminal, timeout=30
                )
        yield from entry.logs.follow_lines(follow=follow, tail=tail, stop=stop)

    def cancel(self, run_id: RunId) -> RunStatus:
        with self._lock:
            entry = self._runs.get(run_id)
        job = (entry.tracker.job if entry is not None else None) or self._get_or_none("Job", run_id)
        try:
            self.api.delete("Job", self.namespace, run_id, propagation="Background")
        except RunNotFound:
            if entry is None and job is None:
                raise RunNotFound(f"no run named {run_id!r} in namespace {self.namespace!r}") from None
        cluster = cluster_of(job)
        if cluster is not None:
            delete_cluster(self.api, self.namespace, cluster)
        if entry is not None:
            entry.tracker.mark_cancelled()
            return entry.tracker.snapshot()
        return RunStatus(
            run_id=run_id,
            function=run_id,
            backend=self.name,
            phase=JobPhase.CANCELLED,
            created=_now(),
            reason="Cancelled",
            message="cancelled",
            log_location=f"{self.namespace}/{run_id}",
        )

    def delete(self, run_id: RunId) -> None:
        log = self.log_path(run_id)
        try:
            status = self.status(run_id)
        except RunNotFound:
            # the Job is gone already (cancelled elsewhere, or its TTL ran out): the kept log is
            # all that is left of the run
            if not log.is_file():
                raise
            log.unlink(missing_ok=True)
            return
        refuse_unfinished(status, default_backend=self.settings.backend)
        with self._lock:
            entry = self._runs.get(run_id)
        job = (entry.tracker.job if entry is not None else None) or self._get_or_none("Job", run_id)
        with contextlib.suppress(RunNotFound):  # gone meanwhile: fine, that is what we want
            self.api.delete("Job", self.namespace, run_id, propagation="Background")
        cluster = cluster_of(job)
        if cluster is not None:
            delete_cluster(self.api, self.namespace, cluster)
        with self._lock:
            entry = self._runs.pop(run_id, None)
        if entry is not None:  # its log file is open for appending: close it before removing it
            entry.tracker.close()
            entry.logs.close()
        log.unlink(missing_ok=True)

    def list_runs(self) -> list[RunStatus]:
        jobs, _ = self.api.list("Job", self.namespace, label_selector=f"{LABEL_MANAGED}={MANAGED_BY}")
        statuses = [
            status_from_objects(RunId(str(j["metadata"]["name"])), self.namespace, j, _pods_hint(j))
            for j in jobs
        ]
        return sorted(statuses, key=lambda s: s.created, reverse=True)

    def result(self, run_id: RunId) -> Any:
        status = self.status(run_id)
        if status.phase != JobPhase.SUCCEEDED:
            return None
        with self._lock:
            entry = self._runs.get(run_id)
        pods = list(entry.tracker.pods.values()) if entry is not None else []
        if not pods:
            pods, _ = self.api.list("Pod", self.namespace, label_selector=f"{LABEL_RUN}={run_id}")
        pod = latest_pods_by_replica(
            p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"
        ).get(0)
        if pod is None:
            return None
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        for cs in statuses:
            terminated = (cs.get("state") or {}).get("terminated") or {}
            if cs.get("name") == "main" or len(statuses) == 1:
                try:
                    return parse_result(terminated.get("message"))
                except ResultTooLarge as exc:
                    raise BackendError(f"run {run_id!r}: {exc}") from None
        return None

    def close(self) -> None:
        """Stop following every run (the runs themselves go on)."""
        with self._lock:
            entries = list(self._runs.values())
            self._runs.clear()
        for e in entries:
            e.tracker.close()
            e.logs.close()


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _pods_hint(job: Obj) -> list[Obj]:
    """Pseudo-pods from the Job's counters, so a listing needs no request per run."""
    status = job.get("status") or {}
    ready = int(status.get("ready") or 0)
    return [
        {"metadata": {"name": f"ready-{i}"}, "status": {"phase": "Running"}} for i in range(min(ready, 1))
    ]
