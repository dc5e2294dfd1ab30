"""Render a :class:`Function` into the Kubernetes objects of one run (docs/internals.md).

``render_run`` is the single entry point; ``to_pod_spec``/``to_manifests``/``to_yaml`` are views
of it. Manifests are plain camelCase dicts in creation order: ConfigMap, [Secret], [Service], Job; a
``dask`` run has ConfigMap, [Secret], DaskCluster, [DaskAutoscaler], Job (see core/dask.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources as package_resources
from typing import TYPE_CHECKING, Any, Final

from jupyter_mlres.core import dask, labels, priority, scheduling
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.quantity import Quantity
from jupyter_mlres.core.resources import Resources, effective_resources
from jupyter_mlres.core.runs import RenderedRun, RunId
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.volumes import CODE_MOUNT_PATH, CODE_VOLUME_NAME, parse_volume_spec

if TYPE_CHECKING:
    from jupyter_mlres.core.function import Function

__all__ = ["CONFIGMAP_LIMIT_BYTES", "LABEL_FUNCTION", "LABEL_MANAGED_BY", "LABEL_RUN_ID", "render_run"]

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_FUNCTION: Final = "app.kubernetes.io/name"
LABEL_RUN_ID: Final = "jupyter-mlres.io/run-id"
MANAGED_BY: Final = "jupyter-mlres"
CONTAINER_NAME: Final = "main"
MASTER_PORT: Final = 29500
CONFIGMAP_LIMIT_BYTES: Final = 1024 * 1024
COMPLETION_INDEX_FIELD: Final = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
REPLICA_ENV: Final = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@cache
def runner_source() -> str:
    """The text of ``jupyter_mlres/runner.py``, shipped in every run.

    Reading package data once is the only file access in core: the runner must travel as text.
    """
    return package_resources.files("jupyter_mlres").joinpath("runner.py").read_text(encoding="utf-8")


def render_run(
    fn: Function,
    settings: Settings,
    *,
    run_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    attachments: Mapping[str, bytes] | None = None,
) -> RenderedRun:
    spec = fn.spec
    notes: list[str] = []
    rid = _run_id(run_id if run_id is not None else fn.name, "run_id")
    is_dask = fn.kind == "dask"
    bounds = dask.worker_range(fn) if is_dask else None
    replicas = 1 if is_dask else _replicas(fn)
    labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_FUNCTION: fn.name, LABEL_RUN_ID: rid}
    metadata_base: dict[str, Any] = {"namespace": settings.namespace} if settings.namespace else {}

    if spec.code is None:
        if run_id is not None:
            raise SpecError("code", None, "the job's code", reason="this function has no code to run")
        notes.append("no code yet: set fn.spec.code (or pass code=...) before running")
    files = {
        "mlres_runner.py": runner_source(),
        "main.py": spec.code or "",
        "job.json": _job_json(fn, params, replicas, dask.adapt_options(fn, settings) if is_dask else None),
    }
    binary = dict(attachments or {})
    size = sum(len(v.encode("utf-8")) for v in files.values()) + sum(len(v) * 4 // 3 for v in binary.values())
    if size > CONFIGMAP_LIMIT_BYTES:
        raise SpecError(
            "code",
            f"{size} bytes",
            "at most 1 MiB of code and captured values",
            reason="too large for a ConfigMap",
        )

    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": rid, **metadata_base, "labels": dict(labels)},
        "data": dict(files),
    }
    if binary:
        configmap["binaryData"] = {k: base64.b64encode(v).decode("ascii") for k, v in binary.items()}
    manifests: list[dict[str, Any]] = [configmap]

    volumes, mounts, secret_data, volume_notes = _volumes(fn, settings, rid)
    notes.extend(volume_notes)
    for secret_name in secret_data:
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": secret_name, **metadata_base, "labels": dict(labels)},
                "type": "Opaque",
            }
        )
    if replicas > 1:
        if not rid[0].isalpha():
            raise SpecError("run_id", rid, "a name starting with a letter", reason="names a headless Service")
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": rid, **metadata_base, "labels": dict(labels)},
                "spec": {
                    "clusterIP": "None",
                    "selector": {LABEL_RUN_ID: rid},
                    "publishNotReadyAddresses": True,
                },
            }
        )

    if is_dask:
        assert bounds is not None
        image = fn.spec.image or settings.dask_image
        worker, worker_notes, _, worker_limits = _pod_spec(fn, settings, rid, 1, volumes, mounts, image=image)
        scheduler, scheduler_notes, _, _ = _pod_spec(
            fn, settings, rid, 1, [], [], own=spec._scheduler_resources, user_placement=False, image=image
        )
        manifests.extend(
            dask.cluster_manifests(
                rid,
                metadata_base,
                labels,
                dask.worker_pod(
                    worker, image, json.loads(json.dumps(spec.env)), CODE_VOLUME_NAME, worker_limits
                ),
                dask.scheduler_pod(scheduler, image),
                bounds,
            )
        )
        notes.extend(f"dask workers: {note}" for note in dict.fromkeys(worker_notes))
        pod_spec, pod_notes, mode, _ = _pod_spec(
            fn,
            settings,
            rid,
            1,
            volumes,
            mounts,
            own=spec._scheduler_resources,
            user_placement=False,
            image=image,
            extra_env=[{"name": "DASK_SCHEDULER_ADDRESS", "value": dask.scheduler_address(rid)}],
        )
        notes.extend(
            note for note in dict.fromkeys([*scheduler_notes, *pod_notes]) if note not in worker_notes
        )
    else:
        pod_spec, pod_notes, mode, _ = _pod_spec(fn, settings, rid, replicas, volumes, mounts)
        notes.extend(pod_notes)
    job_spec: dict[str, Any] = {
        "backoffLimit": spec.retries if spec.retries is not None else settings.backoff_limit,
    }
    if settings.job_ttl_seconds is not None:
        job_spec["ttlSecondsAfterFinished"] = settings.job_ttl_seconds
    deadline = spec.active_deadline_seconds or settings.active_deadline_seconds
    if deadline is not None:
        job_spec["activeDeadlineSeconds"] = deadline
    if replicas > 1:
        job_spec.update(completionMode="Indexed", completions=replicas, parallelism=replicas)
    failure_policy = scheduling.pod_failure_policy(mode, settings)
    if failure_policy:
        job_spec["podFailurePolicy"] = failure_policy
    job_spec["template"] = {"metadata": {"labels": dict(labels)}, "spec": pod_spec}
    job_metadata: dict[str, Any] = {"name": rid, **metadata_base, "labels": dict(labels)}
    if is_dask:
        job_metadata["annotations"] = {dask.ANNOTATION_CLUSTER: rid}
    manifests.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": job_metadata, "spec": job_spec})
    return RenderedRun(
        run_id=RunId(rid),
        function=fn.name,
        manifests=manifests,
        files=files,
        binary_files=binary,
        secret_data=secret_data,
        notes=tuple(notes),
    )


def _run_id(value: str, path: str) -> str:
    return labels.validate_dns1123_label(value, path)


def _replicas(fn: Function) -> int:
    spec = fn.spec
    low, high = spec.min_replicas, spec.max_replicas
    if low is not None or high is not None:
        if low is not None and high is not None and low > high:
            raise SpecError("min_replicas", low, f"at most spec.max_replicas = {high}")
        degenerate = low is not None and low == high and spec.replicas in (None, low)
        if not degenerate:
            raise SpecError(
                "min_replicas" if low is not None else "max_replicas",
                low if low is not None else high,
                "replicas for a fixed number of pods",
                reason=f"a replica range needs a kind that can autoscale: 'dask' can, {fn.kind!r} cannot",
            )
        if spec.replicas is None and low is not None:
            if low == 0:
                raise SpecError("min_replicas", low, "at least 1 for a job")
            return low
    return spec.replicas or 1


def _job_json(
    fn: Function, params: Mapping[str, Any] | None, replicas: int, dask_options: Mapping[str, Any] | None
) -> str:
    payload: dict[str, Any] = {
        "name": fn.name,
        "handler": fn.spec.handler,
        "params": dict(params or {}),
        "returns": list(fn.spec.returns),
        "kind": fn.kind,
        "replicas": replicas,
    }
    if dask_options is not None:
        payload["dask"] = dict(dask_options)
    try:
        return json.dumps(payload, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise SpecError(
            "params", params, "JSON values (str, numbers, bool, None, lists, dicts)", reason=str(e)
        ) from None


def _volumes(
    fn: Function, settings: Settings, rid: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, str]], list[str]]:
    notes: list[str] = []
    applied = list(fn.spec.mounts)
    wanted_auto = fn.spec.auto_mount
    mode = settings.auto_mount
    if mode not in ("auto", "manual", "none"):
        raise SpecError("settings.auto_mount", mode, ("auto", "manual", "none"))
    if settings.default_volume and ((mode == "auto" and not applied) or (mode == "manual" and wanted_auto)):
        default = parse_volume_spec(settings.default_volume, "settings.default_volume")
        taken = {vm["mountPath"] for m in applied for vm in m.mounts}
        if default.name in {m.name for m in applied} or taken & {vm["mountPath"] for vm in default.mounts}:
            notes.append(f"default volume {settings.default_volume!r} not mounted: its name or path is taken")
        else:
            applied.append(default)
    elif wanted_auto and (mode == "none" or not settings.default_volume):
        notes.append("auto_mount(): no default volume is configured (settings.auto_mount / default_volume)")

    volumes: list[dict[str, Any]] = [
        {"name": CODE_VOLUME_NAME, "configMap": {"name": rid}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": CODE_VOLUME_NAME, "mountPath": CODE_MOUNT_PATH, "readOnly": True}
    ]
    secret_data: dict[str, dict[str, str]] = {}
    inline_key: str | None = None
    for mount in applied:
        volume = json.loads(json.dumps(mount.volume))  # a deep copy the caller may mutate
        if mount.secret:
            if inline_key is not None and inline_key != mount.secret.get("accessKey"):
                raise SpecError(
                    f"volumes.{mount.name}.access_key", "<redacted>", "one inline V3IO access key per job"
                )
            inline_key = mount.secret.get("accessKey")
            secret_name = f"{rid}-v3io"
            secret_data[secret_name] = dict(mount.secret)
            volume["flexVolume"]["secretRef"] = {"name": secret_name}
        volumes.append(volume)
        mounts.extend({"name": mount.name, **vm} for vm in mount.mounts)
    return volumes, mounts, secret_data, notes


def _env(
    fn: Function, rid: str, replicas: int, extra: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "MLRES_CODE_DIR", "value": CODE_MOUNT_PATH},
        {"name": "MLRES_RUN_ID", "value": rid},
        {"name": "MLRES_FUNCTION", "value": fn.name},
        {"name": "MLRES_RESULT_PATH", "value": "/dev/termination-log"},
    ]
    for entry in extra or []:
        clash = next((i for i, e in enumerate(fn.spec.env) if e["name"] == entry["name"]), None)
        if clash is not None:
            raise SpecError(
                f"env[{clash}].name",
                entry["name"],
                f"a name other than {entry['name']}",
                reason="set by the kind",
            )
        env.append(entry)
    if replicas > 1:
        for i, entry in enumerate(fn.spec.env):
            if entry["name"] in REPLICA_ENV:
                raise SpecError(
                    f"env[{i}].name",
                    entry["name"],
                    "a name other than " + ", ".join(REPLICA_ENV),
                    reason="set for replicas",
                )
        env += [
            {"name": "RANK", "valueFrom": {"fieldRef": {"fieldPath": COMPLETION_INDEX_FIELD}}},
            {"name": "WORLD_SIZE", "value": str(replicas)},
            {"name": "MASTER_ADDR", "value": f"{rid}-0.{rid}"},
            {"name": "MASTER_PORT", "value": str(MASTER_PORT)},
        ]
    env.extend(json.loads(json.dumps(fn.spec.env)))
    return env


def _pod_spec(
    fn: Function,
    settings: Settings,
    rid: str,
    replicas: int,
    volumes: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    *,
    own: Resources | None = None,
    user_placement: bool = True,
    image: str | None = None,
    extra_env: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[str], str, dict[str, Quantity]]:
    """One pod spec: ``own`` resources (default: the function's) over the service defaults, and
    the function's placement, or (``user_placement=False``) only the service's defaults."""
    spec = fn.spec
    own = spec._resources if own is None else own
    own.check_order(settings.default_resources)
    requests, limits = effective_resources(own, settings.default_resources)
    resources: dict[str, dict[str, str]] = {}
    if requests:
        resources["requests"] = {k: str(v) for k, v in requests.items()}
    limit_strings = {k: str(v) for k, v in limits.items()}
    node_selector = dict(spec.node_selector) if user_placement else {}
    if own.gpus:
        gpu_type = own.gpu_type
        if own.gpu_model is not None:
            model = settings.gpu_models.get(own.gpu_model)
            if model is None:
                raise SpecError(
                    "resources.gpu_type",
                    own.gpu_model,
                    sorted(settings.gpu_models) or "no GPU models are configured (settings.gpu_models)",
                )
            gpu_type = model.gpu_type
            for key, value in model.node_selector.items():
                if node_selector.get(key, value) != value:
                    raise SpecError(
                        f"node_selector.{key}",
                        node_selector[key],
                        f"{value!r} (GPU model {own.gpu_model!r})",
                    )
                node_selector[key] = value
        limit_strings[gpu_type] = str(own.gpus)
    if limit_strings:
        resources["limits"] = limit_strings

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image or spec.image or settings.default_image,
        "command": ["python3", f"{CODE_MOUNT_PATH}/mlres_runner.py"],
        "env": _env(fn, rid, replicas, extra_env),
        "volumeMounts": mounts,
    }
    if resources:
        container["resources"] = resources

    mode = (spec.preemption_mode if user_placement else None) or settings.default_preemption_mode
    placement = scheduling.resolve_scheduling(
        mode=mode,
        node_name=spec.node_name if user_placement else None,
        node_selector=scheduling.merge_node_selector(
            settings.default_node_selector, node_selector, "node_selector"
        ),
        affinity=spec.affinity if user_placement else None,
        tolerations=spec.tolerations if user_placement else [],
        settings=settings,
    )
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "volumes": volumes}
    if replicas > 1:
        pod["subdomain"] = rid
    if placement.node_name:
        pod["nodeName"] = placement.node_name
    if placement.node_selector:
        pod["nodeSelector"] = dict(placement.node_selector)
    if placement.affinity:
        pod["affinity"] = placement.affinity
    if placement.tolerations:
        pod["tolerations"] = list(placement.tolerations)
    priority_class = priority.resolve_priority_class(
        spec.priority_class_name if user_placement else None, settings
    )
    if priority_class:
        pod["priorityClassName"] = priority_class
    notes = [*placement.notes, *(f"warning: {w}" for w in placement.warnings)]
    return pod, notes, mode, limits
