"""The one ``%%mlrun`` line grammar: parse a magic line into :class:`CellArgs`, write it back.

The magic, the resource panel and the SDK share this module, so a spec edited in the panel can be
copied as a magic line and parsed back to the same value (``parse_cell_args(to_magic_line(a)) ==
a``). Every problem is a :class:`SpecError` whose path is the option (``--cpu``), whose value is
what the user typed, and whose ``allowed`` says what would have been accepted.

Parsing only checks the shape of each option (numbers, ``K=V`` pairs, choices); the values
themselves (quantities, label rules, volume grammar) are checked when :func:`apply_cell_args`
hands them to the Function API, and errors from there are re-labelled with the option's name.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from functools import partial
from typing import Any, Literal

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import KINDS, RESERVED_KINDS
from jupyter_mlres.core.resources import DEFAULT_GPU_TYPE

__all__ = [
    "KINDS",
    "OPTIONS",
    "PREEMPTION_MODES",
    "CellArgs",
    "apply_cell_args",
    "format_param_value",
    "function_to_cell_args",
    "parse_cell_args",
    "parse_param_value",
    "to_magic_line",
    "unexpressed",
    "usage",
]

PREEMPTION_MODES = ("allow", "constrain", "prevent", "none")

Pair = tuple[str, str]
ParamPair = tuple[str, Any]


@dataclass(frozen=True)
class CellArgs:
    """A parsed ``%%mlrun`` line. ``None`` means "not given: inherit the default"."""

    name: str | None = None
    handler: str | None = None
    image: str | None = None
    kind: str | None = None
    cpu: tuple[str | None, str | None] | None = None
    """(request, limit); either may be None (``--cpu 2``, ``--cpu 1:2``, ``--cpu :2``)."""
    memory: tuple[str | None, str | None] | None = None
    gpus: int | None = None
    gpu_type: str | None = None
    """An extended-resource name (``nvidia.com/gpu``) or a GPU model preset from settings."""
    replicas: int | tuple[int, int] | None = None
    """N cooperating replicas, or a (min, max) range for kinds that autoscale."""
    volumes: tuple[str, ...] = ()
    """Volumes in the ``--volume`` grammar, in order."""
    spot: str | None = None
    priority: str | None = None
    node_selector: tuple[Pair, ...] = ()
    params: tuple[ParamPair, ...] = ()
    returns: tuple[str, ...] = ()
    """Variables whose values come back as ``run.result`` (``{name: value}``), in order."""
    env: tuple[Pair, ...] = ()
    backend: str | None = None
    dry_run: bool = False
    detach: bool = False
    panel: bool = False

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    @property
    def node_selector_dict(self) -> dict[str, str]:
        return dict(self.node_selector)


# -- the option table: the single list of options (help and writing back are derived from it) ---

OptionKind = Literal["flag", "value", "multi"]


@dataclass(frozen=True)
class Option:
    flag: str
    field: str
    kind: OptionKind
    metavar: str
    help: str
    parse: Callable[[str, str], Any] | None = None
    """(option, text) -> value; raises SpecError naming the option."""
    write: Callable[[Any], list[str]] | None = None
    """value -> the text after the flag, one string per occurrence."""


_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")


def _choice(choices: Sequence[str]) -> Callable[[str, str], str]:
    def parse(option: str, text: str) -> str:
        if text not in choices:
            close = get_close_matches(text, choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else ""
            raise SpecError(option, text, choices, reason=hint)
        return text

    return parse


def _identifier(option: str, text: str) -> str:
    if not _IDENTIFIER.fullmatch(text):
        raise SpecError(option, text, "a Python function name defined in the cell, e.g. 'train'")
    return text


def _variable(option: str, text: str) -> str:
    if not _IDENTIFIER.fullmatch(text) or keyword.iskeyword(text):
        raise SpecError(option, text, "a Python variable name set by the cell, e.g. 'model_score'")
    return text


def _nonempty(option: str, text: str) -> str:
    if not text.strip() or text.startswith("-"):
        raise SpecError(option, text, "a non-empty value")
    return text


def _request_limit(option: str, text: str) -> tuple[str | None, str | None]:
    example = (
        "REQ[:LIMIT], e.g. '2', '500m:1', ':4'" if option == "--cpu" else "REQ[:LIMIT], e.g. '8Gi', '1Gi:2Gi'"
    )
    request, sep, limit = text.partition(":")
    if ":" in limit or not (request or limit) or request.strip() != request or limit.strip() != limit:
        raise SpecError(option, text, example)
    return (request or None, (limit or None) if sep else None)


def _write_request_limit(value: tuple[str | None, str | None]) -> list[str]:
    request, limit = value
    return [(request or "") + (f":{limit}" if limit is not None else "")]


def _count(option: str, text: str, minimum: int) -> int:
    if not _INT.fullmatch(text) or int(text) < minimum:
        raise SpecError(option, text, f"a whole number >= {minimum}")
    return int(text)


def _gpus(option: str, text: str) -> int:
    return _count(option, text, 0)


def _replicas(option: str, text: str) -> int | tuple[int, int]:
    allowed = "N (>= 1) or MIN:MAX with 0 <= MIN <= MAX and MAX >= 1, e.g. '4' or '1:8'"
    low, sep, high = text.partition(":")
    if not sep:
        if not _INT.fullmatch(text) or int(text) < 1:
            raise SpecError(option, text, allowed)
        return int(text)
    if not (_INT.fullmatch(low) and _INT.fullmatch(high)):
        raise SpecError(option, text, allowed)
    lo, hi = int(low), int(high)
    if lo < 0 or hi < 1 or lo > hi:
        raise SpecError(option, text, allowed, reason="min must be <= max")
    return (lo, hi)


def _write_replicas(value: int | tuple[int, int]) -> list[str]:
    return [f"{value[0]}:{value[1]}"] if isinstance(value, tuple) else [str(value)]


def _volume(option: str, text: str) -> str:
    if ":" not in text:
        raise SpecError(
            option,
            text,
            "KIND:SOURCE:PATH, e.g. 'pvc:claim:/data', 'configmap:name:/etc/x', "
            "'secret:name:/etc/y', 'v3io:container/sub/path:/data', 'shm:1Gi'",
        )
    return text


def _pair(what: str, key_check: Callable[[str], bool] | None = None) -> Callable[[str, str], Pair]:
    def parse(option: str, text: str) -> Pair:
        key, sep, value = text.partition("=")
        if not sep or not key or (key_check is not None and not key_check(key)):
            raise SpecError(option, text, f"{what}, e.g. {option} KEY=VALUE")
        return (key, value)

    return parse


def _param(option: str, text: str) -> ParamPair:
    key, value = _pair("NAME=VALUE", lambda k: bool(_IDENTIFIER.fullmatch(k)))(option, text)
    return (key, parse_param_value(value))


def _write_pairs(value: Sequence[Pair]) -> list[str]:
    return [f"{k}={v}" for k, v in value]


def _write_params(value: Sequence[ParamPair]) -> list[str]:
    return [f"{k}={format_param_value(v)}" for k, v in value]


OPTIONS: tuple[Option, ...] = (
    Option(
        "--handler",
        "handler",
        "value",
        "H",
        "call function H defined in the cell with the params",
        _identifier,
    ),
    Option(
        "--image", "image", "value", "IMG", "container image (Kubernetes); default from settings", _nonempty
    ),
    Option(
        "--kind",
        "kind",
        "value",
        "KIND",
        f"runtime kind: {', '.join(KINDS)}",
        _choice((*KINDS, *RESERVED_KINDS)),
    ),
    Option(
        "--cpu",
        "cpu",
        "value",
        "REQ[:LIMIT]",
        "CPU request and optional limit, e.g. 2 or 500m:1",
        _request_limit,
        _write_request_limit,
    ),
    Option(
        "--memory",
        "memory",
        "value",
        "REQ[:LIMIT]",
        "memory request and optional limit, e.g. 8Gi or 1Gi:2Gi",
        _request_limit,
        _write_request_limit,
    ),
    Option("--gpus", "gpus", "value", "N", "number of GPUs", _gpus, lambda v: [str(v)]),
    Option(
        "--gpu-type",
        "gpu_type",
        "value",
        "T",
        "GPU resource name (nvidia.com/gpu) or a GPU model from settings",
        _nonempty,
    ),
    Option(
        "--replicas",
        "replicas",
        "value",
        "N|MIN:MAX",
        "N cooperating replicas (dask: N workers), or a MIN:MAX range of adaptive workers (--kind dask)",
        _replicas,
        _write_replicas,
    ),
    Option(
        "--volume",
        "volumes",
        "multi",
        "KIND:SOURCE:PATH",
        "mount a volume: pvc:claim:/data, configmap:name:/etc/x, secret:name:/etc/y, v3io:container/sub:/data, shm:1Gi",
        _volume,
    ),
    Option(
        "--spot",
        "spot",
        "value",
        "MODE",
        f"spot placement: {', '.join(PREEMPTION_MODES)}",
        _choice(PREEMPTION_MODES),
    ),
    Option(
        "--priority",
        "priority",
        "value",
        "LEVEL|CLASS",
        "priority level (high, medium, low) or an allowed PriorityClass",
        _nonempty,
    ),
    Option(
        "--node-selector",
        "node_selector",
        "multi",
        "K=V",
        "require a node label (K= removes an inherited one)",
        _pair("LABEL=VALUE"),
        _write_pairs,
    ),
    Option(
        "--param",
        "params",
        "multi",
        "K=V",
        "a parameter for the handler (JSON numbers/booleans, else text)",
        _param,
        _write_params,
    ),
    Option(
        "--return",
        "returns",
        "multi",
        "VAR",
        "a variable whose value comes back in run.result ({VAR: value})",
        _variable,
    ),
    Option(
        "--env",
        "env",
        "multi",
        "K=V",
        "an environment variable for the job",
        _pair("NAME=VALUE", lambda k: bool(_ENV_NAME.fullmatch(k))),
        _write_pairs,
    ),
    Option("--backend", "backend", "value", "NAME", "where to run: local (default) or kubernetes", _nonempty),
    Option("--dry-run", "dry_run", "flag", "", "show what would be submitted and captured; run nothing"),
    Option("--detach", "detach", "flag", "", "return at once; the view keeps updating"),
    Option("--panel", "panel", "flag", "", "open the resource panel for this cell"),
)
_BY_FLAG = {o.flag: o for o in OPTIONS}
_MULTI_AS_MAPPING = {"node_selector", "params", "env"}


def usage() -> str:
    """The option reference (used as the magic's docstring)."""
    lines = ["%%mlrun [NAME] [options]   run the cell as a job", ""]
    for o in OPTIONS:
        head = f"{o.flag} {o.metavar}".strip()
        more = " (repeatable)" if o.kind == "multi" else ""
        lines.append(f"  {head:<30} {o.help}{more}")
    return "\n".join(lines)


# -- parameters -------------------------------------------------------------------------------


def parse_param_value(text: str) -> Any:
    """``--param`` values: JSON-ish numbers, booleans, null, lists/objects and quoted strings;
    anything else is the text itself."""
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    if text in ("null", "None"):
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else text
    if text[:1] in ('"', "[", "{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        if _json_finite(decoded):
            return decoded
    return text


def _json_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_json_finite(v) for v in value.values())
    return True


def format_param_value(value: Any) -> str:
    """The text that :func:`parse_param_value` turns back into ``value``."""
    if isinstance(value, str) and parse_param_value(value) == value and type(parse_param_value(value)) is str:
        return value
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise SpecError("--param", value, "JSON numbers, booleans, null, text, lists and objects") from None
    if value is None:
        return "null"
    return text


# -- parse ------------------------------------------------------------------------------------


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=False, posix=True)
    except ValueError as e:
        raise SpecError("%%mlrun", line, "a line that shell-quotes correctly", reason=str(e)) from None


