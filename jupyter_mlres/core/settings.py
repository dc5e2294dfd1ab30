"""Service/cluster defaults, set by an admin, passed explicitly to everything that needs them.

Settings are built once at the Jupyter edge (traitlets config, environment, explicit arguments)
and handed down; nothing in core reads globals or the environment by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GpuModel", "ResourceDefaults", "Settings"]


@dataclass(frozen=True)
class ResourceDefaults:
    """Requests/limits for ``cpu`` and ``memory`` that fill the keys a job did not set."""

    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuModel:
    """A named GPU model (e.g. ``"a100"``): chosen by node labels, not by the resource key."""

    node_selector: Mapping[str, str]
    gpu_type: str = "nvidia.com/gpu"
    description: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything a job inherits from the service. Every field has a working default."""

    default_image: str = "python:3.11-slim"
    """Image for jobs that name none. Needs only a Python 3.9+ interpreter."""

    namespace: str | None = None
    """Kubernetes namespace; None means the kubeconfig context's / in-cluster namespace."""

    backend: str = "local"
    """Backend used when a job names none: ``local`` or ``kubernetes``."""

    default_resources: ResourceDefaults = field(default_factory=ResourceDefaults)

    preemptible_node_selector: Mapping[str, str] = field(default_factory=dict)
    """Labels of spot nodes: a node carrying *any* of them is a spot node."""

    preemptible_tolerations: Sequence[Mapping[str, Any]] = ()
    """Tolerations for the spot nodes' taints (Kubernetes toleration dicts, camelCase)."""

    default_preemption_mode: str = "prevent"
    """``allow`` | ``constrain`` | ``prevent`` | ``none``."""

    priority_classes: Mapping[str, str] = field(default_factory=dict)
    """Level (``high``/``medium``/``low``) -> the cluster's PriorityClass name."""

    default_priority: str = "medium"

    allowed_priority_classes: Sequence[str] = ()
    """Extra PriorityClass names a job may name directly."""

    default_node_selector: Mapping[str, str] = field(default_factory=dict)

    gpu_models: Mapping[str, GpuModel] = field(default_factory=dict)
    """Named GPU model presets (``--gpu-type a100``) mapped to node labels."""

    auto_mount: str = "auto"
    """``auto`` (mount ``default_volume`` unless the job mounts one), ``manual``, ``none``."""

    default_volume: str | None = None
    """The auto-mounted volume, in the ``--volume`` grammar, e.g. ``pvc:home:/home/jovyan``."""

    job_ttl_seconds: int | None = 3600
    """``ttlSecondsAfterFinished`` of Jobs; None keeps finished Jobs."""

    active_deadline_seconds: int | None = None
    backoff_limit: int = 0
    """Retries after a failure (preemptions never count against it)."""

    local_run_root: str | None = None
    """Where the local backend keeps run directories; None = ``<jupyter data dir>/mlres/runs``."""

    local_volume_map: Mapping[str, str] = field(default_factory=dict)
    """Local backend: ``pvc:CLAIM`` / ``configmap:NAME`` / ``secret:NAME`` / ``v3io:CONTAINER`` -> host dir."""

    local_gpu_devices: Sequence[str] | None = None
    """Local backend: GPU ids it may hand out; None = detect (``nvidia-smi -L``)."""

    local_warm_start: bool = True
    """Local backend: start runs from a warm start server (a forked, preloaded interpreter, in
    milliseconds) instead of a new interpreter per run (about ten times slower)."""

    kube_context: str | None = None
    kubeconfig: str | None = None

    log_tail_lines: int = 40
    """Lines of log the notebook view shows (the full log is always kept)."""

    dask_image: str = "ghcr.io/dask/dask:latest"
    """Image of ``dask`` jobs that name none (scheduler, workers and the job itself): it needs
    ``distributed``, which ``default_image`` usually lacks."""

    dask_adapt_interval_ms: int = 1000
    """Dask adaptive scaling: milliseconds between two scaling decisions (local clusters)."""

    dask_adapt_wait_count: int = 3
    """Dask adaptive scaling: consecutive idle decisions before a worker is retired (local)."""

    dask_target_duration_ms: int = 5000
    """Dask adaptive scaling: how long the queued work should take with the workers it asks for
    (shorter scales up more eagerly; local clusters)."""

    capture_size_limit: int = 512 * 1024
    """Largest total size of notebook values captured by value into a job, in bytes (a
    Kubernetes ConfigMap holds at most 1 MiB, code included)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: Settings | None = None) -> Settings:
        """Settings from a dict of field values (as in JSON config), validated.

        Raises :class:`~jupyter_mlres.core.errors.SpecError` with a ``settings.<field>`` path.
        """
        from jupyter_mlres.core.settings_load import settings_from_dict

        return settings_from_dict(data, base=base)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, base: Settings | None = None) -> Settings:
        """Settings from ``MLRES_<FIELD>`` variables in ``env`` (pass ``os.environ``), validated.

        Strings as-is, integers in decimal, dicts/lists as JSON, empty = None for optional fields:
        ``MLRES_PREEMPTIBLE_NODE_SELECTOR='{"node-lifecycle": "spot"}'``.
        """
        from jupyter_mlres.core.settings_load import settings_from_env

        return settings_from_env(env, base=base)
