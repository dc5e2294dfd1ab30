"""``Function``: a job's code plus its resources, with MLRun's verbs.

Everything here is pure. Methods validate, return the function (so calls chain) and leave it
unchanged when they raise. ``fn.spec.<field> = value`` validates the single field on assignment;
rules that span fields (a replica range, requests vs. service-default limits, priority against the
cluster's classes) are checked again when rendering, with the field path in the error.
"""

from __future__ import annotations

import copy
import dataclasses
import keyword
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from jupyter_mlres.core import labels, priority, scheduling
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.resources import DEFAULT_GPU_TYPE, Resources
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.volumes import Mount

if TYPE_CHECKING:
    from jupyter_mlres.core.runs import RenderedRun

__all__ = ["KINDS", "Function", "FunctionMetadata", "FunctionSpec", "code_to_function", "new_function"]

KINDS: Final = ("job", "mpijob", "dask")
"""``job``/``mpijob``: a batch Job of N cooperating replicas. ``dask``: the code gets a Dask
``client`` whose workers scale between ``min_replicas`` and ``max_replicas`` (see core/dask.py)."""
RESERVED_KINDS: Final[tuple[str, ...]] = ()
AUTOSCALING_KINDS: Final = ("dask",)
RESERVED_ENV_PREFIX: Final = "MLRES_"
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _opt_int(minimum: int) -> Callable[[object, str], int | None]:
    def check(value: object, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SpecError(path, value, f"a whole number >= {minimum}, or None")
        return value

    return check


def _opt_str(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SpecError(path, value, "a non-empty string, or None")
    return value


def _image(value: object, path: str) -> str | None:
    image = _opt_str(value, path)
    if image is not None and (image != image.strip() or any(c.isspace() for c in image)):
        raise SpecError(path, value, "an image reference such as 'python:3.11-slim'")
    return image


def _preemption_mode(value: object, path: str) -> str | None:
    if value is None:
        return None
    mode = getattr(value, "value", value)  # MLRun passes its PreemptionModes enum
    if mode not in scheduling.PREEMPTION_MODES:
        raise SpecError(path, value, scheduling.PREEMPTION_MODES)
    return str(mode)


def _node_name(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise SpecError(path, value, "a node name: lowercase letters, digits, '-', '.'")
    return value


def _node_selector(value: object, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(path, value, "a dict of node label -> value ('' removes an inherited label)")
    result: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str):
            raise SpecError(path, key, "label keys are strings")
        labels.validate_label_key(key, f"{path}.{key}")
        if not isinstance(val, str):
            raise SpecError(f"{path}.{key}", val, "a label value string ('' removes an inherited label)")
        if val:
            labels.validate_label_value(val, f"{path}.{key}")
        result[key] = val
    return result


def _affinity(value: object, path: str) -> dict[str, Any] | None:
    return None if value is None else scheduling.normalize_affinity(value, path)


def _tolerations(value: object, path: str) -> list[dict[str, Any]]:
    return [] if value is None else scheduling.normalize_tolerations(value, path)


def _env_list(value: object, path: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = [{"name": k, "value": v} for k, v in value.items()]
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise SpecError(path, value, "a list of {'name': ..., 'value': ...} dicts")
    result: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or "name" not in item:
            raise SpecError(
                f"{path}[{i}]", item, "{'name': ..., 'value': ...} or {'name': ..., 'valueFrom': ...}"
            )
        entry = dict(item)
        entry["name"] = _env_name(entry["name"], f"{path}[{i}].name")
        if "valueFrom" in entry:
            if not isinstance(entry["valueFrom"], Mapping) or "value" in entry:
                raise SpecError(
                    f"{path}[{i}].valueFrom", entry["valueFrom"], "a Kubernetes EnvVarSource dict"
                )
        else:
            entry["value"] = _env_value(entry.get("value", ""), f"{path}[{i}].value")
        result.append(entry)
    return result


def _env_name(name: object, path: str) -> str:
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise SpecError(path, name, "letters, digits, '_', '-', '.', not starting with a digit")
    if name.startswith(RESERVED_ENV_PREFIX):
        raise SpecError(path, name, f"any name not starting with {RESERVED_ENV_PREFIX}", reason="reserved")
    return name


def _env_value(value: object, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise SpecError(path, value, "a string or a number")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _returns(value: object, path: str) -> tuple[str, ...]:
    allowed = "a list of distinct Python variable names, e.g. ['model_score', 'n_rows']"
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise SpecError(path, value, allowed)
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
            raise SpecError(path, name, allowed, reason="not a Python identifier")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(path, duplicates, allowed, reason="given more than once")
    return names


_FIELDS: Final[dict[str, Callable[[object, str], Any]]] = {
    "image": _image,
    "code": lambda v, p: v if v is None or isinstance(v, str) else _fail(p, v, "the code as a string"),
    "handler": _opt_str,
    "returns": _returns,
    "replicas": _opt_int(1),
    "min_replicas": _opt_int(0),
    "max_replicas": _opt_int(1),
    "node_name": _node_name,
    "node_selector": _node_selector,
    "affinity": _affinity,
    "tolerations": _tolerations,
    "preemption_mode": _preemption_mode,
    "priority_class_name": _opt_str,
    "retries": _opt_int(0),
    "active_deadline_seconds": _opt_int(1),
    "env": _env_list,
    "auto_mount": lambda v, p: v if isinstance(v, bool) else _fail(p, v, "True or False"),
}


def _fail(path: str, value: object, allowed: str) -> Any:
    raise SpecError(path, value, allowed)


class FunctionSpec:
    """What the job needs. Assigning a field validates it (``fn.spec.replicas = 0`` raises).

    ``resources``, ``volumes`` and ``volume_mounts`` are views in MLRun's shape; change them
    through the function's methods (``with_requests``, ``apply(mount_...)``) or assign
    ``spec.resources = {"requests": {...}, "limits": {...}}``.
    """

    image: str | None
    code: str | None
    handler: str | None
    returns: tuple[str, ...]
    """Variables whose values come back as the run's result (``{name: value}``), in order."""
    replicas: int | None
    """Cooperating pods (an Indexed Job); None means 1. For ``dask``: a fixed number of workers."""
    min_replicas: int | None
    """``dask``: fewest workers adaptive scaling keeps (None: 0 when ``max_replicas`` is set)."""
    max_replicas: int | None
    """``dask``: most workers adaptive scaling starts."""
    node_name: str | None
    node_selector: dict[str, str]
    affinity: dict[str, Any] | None
    tolerations: list[dict[str, Any]]
    preemption_mode: str | None
    """None: the service default (``Settings.default_preemption_mode``)."""
    priority_class_name: str | None
    """A level (high/medium/low) or an allowed PriorityClass; None: the service default."""
    retries: int | None
    """Job ``backoffLimit``; None: ``Settings.backoff_limit``. Preemptions never count."""
    active_deadline_seconds: int | None
    env: list[dict[str, Any]]
    auto_mount: bool
    """Mount ``Settings.default_volume`` even when ``Settings.auto_mount`` is ``manual``."""

    _resources: Resources
    _scheduler_resources: Resources
    """``dask``: the scheduler's (and the job pod's) own requests/limits; defaults fill the rest."""
    _mounts: dict[str, Mount]

    def __init__(self) -> None:
        for name, check in _FIELDS.items():
            object.__setattr__(self, name, check(None if name != "auto_mount" else False, f"{name}"))
        object.__setattr__(self, "_resources", Resources())
        object.__setattr__(self, "_scheduler_resources", Resources())
        object.__setattr__(self, "_mounts", {})

    def __setattr__(self, name: str, value: object) -> None:
        if name in _FIELDS:
            object.__setattr__(self, name, _FIELDS[name](value, f"{name}"))
        elif name in ("resources",) or name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"FunctionSpec has no field {name!r}; fields: {', '.join(sorted(_FIELDS))}")

    @property
    def default_handler(self) -> str | None:
        """MLRun's name for ``handler``."""
        return self.handler

    @property
    def resources(self) -> dict[str, dict[str, str]]:
        """``{"requests": {...}, "limits": {...}}`` as set on this function (no service defaults)."""
        return self._resources.to_dict()

    @resources.setter
    def resources(self, value: object) -> None:
        if not isinstance(value, Mapping) or set(value) - {"requests", "limits"}:
            raise SpecError("resources", value, "{'requests': {...}, 'limits': {...}}")
        updated = Resources(use_defaults=self._resources.use_defaults)
        for which in ("requests", "limits"):
            amounts = dict(value.get(which) or {})
            gpu_keys = [k for k in amounts if k not in ("cpu", "memory")]
            if which == "requests" and gpu_keys:
                raise SpecError(
                    f"resources.requests.{gpu_keys[0]}",
                    amounts[gpu_keys[0]],
                    "cpu, memory (GPUs go in limits)",
                )
            if len(gpu_keys) > 1:
                raise SpecError("resources.limits", gpu_keys, "one GPU resource")
            if gpu_keys:
                count = amounts.pop(gpu_keys[0])
                count = int(count) if isinstance(count, str) and count.isdigit() else count
                updated = updated.with_gpus(count, gpu_keys[0])
            unknown = set(amounts) - {"cpu", "memory", "mem"}
            if unknown:
                raise SpecError(f"resources.{which}", sorted(unknown), "cpu, memory, a GPU resource")
            updated = updated.with_amounts(
                which, cpu=amounts.get("cpu"), mem=amounts.get("memory", amounts.get("mem")), patch=False
            )
        object.__setattr__(self, "_resources", updated)

    @property
    def worker_resources(self) -> dict[str, dict[str, str]]:
        """``dask``: the workers' resources (MLRun's name); the same as ``resources``."""
        return self._resources.to_dict()

    @property
    def scheduler_resources(self) -> dict[str, dict[str, str]]:
        """``dask``: the scheduler's own requests/limits (service defaults fill the rest)."""
        return self._scheduler_resources.to_dict()

    @property
    def volumes(self) -> list[dict[str, Any]]:
        """The user's volumes (Kubernetes wire dicts, secret values never included)."""
        return [copy.deepcopy(m.volume) for m in self._mounts.values() if m.kind != "auto"]

    @property
    def volume_mounts(self) -> list[dict[str, Any]]:
        return [
            {"name": m.name, **copy.deepcopy(vm)}
            for m in self._mounts.values()
            if m.kind != "auto"
            for vm in m.mounts
        ]

    @property
    def mounts(self) -> tuple[Mount, ...]:
        """The applied mounts, in order (``auto_mount()`` markers excluded)."""
        return tuple(m for m in self._mounts.values() if m.kind != "auto")

    @property
    def use_default_resources(self) -> bool:
        return self._resources.use_defaults

    @property
    def gpu_model(self) -> str | None:
        return self._resources.gpu_model

    def __repr__(self) -> str:
        shown = {name: getattr(self, name) for name in _FIELDS if name != "code"}
        shown = {k: v for k, v in shown.items() if v not in (None, [], {}, (), False)}
        parts = [f"{k}={v!r}" for k, v in shown.items()]
        parts.append(f"resources={self.resources!r}")
        if self._mounts:
            parts.append(f"volumes={[m.to_text() for m in self._mounts.values()]!r}")
        return f"FunctionSpec({', '.join(parts)})"


@dataclass
class FunctionMetadata:
    name: str
    project: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def _function_name(value: object, path: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(path, value, "a name such as 'train' (letters, digits, '-')")
    if not any(c.isalnum() for c in value):
        raise SpecError(path, value, "a name with at least one letter or digit")
    name = labels.to_dns1123_name(value)
    if not name[0].isalpha():
        # Run ids derive from the name and also name the headless Service of replicated runs,
        # which must start with a letter (DNS-1035).
        name = labels.to_dns1123_name("fn-" + name)
    return name


def _kind(value: object) -> str:
    if value not in KINDS:
        raise SpecError("kind", value, KINDS)
    return str(value)


class Function:
    """A job: code, a handler, an image and resources. MLRun's verbs; chainable; pure."""

    def __init__(
        self,
        name: str,
        kind: str = "job",
        *,
        image: str | None = None,
        code: str | None = None,
        handler: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.metadata = FunctionMetadata(_function_name(name))
        self.kind = _kind(kind)
        self.spec = FunctionSpec()
        self.spec.image = image
        self.spec.code = code
        self.spec.handler = handler
        self.settings = settings
        """Settings bound at creation; render methods fall back to them, then to ``Settings()``."""

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.metadata.name

    def __repr__(self) -> str:
        return f"<Function {self.name!r} kind={self.kind!r} {self.spec!r}>"

    def copy(self) -> Function:
        return copy.deepcopy(self)

    @contextmanager
    def _change(self) -> Iterator[None]:
        """Apply a change all-or-nothing: on error the spec is restored exactly."""
        saved = copy.deepcopy(self.spec.__dict__)
        try:
            yield
        except BaseException:
            self.spec.__dict__.clear()
            self.spec.__dict__.update(saved)
            raise

    def _settings(self, settings: Settings | None) -> Settings:
        return settings or self.settings or Settings()

    # -- resources --------------------------------------------------------------------------
    def with_requests(self, mem: object = None, cpu: object = None, patch: bool = False) -> Function:
        """Set requests (``patch=False`` replaces them, ``True`` merges); 0 removes a key."""
        resources = self.spec._resources.with_amounts("requests", mem=mem, cpu=cpu, patch=patch)
        self.spec._resources = resources
        return self

    def with_limits(
        self,
        mem: object = None,
        cpu: object = None,
        gpus: object = None,
        gpu_type: str = DEFAULT_GPU_TYPE,
        patch: bool = False,
    ) -> Function:
        """Set limits (``patch=False`` replaces them, ``True`` merges); 0 removes a key."""
        resources = self.spec._resources.with_amounts("limits", mem=mem, cpu=cpu, patch=patch)
        if gpus is not None or not patch:
            resources = resources.with_gpus(gpus or 0, gpu_type)
        self.spec._resources = resources
        return self

    def gpus(self, gpus: int, gpu_type: str = DEFAULT_GPU_TYPE) -> Function:
        """Request ``gpus`` GPUs (0 removes them). ``gpu_type``: resource name or model preset."""
        self.spec._resources = self.spec._resources.with_gpus(gpus, gpu_type)
        return self

    # -- dask (MLRun's DaskCluster verbs) ---------------------------------------------------
    def _dask_only(self, verb: str) -> None:
        if self.kind not in AUTOSCALING_KINDS:
            raise SpecError(
                "kind", self.kind, AUTOSCALING_KINDS, reason=f"{verb}() applies to dask functions"
            )

    def with_worker_requests(self, mem: object = None, cpu: object = None, patch: bool = False) -> Function:
        """``dask``: the workers' requests (the same as ``with_requests``)."""
        self._dask_only("with_worker_requests")
        return self.with_requests(mem=mem, cpu=cpu, patch=patch)

    def with_worker_limits(
        self,
        mem: object = None,
        cpu: object = None,
        gpus: object = None,
        gpu_type: str = DEFAULT_GPU_TYPE,
        patch: bool = False,
    ) -> Function:
        """``dask``: the workers' limits (the same as ``with_limits``)."""
        self._dask_only("with_worker_limits")
        return self.with_limits(mem=mem, cpu=cpu, gpus=gpus, gpu_type=gpu_type, patch=patch)

    def with_scheduler_requests(
        self, mem: object = None, cpu: object = None, patch: bool = False
    ) -> Function:
        """``dask``: the scheduler's requests (otherwise the service defaults)."""
        self._dask_only("with_scheduler_requests")
        resources = self.spec._scheduler_resources.with_amounts("requests", mem=mem, cpu=cpu, patch=patch)
        self.spec._scheduler_resources = resources
        return self

    def with_scheduler_limits(self, mem: object = None, cpu: object = None, patch: bool = False) -> Function:
        """``dask``: the scheduler's limits (otherwise the service defaults). No GPUs."""
        self._dask_only("with_scheduler_limits")
        resources = self.spec._scheduler_resources.with_amounts("limits", mem=mem, cpu=cpu, patch=patch)
        self.spec._scheduler_resources = resources
        return self

    def with_default_resources(self, enabled: bool = True) -> Function:
        """``False`` opts this job out of the service's default requests/limits."""
        if not isinstance(enabled, bool):
            raise SpecError("use_default_resources", enabled, "True or False")
        self.spec._resources = dataclasses.replace(self.spec._resources, use_defaults=enabled)
        return self

    # -- volumes ----------------------------------------------------------------------------
    def apply(self, modifier: Callable[[Function], Any] | Mount) -> Function:
        """Apply a mount (``mount_pvc(...)``) or any MLRun-style modifier ``f(fn)``."""
        with self._change():
            if isinstance(modifier, Mount):
                self._apply_mount(modifier)
            elif callable(modifier):
                modifier(self)
            else:
                raise SpecError("apply", modifier, "a mount such as mount_pvc(...) or a callable")
        return self

    def _apply_mount(self, mount: Mount) -> None:
        mounts = dict(self.spec._mounts)
        mounts.pop(mount.name, None)  # same name replaces, mounts included
        taken = {vm["mountPath"]: m.name for m in mounts.values() for vm in m.mounts}
        for vm in mount.mounts:
            other = taken.get(vm["mountPath"])
            if other is not None:
                raise SpecError(
                    "volume_mounts.mountPath",
                    vm["mountPath"],
                    "one volume per mount path",
                    reason=f"volume {other!r} is already mounted there; {mount.name!r} cannot be too",
                )
        if mount.kind == "auto":
            self.spec.auto_mount = True
        mounts[mount.name] = mount
        self.spec._mounts = mounts

    def unmount(self, name: str) -> Function:
        """Remove the volume ``name`` (the ``volume_name`` given to ``mount_*``) and its mounts."""
        mounted = [m.name for m in self.spec.mounts]
        if name not in mounted:
            raise SpecError(
                "volumes", name, mounted or "the name of a mounted volume (none is)", reason="not mounted"
            )
        self.spec._mounts = {key: m for key, m in self.spec._mounts.items() if key != name}
        return self

    # -- scheduling -------------------------------------------------------------------------
    def with_preemption_mode(self, mode: object) -> Function:
        """``allow`` | ``constrain`` | ``prevent`` | ``none`` (spot nodes; see the README)."""
        self.spec.preemption_mode = _preemption_mode(mode, "preemption_mode")
        return self

    def with_priority_class(self, name: str | None = None) -> Function:
        """A level (``high``/``medium``/``low``) or an allowed class name; None: the default."""
        checked = _opt_str(name, "priority_class_name")
        if self.settings is not None:
            priority.resolve_priority_class(checked, self.settings)
        self.spec.priority_class_name = checked
        return self

    def with_node_selection(
        self,
        node_name: str | None = None,
        node_selector: Mapping[str, str] | None = None,
        affinity: object = None,
        tolerations: object = None,
    ) -> Function:
        """Replace each given part of the node selection (None leaves that part unchanged)."""
        updates: dict[str, Any] = {}
        if node_name is not None:
            updates["node_name"] = _node_name(node_name, "node_name")
        if node_selector is not None:
            updates["node_selector"] = _node_selector(node_selector, "node_selector")
        if affinity is not None:
            updates["affinity"] = _affinity(affinity, "affinity")
        if tolerations is not None:
            updates["tolerations"] = _tolerations(tolerations, "tolerations")
        for key, value in updates.items():
            object.__setattr__(self.spec, key, value)
        return self

    def list_valid_priority_class_names(self, settings: Settings | None = None) -> list[str]:
        return priority.list_valid_priority_class_names(self._settings(settings))

    def get_default_priority_class_name(self, settings: Settings | None = None) -> str | None:
        return priority.default_priority_class_name(self._settings(settings))

    # -- env --------------------------------------------------------------------------------
    def set_env(self, name: str, value: object) -> Function:
        """Set an environment variable (replacing one of the same name)."""
        entry = {"name": _env_name(name, "env.name"), "value": _env_value(value, f"env.{name}")}
        self.spec.env = [e for e in self.spec.env if e["name"] != name] + [entry]
        return self

    def set_envs(self, env_vars: Mapping[str, object]) -> Function:
        with self._change():
            for name, value in env_vars.items():
                self.set_env(name, value)
        return self

    def set_env_from_secret(self, name: str, secret: str, secret_key: str) -> Function:
        """An environment variable read from a Kubernetes Secret at run time (value never seen)."""
        _opt_str(secret, "env.valueFrom.secretKeyRef.name")
        _opt_str(secret_key, "env.valueFrom.secretKeyRef.key")
        entry = {
            "name": _env_name(name, "env.name"),
            "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}},
        }
        self.spec.env = [e for e in self.spec.env if e["name"] != name] + [entry]
        return self

    # -- rendering (see core/render.py) ----------------------------------------------------
    def to_run(
        self,
        settings: Settings | None = None,
        *,
        run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        attachments: Mapping[str, bytes] | None = None,
    ) -> RenderedRun:
        """Everything a backend needs to start this function once (docs/internals.md)."""
        from jupyter_mlres.core.render import render_run

        return render_run(
            self, self._settings(settings), run_id=run_id, params=params, attachments=attachments
        )

    def to_manifests(self, settings: Settings | None = None) -> list[dict[str, Any]]:
        """ConfigMap, [Secret], [Service], Job (``dask``: ConfigMap, [Secret], DaskCluster,
        [DaskAutoscaler], Job): what would be created (a preview)."""
        return [copy.deepcopy(m) for m in self.to_run(settings).manifests]

    def to_pod_spec(self, settings: Settings | None = None) -> dict[str, Any]:
        """The Job's pod template spec: service defaults applied, preemption resolved."""
        job = self.to_run(settings).manifests[-1]
        pod: dict[str, Any] = copy.deepcopy(job["spec"]["template"]["spec"])
        return pod

    def to_yaml(self, settings: Settings | None = None) -> str:
        """Multi-document YAML for ``kubectl apply -f -``, with explanatory comments."""
        from jupyter_mlres.core.yamlout import run_to_yaml

        return run_to_yaml(self.to_run(settings))


def new_function(
    name: str = "",
    kind: str = "job",
    image: str | None = None,
    code: str | None = None,
    handler: str | None = None,
    *,
    settings: Settings | None = None,
) -> Function:
    """MLRun's ``new_function``: a function from code text (or none yet)."""
    return Function(name, kind, image=image, code=code, handler=handler, settings=settings)


def code_to_function(
    name_or_file: str = "",
    name: str | None = None,
    handler: str | None = None,
    kind: str = "job",
    image: str | None = None,
    code: str | None = None,
    *,
    settings: Settings | None = None,
) -> Function:
    """MLRun's ``code_to_function``, pure: ``code`` carries the file's text.

    ``code_to_function("training.py", ...)``: named after the file unless ``name`` is given
    (``jupyter_mlres.code_to_function`` reads the file). ``code_to_function("training", ...)``:
    the first argument is the name; the code comes later (the notebook, ``fn.spec.code``).
    """
    if not isinstance(name_or_file, str):
        raise SpecError("filename", name_or_file, "a .py file name or a function name")
    is_file = name_or_file.endswith(".py")
    if name is None:
        stem = name_or_file.rsplit("/", 1)[-1]
        name = stem[: -len(".py")] if is_file else stem
    if is_file and code is None:
        raise SpecError("code", None, "the text of " + name_or_file, reason="core does not read files")
    return Function(name, kind, image=image, code=code, handler=handler, settings=settings)
