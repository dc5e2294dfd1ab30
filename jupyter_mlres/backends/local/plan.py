"""Turn a rendered run (Kubernetes manifests) into what the local supervisor does.

Everything the pod template asks for is either translated (env, CPU/memory/GPU limits, replicas,
volumes, deadline, grace period) or listed in :attr:`Plan.not_honoured`, which becomes one
``NotHonoured`` event: nothing the user or the admin chose is dropped silently. What our own
renderer writes under the built-in :class:`Settings` (the image, the Job's TTL) is not listed:
nobody asked for it, and a warning on every default run teaches users to ignore the event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from jupyter_mlres.backends.local.launch import THREAD_ENV_VARS, cpu_count_for
from jupyter_mlres.core.errors import SubmitError
from jupyter_mlres.core.runs import RenderedRun
from jupyter_mlres.core.settings import Settings

__all__ = ["THREAD_ENV_VARS", "MountPlan", "Plan", "build_plan", "cpu_count_for", "mount_env_var"]

COMPLETION_INDEX_PATHS: Final = frozenset(
    {
        "metadata.annotations['batch.kubernetes.io/job-completion-index']",
        "metadata.labels['batch.kubernetes.io/job-completion-index']",
    }
)
DEFAULT_GRACE_SECONDS: Final = 5.0
CODE_MOUNT_PATH: Final = "/mlres/code"

# Pod/container/job fields the local backend applies (or that mean nothing on one machine).
_POD_HANDLED: Final = frozenset(
    {"containers", "volumes", "restartPolicy", "terminationGracePeriodSeconds", "subdomain"}
)
_CONTAINER_HANDLED: Final = frozenset(
    {"name", "command", "args", "env", "envFrom", "resources", "volumeMounts", "workingDir"}
)
_JOB_HANDLED: Final = frozenset(
    {"template", "completions", "parallelism", "completionMode", "activeDeadlineSeconds", "podFailurePolicy"}
)
_GPU_RESOURCE_RE: Final = re.compile(r"^[a-z0-9.-]+/[a-z0-9.-]*gpu[a-z0-9.-]*$")
_BUILT_IN: Final = Settings()


@dataclass
class MountPlan:
    """One volumeMount: where the job expects it and the host directory standing for it."""

    volume: str
    source: str
    """``pvc:CLAIM`` / ``configmap:NAME`` / ``secret:NAME`` / ``v3io:CONTAINER`` / ``hostPath`` / ..."""
    mount_path: str
    host_path: str | None
    """None when nothing on this machine stands for the volume."""
    read_only: bool
    env_var: str
    materialize: dict[str, str] = field(default_factory=dict)
    """Files to write into ``host_path`` first (ConfigMap/Secret data the run itself carries)."""
    note: str = ""


@dataclass
class Plan:
    """Everything the supervisor needs; stored as plan.json in the run directory."""

    run_id: str
    function: str
    python: str
    cwd: str
    replicas: int
    env: dict[str, str]
    rank_env: list[str]
    pod_name_env: list[str]
    cpu_limit: float | None
    memory_limit: int | None
    memory_limit_text: str
    gpus: int
    gpu_resource: str
    gpu_devices: list[str] | None
    mounts: list[MountPlan]
    not_honoured: list[str]
    grace_seconds: float
    deadline_seconds: float | None
    notebook: str = ""
    dask_workers: list[int] | None = None
    """[minimum, maximum] workers of the run's local Dask cluster; None: not a dask run."""
    dask_worker_memory: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        values = dict(data)
        values["mounts"] = [MountPlan(**m) for m in values["mounts"]]
        return cls(**values)


