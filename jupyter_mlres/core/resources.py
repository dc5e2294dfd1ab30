"""Requests, limits and GPUs: the rules of DESIGN §4, as pure functions on small values.

A job's own values live in :class:`Resources`. ``None`` for a key means "explicitly removed"
(``with_limits(cpu=0)``): the service default does not fill it. A missing key is filled by the
service default unless the job opted out of defaults altogether.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.quantity import Quantity, parse_cpu, parse_memory
from jupyter_mlres.core.settings import ResourceDefaults

__all__ = ["DEFAULT_GPU_TYPE", "Resources", "check_gpu_type", "effective_resources"]

DEFAULT_GPU_TYPE: Final = "nvidia.com/gpu"
KEYS: Final = ("cpu", "memory")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MODEL_NAME = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")
_GPU_TYPE_EXAMPLES: Final = (
    "an extended resource 'vendor.domain/name' such as 'nvidia.com/gpu', 'amd.com/gpu'"
)

Amounts = dict[str, Quantity | None]


@dataclass(frozen=True)
class Resources:
    """A job's own requests/limits (cpu, memory) and GPUs, before service defaults."""

    requests: Mapping[str, Quantity | None] = field(default_factory=dict)
    limits: Mapping[str, Quantity | None] = field(default_factory=dict)
    gpus: int = 0
    gpu_type: str = DEFAULT_GPU_TYPE
    """The extended resource the GPUs are requested as."""
    gpu_model: str | None = None
    """A ``Settings.gpu_models`` preset (``a100``): node labels plus its resource name."""
    use_defaults: bool = True

    def with_amounts(
        self, which: str, *, mem: object = None, cpu: object = None, patch: bool = False
    ) -> Resources:
        """Return a copy with ``requests`` or ``limits`` replaced (``patch=False``) or merged."""
        current: Amounts = dict(getattr(self, which)) if patch else {}
        for key, raw, parse in (("cpu", cpu, parse_cpu), ("memory", mem, parse_memory)):
            if raw is None:
                continue
            quantity = parse(raw, f"resources.{which}.{key}")
            current[key] = quantity if quantity else None
        updated = replace(self, requests=current) if which == "requests" else replace(self, limits=current)
        updated.check_order()
        return updated

    def with_gpus(self, count: object, gpu_type: object = DEFAULT_GPU_TYPE) -> Resources:
        """GPUs as an extended resource (limits only: Kubernetes sets the request equal).

        ``gpu_type`` is a resource name (``nvidia.com/gpu``) or a GPU model preset name (``a100``).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            if count is None:
                count = 0
            else:
                raise SpecError("resources.limits.gpus", count, "a whole number of GPUs >= 0, e.g. 1")
        if not isinstance(gpu_type, str) or not gpu_type:
            raise SpecError("resources.gpu_type", gpu_type, _GPU_TYPE_EXAMPLES)
        if "/" in gpu_type:
            return replace(self, gpus=count, gpu_type=check_gpu_type(gpu_type), gpu_model=None)
        if not _MODEL_NAME.fullmatch(gpu_type):
            raise SpecError(
                "resources.gpu_type",
                gpu_type,
                f"{_GPU_TYPE_EXAMPLES}, or a GPU model preset name like 'a100'",
            )
        return replace(self, gpus=count, gpu_type=DEFAULT_GPU_TYPE, gpu_model=gpu_type)

    def check_order(self, defaults: ResourceDefaults | None = None) -> None:
        """A request above its limit is an error naming both (Kubernetes would reject the pod)."""
        requests, limits = effective_resources(self, defaults)
        for key in KEYS:
            request, limit = requests.get(key), limits.get(key)
            if request is not None and limit is not None and request > limit:
                own_request = self.requests.get(key) is not None
                own_limit = self.limits.get(key) is not None
                where = "" if own_request and own_limit else " (including service defaults)"
                raise SpecError(
                    f"resources.requests.{key}",
                    str(request),
                    f"at most resources.limits.{key} = {limit}",
                    reason=f"request {request} is above limit {limit}{where}",
                )

    def to_dict(self) -> dict[str, dict[str, str]]:
        """MLRun's ``spec.resources`` shape, without service defaults."""
        limits = {k: str(v) for k, v in self.limits.items() if v is not None}
        if self.gpus:
            limits[self.gpu_type] = str(self.gpus)
        return {"requests": {k: str(v) for k, v in self.requests.items() if v is not None}, "limits": limits}


def effective_resources(
    own: Resources, defaults: ResourceDefaults | None
) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """The job's requests/limits with service defaults filling the keys it left unset."""
    requests = {k: v for k, v in own.requests.items() if v is not None}
    limits = {k: v for k, v in own.limits.items() if v is not None}
    if defaults is not None and own.use_defaults:
        for target, source, mine, which in (
            (requests, defaults.requests, own.requests, "requests"),
            (limits, defaults.limits, own.limits, "limits"),
        ):
            for key in KEYS:
                if key in source and key not in mine:
                    parse = parse_cpu if key == "cpu" else parse_memory
                    value = parse(source[key], f"settings.default_resources.{which}.{key}")
                    if value:
                        target[key] = value
    return requests, limits


def check_gpu_type(gpu_type: str) -> str:
    """``gpu_type`` must be a valid extended-resource name (``vendor.domain/name``)."""
    domain, _, name = gpu_type.partition("/")
    valid = (
        bool(domain)
        and len(domain) <= 253
        and _DNS1123_SUBDOMAIN.fullmatch(domain) is not None
        and "." in domain
        and not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))
        and len(name) <= 63
        and _QUALIFIED_NAME.fullmatch(name) is not None
    )
    if not valid:
        raise SpecError("resources.gpu_type", gpu_type, _GPU_TYPE_EXAMPLES)
    return gpu_type