def parse_cell_args(line: str) -> CellArgs:
    """Parse a ``%%mlrun`` line (without the ``%%mlrun`` itself)."""
    tokens = _split(line)
    values: dict[str, Any] = {}
    multi: dict[str, list[Any]] = {}
    name: str | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("-") and token != "-":
            flag, eq, inline = token.partition("=")
            option = _BY_FLAG.get(flag)
            if option is None:
                close = get_close_matches(flag, list(_BY_FLAG), n=1)
                hint = f"did you mean {close[0]}?" if close else "unknown option"
                raise SpecError(flag, token, [o.flag for o in OPTIONS], reason=hint)
            if option.kind == "flag":
                if eq:
                    raise SpecError(flag, token, f"{flag} takes no value")
                values[option.field] = True
                continue
            if eq:
                text = inline
            elif i < len(tokens):
                text = tokens[i]
                i += 1
            else:
                raise SpecError(flag, None, option.metavar, reason="missing value")
            parsed = option.parse(flag, text) if option.parse else text
            if option.kind == "multi":
                multi.setdefault(option.field, []).append(parsed)
            else:
                if option.field in values:
                    raise SpecError(flag, text, f"{flag} once", reason="given more than once")
                values[option.field] = parsed
        else:
            if name is not None:
                raise SpecError(
                    "NAME", token, "one function name before the options", reason=f"{name!r} already given"
                )
            if not _NAME.fullmatch(token):
                raise SpecError("NAME", token, "letters, digits, '-', '_' and '.', e.g. 'train'")
            name = token
    for field_name, items in multi.items():
        if field_name in _MULTI_AS_MAPPING:
            # Later occurrences win, like repeated dict keys; keep first-seen order.
            merged: dict[str, Any] = {}
            for key, value in items:
                merged.pop(key, None)
                merged[key] = value
            values[field_name] = tuple(merged.items())
        else:
            values[field_name] = tuple(items)
    return CellArgs(name=name, **values)