def mount_env_var(mount_path: str) -> str:
    """``/data/set-1`` -> ``MLRES_MOUNT_DATA_SET_1``: where a job finds a volume that could not be
    linked at its mount path."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", mount_path).strip("_").upper()
    return f"MLRES_MOUNT_{name or 'ROOT'}"


def build_plan(
    run: RenderedRun,
    settings: Settings,
    *,
    run_dir: Path,
    python: str,
    cwd: str,
    notebook: str = "",
) -> Plan:
    """The local plan for ``run``; a run without a Job manifest is a ``SubmitError``."""
    # Kernel side only: the supervisor reads plans and need not load decimal.
    from jupyter_mlres.backends.local.quantities import quantity_value

    job = _find(run.manifests, "Job")
    if job is None:
        kinds = [m.get("kind") for m in run.manifests]
        raise SubmitError(f"run {run.run_id!r} has no Job manifest (got {kinds}); cannot run it locally")
    job_spec: dict[str, Any] = job.get("spec") or {}
    pod: dict[str, Any] = (job_spec.get("template") or {}).get("spec") or {}
    containers: list[dict[str, Any]] = pod.get("containers") or []
    if not containers:
        raise SubmitError(f"run {run.run_id!r}: the Job's pod template has no container")
    container = next((c for c in containers if c.get("name") == "main"), containers[0])
    not_honoured: list[str] = []
    unasked = _renderer_defaults(settings, dask=_find(run.manifests, "DaskCluster") is not None)

    for key in sorted(set(job_spec) - _JOB_HANDLED):
        value = job_spec[key]
        if (key == "backoffLimit" and not value) or _unasked(unasked, f"job.{key}", value):
            continue
        not_honoured.append(_describe(f"job.{key}", value))
    for key in sorted(set(pod) - _POD_HANDLED):
        if pod[key] not in (None, "", [], {}):
            not_honoured.append(_describe(f"pod.{key}", pod[key]))
    if pod.get("restartPolicy", "Never") != "Never":
        not_honoured.append(_describe("pod.restartPolicy", pod["restartPolicy"]))
    for extra in containers:
        if extra is not container:
            not_honoured.append(f"container {extra.get('name')!r} (only {container.get('name')!r} runs)")
    for key in sorted(set(container) - _CONTAINER_HANDLED):
        if container[key] not in (None, "", [], {}) and not _unasked(
            unasked, f"container.{key}", container[key]
        ):
            not_honoured.append(_describe(f"container.{key}", container[key]))
    command = [str(c) for c in (container.get("command") or []) + (container.get("args") or [])]
    if command and not any(c.endswith("mlres_runner.py") for c in command):
        not_honoured.append(_describe("container.command", command) + " (the runner runs instead)")

    replicas = int(job_spec.get("parallelism") or job_spec.get("completions") or 1)
    completions = job_spec.get("completions")
    if completions is not None and int(completions) != replicas:
        not_honoured.append(f"job.completions={completions} (runs {replicas} replicas once each)")

    resources: dict[str, Any] = container.get("resources") or {}
    limits: dict[str, Any] = resources.get("limits") or {}
    requests: dict[str, Any] = resources.get("requests") or {}
    cpu_limit = float(quantity_value(limits["cpu"], "resources.limits.cpu")) if limits.get("cpu") else None
    memory_limit = (
        int(quantity_value(limits["memory"], "resources.limits.memory")) if limits.get("memory") else None
    )
    gpus = 0
    gpu_resource = ""
    for key, value in limits.items():
        if key in ("cpu", "memory"):
            continue
        if _GPU_RESOURCE_RE.match(key):
            gpus += int(quantity_value(value, f"resources.limits.{key}"))
            gpu_resource = key
        else:
            not_honoured.append(_describe(f"resources.limits.{key}", value))
    # A request places a pod; on one machine there is nowhere else to go, and a limit on the
    # same resource is enforced. A request alone changes nothing here: say so.
    uncapped = {k: v for k, v in requests.items() if k in ("cpu", "memory") and not limits.get(k)}
    if uncapped:
        not_honoured.append(
            _describe("resources.requests", uncapped)
            + " without limits (nothing is reserved locally and only limits are enforced)"
        )
    for key, value in requests.items():
        if key not in ("cpu", "memory") and not _GPU_RESOURCE_RE.match(key):
            not_honoured.append(_describe(f"resources.requests.{key}", value))

    code_dir = run_dir / "code"
    config_maps = _config_map_data(run.manifests)
    env, rank_env, pod_name_env = _resolve_env(container, run, config_maps, not_honoured)
    env["MLRES_CODE_DIR"] = str(code_dir)
    env.setdefault("MLRES_RUN_ID", run.run_id)
    env.setdefault("MLRES_FUNCTION", run.function)
    env.pop("MLRES_RESULT_PATH", None)  # one per replica, set by the supervisor

    mounts = _plan_mounts(pod, container, run, settings, run_dir, config_maps, not_honoured)

    working_dir = container.get("workingDir")
    if working_dir and Path(working_dir).is_dir():
        cwd = working_dir
    elif working_dir:
        not_honoured.append(f"container.workingDir={working_dir!r} (no such directory here; runs in {cwd})")

    dask_workers: list[int] | None = None
    dask_memory: int | None = None
    memory_limit_text = str(limits.get("memory", ""))
    cluster = _find(run.manifests, "DaskCluster")
    if cluster is not None:
        dask_workers, dask_memory, memory_limit = _plan_dask(
            run, cluster, env, cpu_limit, memory_limit, not_honoured
        )
        # the runner reports the local cluster's workers there (daskstatus.py reads it)
        env["MLRES_DASK_STATUS_PATH"] = str(run_dir / "dask.jsonl")
        cpu_limit = None
        memory_limit_text = (
            f"{memory_limit_text} for the job + {dask_workers[1]} x the workers' limit"
            if memory_limit
            else ""
        )

    deadline = job_spec.get("activeDeadlineSeconds")
    grace = pod.get("terminationGracePeriodSeconds")
    return Plan(
        run_id=run.run_id,
        function=run.function,
        python=python,
        cwd=cwd,
        replicas=max(1, replicas),
        env=env,
        rank_env=rank_env,
        pod_name_env=pod_name_env,
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
        memory_limit_text=memory_limit_text,
        gpus=gpus,
        gpu_resource=gpu_resource or "nvidia.com/gpu",
        gpu_devices=list(settings.local_gpu_devices) if settings.local_gpu_devices is not None else None,
        mounts=mounts,
        not_honoured=not_honoured,
        grace_seconds=float(grace) if grace is not None else DEFAULT_GRACE_SECONDS,
        deadline_seconds=float(deadline) if deadline else None,
        notebook=notebook,
        dask_workers=dask_workers,
        dask_worker_memory=dask_memory,
    )


def _plan_dask(
    run: RenderedRun,
    cluster: Mapping[str, Any],
    env: dict[str, str],
    cpu_limit: float | None,
    memory_limit: int | None,
    not_honoured: list[str],
) -> tuple[list[int], int | None, int | None]:
    """A local ``LocalCluster`` stands for the DaskCluster: bounds and per-worker limits from it.

    Returns the bounds, each worker's memory limit and the memory limit of the run's whole
    process tree (the job plus up to ``maximum`` workers), or None when either is unbounded.
    """
    minimum = int(((cluster.get("spec") or {}).get("worker") or {}).get("replicas") or 0)
    maximum = minimum
    autoscaler = _find(run.manifests, "DaskAutoscaler")
    if autoscaler is not None:
        minimum = int(autoscaler["spec"]["minimum"])
        maximum = int(autoscaler["spec"]["maximum"])
    worker_pod: dict[str, Any] = ((cluster.get("spec") or {}).get("worker") or {}).get("spec") or {}
    worker = (worker_pod.get("containers") or [{}])[0]
    limits: dict[str, Any] = (worker.get("resources") or {}).get("limits") or {}
    from jupyter_mlres.backends.local.quantities import quantity_value  # kernel side only, as above

    worker_memory = (
        int(quantity_value(limits["memory"], "worker.resources.limits.memory"))
        if limits.get("memory")
        else None
    )
    threads = (
        cpu_count_for(float(quantity_value(limits["cpu"], "worker.resources.limits.cpu")))
        if limits.get("cpu")
        else 1
    )
    # The job pod's address of the operator's scheduler means nothing here: the runner starts
    # a LocalCluster when it is unset.
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env["MLRES_DASK_WORKER_THREADS"] = str(threads)
    if worker_memory is not None:
        env["MLRES_DASK_WORKER_MEMORY"] = str(worker_memory)
    for key, value in limits.items():
        if key not in ("cpu", "memory"):
            not_honoured.append(
                _describe(f"dask worker resources.limits.{key}", value) + " (not allocated locally)"
            )
    for key in ("nodeSelector", "affinity", "tolerations", "priorityClassName", "nodeName"):
        if worker_pod.get(key) not in (None, "", [], {}):
            not_honoured.append(_describe(f"dask worker pod.{key}", worker_pod[key]))
    if cpu_limit is not None:
        not_honoured.append(
            f"the job's cpu limit {cpu_limit:g} (its Dask workers run {threads} thread(s) each, unpinned)"
        )
    tree_limit = (
        memory_limit + maximum * worker_memory
        if memory_limit is not None and worker_memory is not None
        else None
    )
    return [minimum, maximum], worker_memory, tree_limit


# -- helpers ---------------------------------------------------------------------------------------


def _renderer_defaults(settings: Settings, *, dask: bool) -> dict[str, Any]:
    """Values the renderer writes by itself when ``settings`` keep the built-in defaults.

    Such a value was asked for by nobody, so it is not named as not honoured. A value an admin
    changed in Settings is named: it was a choice. (A user's explicit value that equals the
    built-in default, e.g. ``--image python:3.11-slim``, cannot be told apart and stays quiet.)
    """
    defaults: dict[str, Any] = {}
    if settings.job_ttl_seconds == _BUILT_IN.job_ttl_seconds:
        defaults["job.ttlSecondsAfterFinished"] = _BUILT_IN.job_ttl_seconds
    image = settings.dask_image if dask else settings.default_image
    if image == (_BUILT_IN.dask_image if dask else _BUILT_IN.default_image):
        defaults["container.image"] = image
    return defaults


def _unasked(defaults: Mapping[str, Any], path: str, value: Any) -> bool:
    return path in defaults and defaults[path] == value


def _find(manifests: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Any] | None:
    for manifest in manifests:
        if manifest.get("kind") == kind:
            return dict(manifest)
    return None


def _describe(path: str, value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool) else _short(value)
    return f"{path}={text}"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _config_map_data(manifests: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        str(m.get("metadata", {}).get("name")): dict(m.get("data") or {})
        for m in manifests
        if m.get("kind") == "ConfigMap"
    }


_VAR_REF: Final = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: earlier variables only, ``$$`` escapes, unknown kept."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(repl, value)


def _resolve_env(
    container: Mapping[str, Any],
    run: RenderedRun,
    config_maps: Mapping[str, Mapping[str, str]],
    not_honoured: list[str],
) -> tuple[dict[str, str], list[str], list[str]]:
    env: dict[str, str] = {}
    rank_env: list[str] = []
    pod_name_env: list[str] = []
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            name = source["configMapRef"].get("name", "")
            data: Mapping[str, str] | None = config_maps.get(name)
        else:
            name = (source.get("secretRef") or {}).get("name", "")
            data = run.secret_data.get(name)
        if data is None:
            not_honoured.append(f"envFrom {name!r} (its data is not part of the run)")
            continue
        env.update({prefix + k: str(v) for k, v in data.items()})
    for item in container.get("env") or []:
        name = str(item.get("name"))
        if "value" in item or "valueFrom" not in item:
            env[name] = _expand(str(item.get("value", "")), env)
            continue
        ref: Mapping[str, Any] = item["valueFrom"]
        value: str | None = None
        if "fieldRef" in ref:
            field_path = str(ref["fieldRef"].get("fieldPath", ""))
            if field_path in COMPLETION_INDEX_PATHS:
                rank_env.append(name)
                continue
            if field_path == "metadata.name":
                pod_name_env.append(name)
                continue
            value = {
                "metadata.namespace": "local",
                "status.podIP": "127.0.0.1",
                "status.hostIP": "127.0.0.1",
                "spec.nodeName": "localhost",
            }.get(field_path)
        elif "secretKeyRef" in ref:
            key_ref = ref["secretKeyRef"]
            value = run.secret_data.get(key_ref.get("name", ""), {}).get(key_ref.get("key", ""))
        elif "configMapKeyRef" in ref:
            key_ref = ref["configMapKeyRef"]
            value = config_maps.get(key_ref.get("name", ""), {}).get(key_ref.get("key", ""))
        if value is None:
            not_honoured.append(f"env {name} from {_short(dict(ref))}")
            continue
        env[name] = value
    return env, rank_env, pod_name_env


def _volume_source(volume: Mapping[str, Any]) -> tuple[str, str | None]:
    """(``kind:name`` key of the local volume map, sub-directory under it)."""
    if "persistentVolumeClaim" in volume:
        return f"pvc:{volume['persistentVolumeClaim'].get('claimName', '')}", None
    if "configMap" in volume:
        return f"configmap:{volume['configMap'].get('name', '')}", None
    if "secret" in volume:
        return f"secret:{volume['secret'].get('secretName', '')}", None
    if "flexVolume" in volume and volume["flexVolume"].get("driver") == "v3io/fuse":
        options = volume["flexVolume"].get("options") or {}
        return f"v3io:{options.get('container', '')}", options.get("subPath") or None
    if "hostPath" in volume:
        return "hostPath", None
    if "emptyDir" in volume:
        return "emptyDir", None
    kinds = sorted(k for k in volume if k != "name")
    return (kinds[0] if kinds else "unknown"), None


def _plan_mounts(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    run: RenderedRun,
    settings: Settings,
    run_dir: Path,
    config_maps: Mapping[str, Mapping[str, str]],
    not_honoured: list[str],
) -> list[MountPlan]:
    volumes = {str(v.get("name")): v for v in pod.get("volumes") or []}
    code_map = next((name for name, data in config_maps.items() if "mlres_runner.py" in data), run.run_id)
    mounts: list[MountPlan] = []
    for mount in container.get("volumeMounts") or []:
        name = str(mount.get("name"))
        path = str(mount.get("mountPath", ""))
        volume = volumes.get(name, {})
        source, sub_dir = _volume_source(volume)
        if source == f"configmap:{code_map}" or path == CODE_MOUNT_PATH:
            continue  # the code bundle: the runner finds it through MLRES_CODE_DIR
        host: str | None = None
        note = ""
        materialize: dict[str, str] = {}
        if source in settings.local_volume_map:
            host = str(Path(settings.local_volume_map[source]).expanduser())
            if sub_dir:
                host = str(Path(host) / sub_dir.lstrip("/"))
            note = f"settings.local_volume_map[{source!r}]"
        elif source == "hostPath":
            host = str(volume["hostPath"].get("path", ""))
            note = "hostPath"
        elif source == "emptyDir":
            medium = (volume.get("emptyDir") or {}).get("medium")
            if medium == "Memory" and path == "/dev/shm":
                host = "/dev/shm"
                note = "the host's shared memory (its sizeLimit is not enforced locally)"
            else:
                host = str(run_dir / "volumes" / name)
                note = "an empty directory in the run directory"
        elif source.startswith("configmap:") and source[len("configmap:") :] in config_maps:
            host = str(run_dir / "volumes" / name)
            materialize = dict(config_maps[source[len("configmap:") :]])
            note = "the ConfigMap's data, written into the run directory"
        elif source.startswith("secret:") and source[len("secret:") :] in run.secret_data:
            host = str(run_dir / "volumes" / name)
            materialize = dict(run.secret_data[source[len("secret:") :]])
            note = "the Secret's data, written into the run directory (mode 0600)"
        sub_path = mount.get("subPath")
        if host and sub_path:
            host = str(Path(host) / str(sub_path))
        if host is None:
            not_honoured.append(
                f"volume {name!r} ({source}) at {path}: no host directory; add "
                f"{{{source!r}: '/host/dir'}} to settings.local_volume_map"
            )
        mounts.append(
            MountPlan(
                volume=name,
                source=source,
                mount_path=path,
                host_path=host,
                read_only=bool(mount.get("readOnly", False)),
                env_var=mount_env_var(path),
                materialize=materialize,
                note=note,
            )
        )
    return mounts
