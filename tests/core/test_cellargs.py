"""The %%mlrun line grammar: parsing, one-line errors, writing back, applying to a Function."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlres.core.cellargs import (
    PREEMPTION_MODES,
    CellArgs,
    apply_cell_args,
    format_param_value,
    parse_cell_args,
    parse_param_value,
    to_magic_line,
)
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import new_function


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", CellArgs()),
        ("train", CellArgs(name="train")),
        ("train --cpu 2 --memory 8Gi", CellArgs(name="train", cpu=("2", None), memory=("8Gi", None))),
        ("--cpu 500m:1 --memory=1Gi:2Gi", CellArgs(cpu=("500m", "1"), memory=("1Gi", "2Gi"))),
        ("--cpu :4", CellArgs(cpu=(None, "4"))),
        ("--gpus 1 --gpu-type amd.com/gpu", CellArgs(gpus=1, gpu_type="amd.com/gpu")),
        ("--replicas 4", CellArgs(replicas=4)),
        ("--replicas 1:8", CellArgs(replicas=(1, 8))),
        (
            "--volume pvc:datasets:/data --volume shm:1Gi",
            CellArgs(volumes=("pvc:datasets:/data", "shm:1Gi")),
        ),
        ("--spot allow --priority high", CellArgs(spot="allow", priority="high")),
        (
            "--node-selector zone=a --node-selector disk= --node-selector zone=b",
            CellArgs(node_selector=(("disk", ""), ("zone", "b"))),
        ),
        (
            "--param n=3 --param lr=0.1 --param flag=true --param name=abc --param q='\"7\"'",
            CellArgs(params=(("n", 3), ("lr", 0.1), ("flag", True), ("name", "abc"), ("q", "7"))),
        ),
        ("--env A=1 --env B='x y'", CellArgs(env=(("A", "1"), ("B", "x y")))),
        (
            "--backend local --dry-run --detach --panel",
            CellArgs(backend="local", dry_run=True, detach=True, panel=True),
        ),
        (
            "--handler main --kind job --image python:3.12",
            CellArgs(handler="main", kind="job", image="python:3.12"),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_parse(line: str, expected: CellArgs) -> None:
    assert parse_cell_args(line) == expected


@pytest.mark.parametrize(
    ("line", "path", "in_message"),
    [
        ("--cpus 2", "--cpus", "did you mean --cpu?"),
        ("--spot maybe", "--spot", "allow, constrain, prevent, none"),
        ("--spot alow", "--spot", "did you mean 'allow'?"),
        ("--gpus two", "--gpus", "a whole number >= 0"),
        ("--gpus -1", "--gpus", "a whole number >= 0"),
        ("--replicas 0", "--replicas", "N (>= 1)"),
        ("--replicas 4:2", "--replicas", "min must be <= max"),
        ("--cpu 1:2:3", "--cpu", "REQ[:LIMIT]"),
        ("--cpu", "--cpu", "missing value"),
        ("--param 3=x", "--param", "NAME=VALUE"),
        ("--env novalue", "--env", "NAME=VALUE"),
        ("--node-selector =x", "--node-selector", "LABEL=VALUE"),
        ("--volume data", "--volume", "KIND:SOURCE:PATH"),
        ("--handler 1abc", "--handler", "a Python function name"),
        ("--kind spark", "--kind", "job"),
        ("--cpu 1 --cpu 2", "--cpu", "given more than once"),
        ("a b", "NAME", "already given"),
        ("'unterminated", "%%mlrun", "No closing quotation"),
        ("--dry-run=yes", "--dry-run", "takes no value"),
    ],
)
def test_errors_name_the_option_value_and_choices(line: str, path: str, in_message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_cell_args(line)
    assert info.value.path == path
    message = str(info.value)
    assert "\n" not in message
    assert in_message in message


# -- round trip -------------------------------------------------------------------------------

_text = st.text(string.ascii_letters + string.digits + " ./:_-=\"'", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and not s.startswith("-")
)
_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_quantity = st.sampled_from(["1", "500m", "2", "0.5", "8Gi", "512Mi", "1e3"])
_req_lim = st.tuples(st.one_of(st.none(), _quantity), st.one_of(st.none(), _quantity)).filter(
    lambda t: t != (None, None)
)
_json_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.text(max_size=8),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)


def _unique_pairs(values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    return st.dictionaries(_key, values, max_size=3).map(lambda d: tuple(d.items()))


cell_args = st.builds(
    CellArgs,
    name=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)),
    handler=st.one_of(st.none(), _key),
    image=st.one_of(st.none(), _text),
    kind=st.one_of(st.none(), st.just("job")),
    cpu=st.one_of(st.none(), _req_lim),
    memory=st.one_of(st.none(), _req_lim),
    gpus=st.one_of(st.none(), st.integers(0, 8)),
    gpu_type=st.one_of(st.none(), st.just("nvidia.com/gpu")),
    replicas=st.one_of(
        st.none(),
        st.integers(1, 64),
        st.tuples(st.integers(0, 4), st.integers(4, 16)),
    ),
    volumes=st.lists(
        st.sampled_from(["pvc:data:/data", "shm:1Gi", "configmap:cfg:/etc/x y"]), max_size=3
    ).map(tuple),
    spot=st.one_of(st.none(), st.sampled_from(PREEMPTION_MODES)),
    priority=st.one_of(st.none(), _text),
    node_selector=_unique_pairs(st.text(string.ascii_letters + "-=. ", max_size=6)),
    params=_unique_pairs(_json_value),
    env=_unique_pairs(st.text(max_size=8)),
    backend=st.one_of(st.none(), st.sampled_from(["local", "kubernetes"])),
    dry_run=st.booleans(),
    detach=st.booleans(),
    panel=st.booleans(),
)


@given(cell_args)
@settings(max_examples=150, deadline=None)
def test_write_back_round_trips(args: CellArgs) -> None:
    assert parse_cell_args(to_magic_line(args)) == args


@given(_json_value)
def test_param_values_round_trip(value: Any) -> None:
    assert parse_param_value(format_param_value(value)) == value


def test_flags_can_be_left_out_when_writing_back() -> None:
    args = parse_cell_args("train --cpu 2 --dry-run --detach")
    assert to_magic_line(args, flags=False) == "train --cpu 2"


# -- apply ------------------------------------------------------------------------------------


def test_apply_maps_options_onto_the_function_api() -> None:
    args = parse_cell_args(
        "train --handler main --image python:3.12 --cpu 1:2 --memory 1Gi:2Gi --gpus 1 --replicas 2 "
        "--volume pvc:datasets:/data --spot allow --priority high --node-selector zone=a --env A=1"
    )
    fn = apply_cell_args(new_function("train"), args)
    assert fn.spec.handler == "main"
    assert fn.spec.image == "python:3.12"
    assert fn.spec.resources == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }
    assert fn.spec.replicas == 2
    assert [m.to_text() for m in fn.spec.mounts] == ["pvc:datasets:/data"]
    assert fn.spec.preemption_mode == "allow"
    assert fn.spec.priority_class_name == "high"
    assert fn.spec.node_selector == {"zone": "a"}
    assert {"name": "A", "value": "1"} in fn.spec.env


def test_apply_replica_range() -> None:
    fn = apply_cell_args(new_function("x"), parse_cell_args("--replicas 1:4"))
    assert (fn.spec.min_replicas, fn.spec.max_replicas) == (1, 4)


@pytest.mark.parametrize(
    ("line", "path", "value"),
    [
        ("--cpu 2GB", "--cpu", "2GB"),
        ("--memory 1:5mi", "--memory", "5mi"),
        ("--volume nfs:x:/data", "--volume", "nfs:x:/data"),
        ("--env MLRES_X=1", "--env", "MLRES_X=1"),
        ("--gpu-type nvidia.com/gpu", "--gpu-type", "nvidia.com/gpu"),
    ],
)
def test_apply_errors_are_relabelled_with_the_option(line: str, path: str, value: str) -> None:
    with pytest.raises(SpecError) as info:
        apply_cell_args(new_function("x"), parse_cell_args(line))
    assert info.value.path == path
    assert info.value.value == value
