"""Random affinities/tolerations, in any spelling: a SpecError with a path, or a schema-valid result."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import event, given, settings
from hypothesis import strategies as st

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.scheduling import (
    PREEMPTION_MODES,
    normalize_affinity,
    normalize_tolerations,
    resolve_scheduling,
)
from tests.core.test_scheduling import SPOT, job_validator

T = TypeVar("T")


def mostly(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """Valid choices far more often than invalid ones, so that both outcomes are well covered."""
    return st.sampled_from(valid * 8 + invalid)


KEYS = mostly(["zone", "app.iguazio.com/lifecycle", "kubernetes.io/hostname"], ["bad key", "", "a/b/c"])
VALUES = mostly(["a", "b", "preemptible", "true", "4"], ["", "bad value", "x" * 64])
OPERATORS = mostly(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"], ["Like"])


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


@st.composite
def spelled(draw: st.DrawFn, obj: dict[str, Any]) -> dict[str, Any]:
    """The same object with its field names in camelCase or snake_case (drawn per object)."""
    use_snake = draw(st.booleans())
    return {(snake(k) if use_snake else k): v for k, v in obj.items()}


def obj(
    required: dict[str, st.SearchStrategy[Any]] | None = None, **optional: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the ``required`` fields (mostly) and a random subset of the others, then
    spelled either way."""
    required = required or {}
    return st.one_of(
        *[st.fixed_dictionaries(required, optional=optional)] * 9,
        st.fixed_dictionaries({}, optional={**required, **optional}),
    ).flatmap(spelled)


@st.composite
def values_for(draw: st.DrawFn, operator: str) -> list[str]:
    """Values that fit ``operator`` most of the time, any list otherwise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.lists(VALUES, max_size=2))
    if operator in ("In", "NotIn"):
        return draw(st.lists(VALUES, min_size=1, max_size=2))
    if operator in ("Gt", "Lt"):
        return [draw(st.sampled_from(["1", "4", "-2"]))]
    return []


def requirement_with(operators: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    def build(op: str) -> st.SearchStrategy[dict[str, Any]]:
        values = values_for(op)
        return obj({"key": KEYS, "operator": st.just(op)}, values=values) | obj(
            {"key": KEYS, "operator": st.just(op), "values": values}
        )

    return operators.flatmap(build)


requirement = requirement_with(OPERATORS)
label_requirement = requirement_with(mostly(["In", "NotIn", "Exists", "DoesNotExist"], ["Gt"]))
field_requirement = obj(
    {
        "key": mostly(["metadata.name"], ["metadata.labels"]),
        "operator": mostly(["In", "NotIn"], ["Exists"]),
        "values": mostly([["node-1"]], [[], ["Bad_Node"], ["a", "b"]]),
    }
)
term = obj(
    {"matchExpressions": st.lists(requirement, min_size=1, max_size=3)},
    matchFields=st.lists(field_requirement, max_size=1),
)
label_selector = obj(
    matchLabels=st.dictionaries(KEYS, VALUES, max_size=2),
    matchExpressions=st.lists(label_requirement, max_size=2),
)
pod_term = obj(
    {"topologyKey": KEYS},
    labelSelector=label_selector,
    namespaces=st.lists(st.sampled_from(["default", "ml"]), max_size=2),
)
weights = mostly([1, 50, 100], [0, 101])
pod_affinity = obj(
    requiredDuringSchedulingIgnoredDuringExecution=st.lists(pod_term, max_size=2),
    preferredDuringSchedulingIgnoredDuringExecution=st.lists(
        obj({"weight": weights, "podAffinityTerm": pod_term}), max_size=2
    ),
)
affinities = obj(
    nodeAffinity=obj(
        requiredDuringSchedulingIgnoredDuringExecution=obj(
            {"nodeSelectorTerms": st.lists(term, min_size=1, max_size=3)}
        ),
        preferredDuringSchedulingIgnoredDuringExecution=st.lists(
            obj({"weight": weights, "preference": term}), max_size=2
        ),
    ),
    podAffinity=pod_affinity,
    podAntiAffinity=pod_affinity,
)


@st.composite
def toleration(draw: st.DrawFn) -> dict[str, Any]:
    """A toleration whose fields fit together most of the time, spelled either way."""
    operator = draw(mostly(["Exists", "Equal"], ["Maybe"]))
    out: dict[str, Any] = {"operator": operator} if draw(st.integers(0, 3)) else {}
    if operator != "Exists" or draw(st.integers(0, 3)):
        out["key"] = draw(KEYS)
    if operator != "Exists" or not draw(st.integers(0, 9)):
        out["value"] = draw(VALUES)
    effect = draw(mostly(["NoSchedule", "PreferNoSchedule", "NoExecute", ""], ["Never"]))
    if effect or draw(st.booleans()):
        out["effect"] = effect
    if (effect == "NoExecute" and draw(st.booleans())) or not draw(st.integers(0, 9)):
        out["tolerationSeconds"] = draw(mostly([30, -1], ["30"]))
    return draw(spelled(out))


tolerations = st.lists(toleration(), max_size=3)


def job(pod_fields: dict[str, Any]) -> dict[str, Any]:
    pod = {
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "python:3.11-slim"}],
        **pod_fields,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x"},
        "spec": {"template": {"spec": pod}},
    }


def assert_valid(pod_fields: dict[str, Any]) -> None:
    for version in ("1.25", "1.37"):
        job_validator(version).validate(job(pod_fields))


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, SpecError | None]:
    try:
        return fn(*args, **kwargs), None
    except SpecError as err:
        return None, err


@settings(max_examples=150, deadline=None)
@given(
    affinities, st.lists(st.sampled_from([{"key": "spot", "operator": "Exists"}, {"key": "gpu"}]), max_size=2)
)
def test_random_affinity_is_an_error_with_a_path_or_schema_valid(affinity: Any, tols: Any) -> None:
    normalized, err = attempt(normalize_affinity, affinity, "affinity")
    event("invalid input" if err else "valid input")
    if err is not None:
        assert err.path.startswith("affinity")
        return
    assert normalized is not None
    assert normalize_affinity(normalized, "affinity") == normalized
    assert_valid({"affinity": normalized} if normalized else {})
    for mode in PREEMPTION_MODES:
        sched, err = attempt(
            resolve_scheduling,
            mode=mode,
            node_name=None,
            node_selector={},
            affinity=affinity,
            tolerations=tols,
            settings=SPOT,
        )
        if err is not None:
            # Only a contradiction in the required terms (alone or with the mode) may fail now.
            assert err.path.endswith("nodeSelectorTerms")
            continue
        assert sched is not None
        assert_valid(sched.to_pod_spec_fields())


@settings(max_examples=150, deadline=None)
@given(tolerations)
def test_random_tolerations_are_an_error_with_a_path_or_schema_valid(tols: Any) -> None:
    normalized, err = attempt(normalize_tolerations, tols, "tolerations")
    event("invalid input" if err else "valid input")
    if err is not None:
        assert err.path.startswith("tolerations[")
        return
    assert normalized is not None
    assert normalize_tolerations(normalized, "tolerations") == normalized
    assert_valid({"tolerations": normalized} if normalized else {})