# -- write back -------------------------------------------------------------------------------


def to_magic_line(args: CellArgs, *, flags: bool = True) -> str:
    """The ``%%mlrun`` line (without ``%%mlrun``) that parses back to ``args``.

    ``flags=False`` leaves out ``--dry-run``/``--detach``/``--panel`` (how to run, not what).
    """
    parts: list[str] = []
    if args.name is not None:
        parts.append(args.name)
    for o in OPTIONS:
        value = getattr(args, o.field)
        if o.kind == "flag":
            if value and flags:
                parts.append(o.flag)
            continue
        if value is None or value == ():
            continue
        if o.write is not None:
            texts = o.write(value)
        elif o.kind == "multi":
            texts = [str(v) for v in value]
        else:
            texts = [str(value)]
        for text in texts:
            parts.append(
                f"{o.flag}={shlex.quote(text)}" if text.startswith("-") else f"{o.flag} {shlex.quote(text)}"
            )
    return " ".join(parts)


# -- apply ------------------------------------------------------------------------------------


def _relabel(option: str, value: Any, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SpecError as e:
        detail = f"{e.path}: {e.reason}" if e.reason else e.path
        raise SpecError(option, value, e.allowed, reason=detail) from None


def apply_cell_args(fn: Any, args: CellArgs) -> Any:
    """Apply the line's options to a Function through its public API (one option, one call).

    ``name``, ``kind`` and ``backend`` are not applied (they choose what to build and where to
    run it). Returns ``fn``. Errors name the option that caused them.
    """
    if args.image is not None:
        _relabel("--image", args.image, lambda: setattr(fn.spec, "image", args.image))
    if args.handler is not None:
        _relabel("--handler", args.handler, lambda: setattr(fn.spec, "handler", args.handler))
    if args.cpu is not None:
        cpu = args.cpu
        if cpu[0] is not None:
            _relabel("--cpu", cpu[0], lambda: fn.with_requests(cpu=cpu[0], patch=True))
        if cpu[1] is not None:
            _relabel("--cpu", cpu[1], lambda: fn.with_limits(cpu=cpu[1], patch=True))
    if args.memory is not None:
        mem = args.memory
        if mem[0] is not None:
            _relabel("--memory", mem[0], lambda: fn.with_requests(mem=mem[0], patch=True))
        if mem[1] is not None:
            _relabel("--memory", mem[1], lambda: fn.with_limits(mem=mem[1], patch=True))
    _apply_gpus(fn, args)
    if args.replicas is not None:
        replicas = args.replicas
        if isinstance(replicas, tuple):
            _relabel("--replicas", f"{replicas[0]}:{replicas[1]}", lambda: _set_range(fn, replicas))
        else:
            _relabel("--replicas", replicas, lambda: setattr(fn.spec, "replicas", replicas))
    for text in args.volumes:
        _relabel("--volume", text, partial(_apply_volume, fn, text))
    if args.spot is not None:
        _relabel("--spot", args.spot, lambda: fn.with_preemption_mode(args.spot))
    if args.priority is not None:
        _relabel("--priority", args.priority, lambda: fn.with_priority_class(args.priority))
    if args.node_selector:
        selector = args.node_selector_dict
        _relabel("--node-selector", selector, lambda: fn.with_node_selection(node_selector=selector))
    if args.returns:
        returns = args.returns
        _relabel("--return", list(returns), lambda: setattr(fn.spec, "returns", returns))
    for key, value in args.env:
        _relabel("--env", f"{key}={value}", partial(fn.set_env, key, value))
    return fn


def _set_range(fn: Any, value: tuple[int, int]) -> None:
    fn.spec.min_replicas, fn.spec.max_replicas = value


def _apply_volume(fn: Any, text: str) -> None:
    from jupyter_mlres.core.volumes import parse_volume_spec

    fn.apply(parse_volume_spec(text, "--volume"))


def _apply_gpus(fn: Any, args: CellArgs) -> None:
    if args.gpus is None:
        if args.gpu_type is not None:
            raise SpecError("--gpu-type", args.gpu_type, "--gpu-type T together with --gpus N")
        return
    count = args.gpus
    if args.gpu_type is None:
        _relabel("--gpus", count, lambda: fn.gpus(count))
    else:
        gpu_type = args.gpu_type
        _relabel("--gpu-type", gpu_type, lambda: fn.gpus(count, gpu_type=gpu_type))


# -- a Function back to a line ----------------------------------------------------------------


def function_to_cell_args(fn: Any) -> CellArgs:
    """The :class:`CellArgs` that rebuild ``fn``'s spec (the panel's "copy as %%mlrun").

    A line cannot express everything the Python API can; :func:`unexpressed` names what this
    leaves out (affinity, tolerations, node name, env from secrets, volume names, auto-mount).
    """
    spec = fn.spec
    resources = spec.resources
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    gpu_keys = [k for k in limits if k not in ("cpu", "memory")]
    gpus = int(limits[gpu_keys[0]]) if gpu_keys else None
    gpu_type = getattr(spec, "gpu_model", None) or (gpu_keys[0] if gpu_keys else None)
    if gpu_type == DEFAULT_GPU_TYPE:
        gpu_type = None
    replicas: int | tuple[int, int] | None = spec.replicas
    if spec.min_replicas is not None or spec.max_replicas is not None:
        replicas = (spec.min_replicas or 0, spec.max_replicas or max(1, spec.min_replicas or 1))

    def pair(name: str) -> tuple[str | None, str | None] | None:
        request, limit = requests.get(name), limits.get(name)
        return None if request is None and limit is None else (request, limit)

    return CellArgs(
        name=fn.name,
        handler=spec.handler,
        image=spec.image,
        kind=None if fn.kind == "job" else fn.kind,
        cpu=pair("cpu"),
        memory=pair("memory"),
        gpus=gpus,
        gpu_type=gpu_type,
        replicas=replicas,
        volumes=tuple(m.to_text() for m in spec.mounts),
        spot=spec.preemption_mode,
        priority=spec.priority_class_name,
        node_selector=tuple(spec.node_selector.items()),
        returns=tuple(spec.returns),
        env=tuple((e["name"], e["value"]) for e in spec.env if "value" in e),
    )


def unexpressed(fn: Any) -> list[str]:
    """Parts of ``fn``'s spec that :func:`function_to_cell_args` cannot carry into a line."""
    spec = fn.spec
    left: list[str] = []
    if spec.node_name:
        left.append("spec.node_name")
    if spec.affinity:
        left.append("spec.affinity")
    if spec.tolerations:
        left.append("spec.tolerations")
    left.extend(f"spec.env.{e['name']} (from a secret)" for e in spec.env if "value" not in e)
    if spec.auto_mount:
        left.append("auto_mount()")
    if not spec.use_default_resources:
        left.append("with_default_resources(False)")
    return left
