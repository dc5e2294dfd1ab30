"""Preemption modes, priority and node selection as the Function API exposes them.

The rules themselves are tested in test_scheduling/test_priority; here: the seed's calls, the
wiring into the rendered pod and Job, and strict schema validity.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

import jupyter_mlres as mlres
from jupyter_mlres import Settings, SpecError
from tests.core.k8s_schema import validate_all

SPOT = {"app.iguazio.com/lifecycle": "preemptible"}


def _fn(settings: Settings | None = None) -> mlres.Function:
    return mlres.new_function("train", code="pass", settings=settings)


def _required_terms(pod: dict[str, Any]) -> list[dict[str, Any]]:
    affinity = pod.get("affinity", {}).get("nodeAffinity", {})
    return list(
        affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", [])
    )


def test_allow_adds_the_spot_tolerations(spot_settings: Settings) -> None:
    fn = _fn().with_preemption_mode("allow")
    pod = fn.to_pod_spec(spot_settings)
    assert pod["tolerations"] == list(spot_settings.preemptible_tolerations)
    assert _required_terms(pod) == []
    job = fn.to_manifests(spot_settings)[-1]
    assert job["spec"]["podFailurePolicy"]["rules"][0]["action"] == "Ignore"
    validate_all(fn.to_manifests(spot_settings))


def test_constrain_requires_spot_nodes(spot_settings: Settings) -> None:
    pod = _fn().with_preemption_mode("constrain").to_pod_spec(spot_settings)
    assert pod["tolerations"] == list(spot_settings.preemptible_tolerations)
    assert _required_terms(pod) == [
        {
            "matchExpressions": [
                {"key": "app.iguazio.com/lifecycle", "operator": "In", "values": ["preemptible"]}
            ]
        }
    ]


def test_prevent_keeps_jobs_off_spot_nodes_and_is_the_default(spot_settings: Settings) -> None:
    fn = _fn()
    pod = fn.to_pod_spec(spot_settings)
    assert "tolerations" not in pod
    assert _required_terms(pod) == [
        {
            "matchExpressions": [
                {"key": "app.iguazio.com/lifecycle", "operator": "NotIn", "values": ["preemptible"]}
            ]
        }
    ]
    assert "podFailurePolicy" not in fn.to_manifests(spot_settings)[-1]["spec"]


def test_none_changes_nothing(spot_settings: Settings) -> None:
    pod = _fn().with_preemption_mode("none").to_pod_spec(spot_settings)
    assert "tolerations" not in pod
    assert "affinity" not in pod


def test_no_spot_nodes_configured_is_said_in_the_preview() -> None:
    text = _fn().with_preemption_mode("constrain").to_yaml(Settings())
    assert text.startswith("# no spot nodes configured")


def test_unknown_mode_lists_the_modes() -> None:
    fn = _fn()
    with pytest.raises(SpecError, match="allow, constrain, prevent, none") as err:
        fn.with_preemption_mode("sometimes")
    assert err.value.path == "preemption_mode"
    assert fn.spec.preemption_mode is None


def test_user_affinity_is_kept_under_a_mode(spot_settings: Settings) -> None:
    affinity = {
        "node_affinity": {
            "required_during_scheduling_ignored_during_execution": {
                "node_selector_terms": [
                    {"match_expressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    }
    pod = (
        _fn()
        .with_node_selection(affinity=affinity)
        .with_preemption_mode("prevent")
        .to_pod_spec(spot_settings)
    )
    (term,) = _required_terms(pod)
    keys = [e["key"] for e in term["matchExpressions"]]
    assert keys == ["zone", "app.iguazio.com/lifecycle"]


def test_seed_node_selector_contradicts_constrain(spot_settings: Settings) -> None:
    fn = _fn().with_node_selection(node_selector={"app.iguazio.com/lifecycle": "non-preemptible"})
    assert fn.to_pod_spec(spot_settings)["nodeSelector"] == {"app.iguazio.com/lifecycle": "non-preemptible"}
    fn.with_preemption_mode("constrain")
    with pytest.raises(SpecError) as err:
        fn.to_manifests(spot_settings)
    assert "node_selector" in err.value.path


def test_node_selector_merges_over_the_default_and_empty_removes() -> None:
    settings = Settings(default_node_selector={"pool": "cpu", "zone": "a"})
    fn = _fn().with_node_selection(node_selector={"zone": "", "disk": "ssd"})
    assert fn.to_pod_spec(settings)["nodeSelector"] == {"pool": "cpu", "disk": "ssd"}


@pytest.mark.parametrize("selector", [{"bad key!": "x"}, {"ok": "bad value!"}, {"ok": 1}, {"x" * 64: "v"}])
def test_node_selector_labels_are_validated(selector: dict[str, Any]) -> None:
    fn = _fn()
    with pytest.raises(SpecError) as err:
        fn.with_node_selection(node_selector=selector)
    assert err.value.path.startswith("node_selector")
    assert fn.spec.node_selector == {}


def test_affinity_and_tolerations_from_client_models(spot_settings: Settings) -> None:
    affinity = k8s.V1Affinity(
        node_affinity=k8s.V1NodeAffinity(
            preferred_during_scheduling_ignored_during_execution=[
                k8s.V1PreferredSchedulingTerm(
                    weight=10,
                    preference=k8s.V1NodeSelectorTerm(
                        match_expressions=[
                            k8s.V1NodeSelectorRequirement(key="disk", operator="In", values=["ssd"])
                        ]
                    ),
                )
            ]
        )
    )
    tolerations = [k8s.V1Toleration(key="gpu", operator="Exists", effect="NoSchedule")]
    fn = _fn().with_node_selection(node_name="node-1", affinity=affinity, tolerations=tolerations)
    pod = fn.to_pod_spec(Settings())
    assert pod["nodeName"] == "node-1"
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    preferred = pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["preference"]["matchExpressions"][0]["key"] == "disk"
    validate_all(fn.to_manifests(spot_settings))


def test_with_priority_class_default_priority(spot_settings: Settings) -> None:
    fn = _fn(spot_settings).with_priority_class(name="default-priority")
    assert fn.to_pod_spec()["priorityClassName"] == "default-priority"


def test_priority_levels_and_default(spot_settings: Settings) -> None:
    fn = _fn(spot_settings)
    assert fn.to_pod_spec()["priorityClassName"] == "igz-workload-medium"
    assert fn.with_priority_class("high").to_pod_spec()["priorityClassName"] == "igz-workload-high"
    assert fn.with_priority_class(None).to_pod_spec()["priorityClassName"] == "igz-workload-medium"
    assert fn.get_default_priority_class_name() == "igz-workload-medium"
    assert fn.list_valid_priority_class_names() == [
        "igz-workload-high",
        "igz-workload-medium",
        "igz-workload-low",
        "default-priority",
    ]


def test_unknown_priority_class_lists_the_choices(spot_settings: Settings) -> None:
    fn = _fn(spot_settings).with_priority_class("low")
    with pytest.raises(SpecError, match="default-priority") as err:
        fn.with_priority_class("urgent")
    assert "igz-workload-high" in str(err.value)
    assert fn.spec.priority_class_name == "low"


def test_priority_is_checked_again_at_render(spot_settings: Settings) -> None:
    fn = _fn().with_priority_class("urgent")  # no settings bound: checked when rendered
    with pytest.raises(SpecError, match="default-priority"):
        fn.to_manifests(spot_settings)


def test_no_priority_classes_leaves_it_unset() -> None:
    assert "priorityClassName" not in _fn().to_pod_spec(Settings())
