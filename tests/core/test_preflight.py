"""Could any node ever run the pod? (pure)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_mlres.core.preflight import check_priority_class, node_fit, parse_quantity, pod_requests


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "16Gi",
    gpus: int = 0,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    cordoned: bool = False,
) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or [], "unschedulable": cordoned},
        "status": {"allocatable": alloc},
    }


def spec(
    requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "containers": [{"name": "main", "resources": {"requests": requests or {}, "limits": limits or {}}}],
        **extra,
    }


def test_fits_on_a_big_enough_node() -> None:
    report = node_fit(spec({"cpu": "2", "memory": "8Gi"}), [node("small", cpu="1"), node("big", cpu="8")])
    assert report.fits


def test_gpu_request_that_no_node_has_is_explained() -> None:
    report = node_fit(spec(limits={"nvidia.com/gpu": "2"}), [node("a", gpus=1), node("b")])
    assert not report.fits
    assert "insufficient nvidia.com/gpu" in report.message
    assert "largest allocatable" in report.message
    assert "nvidia.com/gpu 1" in report.message


def test_node_selector_and_spot_affinity_rule_nodes_out() -> None:
    spot = {"node.kubernetes.io/lifecycle": "spot"}
    prevent = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "node.kubernetes.io/lifecycle", "operator": "NotIn", "values": ["spot"]}
                        ]
                    }
                ]
            }
        }
    }
    report = node_fit(
        spec({"cpu": "1"}, affinity=prevent), [node("s1", labels=spot), node("s2", labels=spot)]
    )
    assert not report.fits
    assert "0/2 nodes" in report.message
    assert "affinity" in report.message
    assert node_fit(spec({"cpu": "1"}, affinity=prevent), [node("s1", labels=spot), node("od")]).fits
    assert not node_fit(spec({"cpu": "1"}, nodeSelector={"gpu": "a100"}), [node("x")]).fits


def test_taints_need_tolerations_and_cordoned_nodes_do_not_count() -> None:
    taint = {"key": "spot", "value": "true", "effect": "NoSchedule"}
    assert not node_fit(spec({"cpu": "1"}), [node("t", taints=[taint]), node("c", cordoned=True)]).fits
    tolerate = [{"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    assert node_fit(spec({"cpu": "1"}, tolerations=tolerate), [node("t", taints=[taint])]).fits


def test_limits_count_as_requests_when_only_limits_are_set() -> None:
    assert pod_requests(spec(limits={"memory": "1Gi"})) == {"memory": Decimal(2**30)}
    assert not node_fit(spec(limits={"memory": "64Gi"}), [node("a")]).fits


def test_priority_class_check_lists_the_choices() -> None:
    assert check_priority_class("high", ["high", "low"]) == ""
    assert "existing: high, low" in check_priority_class("urgent", ["low", "high"])
    assert check_priority_class(None, []) == ""


@pytest.mark.parametrize(
    ("text", "value"), [("500m", "0.5"), ("2", "2"), ("1Ki", "1024"), ("1e3", "1000"), ("1.5G", "1500000000")]
)
def test_quantities(text: str, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["", "m", "Ki", "Mi", "Gi", "k", "M", "G"]))
def test_quantity_ordering_is_numeric(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") <= parse_quantity(f"{n + 1}{suffix}")


@pytest.mark.parametrize("bad", ["2 GB", "1GiB", "abc", ""])
def test_malformed_quantities_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(bad)
