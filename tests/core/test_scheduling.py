"""Preemption modes combined with the user's scheduling, checked against a small scheduler model."""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
import kubernetes.client as k8s
import kubernetes_validate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.scheduling import (
    PREEMPTION_MODES,
    Scheduling,
    merge_node_selector,
    normalize_affinity,
    normalize_tolerations,
    pod_failure_policy,
    resolve_scheduling,
)
from jupyter_mlres.core.settings import Settings

LIFECYCLE = "app.iguazio.com/lifecycle"
GKE_SPOT = "cloud.google.com/gke-spot"
SPOT_TOLERATION = {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
SPOT = Settings(
    preemptible_node_selector={LIFECYCLE: "preemptible", GKE_SPOT: "true"},
    preemptible_tolerations=[SPOT_TOLERATION],
)
SINGLE_LABEL = Settings(preemptible_node_selector={LIFECYCLE: "preemptible"})
TOLERATIONS_ONLY = Settings(preemptible_tolerations=[SPOT_TOLERATION])
NO_SPOT = Settings()

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


USER_AFFINITY: dict[str, Any] = {
    "nodeAffinity": {
        REQUIRED: {
            "nodeSelectorTerms": [
                {"matchExpressions": [expr("zone", "In", "a")]},
                {"matchExpressions": [expr("zone", "In", "b"), expr("disk", "Exists")]},
            ]
        },
        PREFERRED: [{"weight": 10, "preference": {"matchExpressions": [expr("fast", "In", "yes")]}}],
    },
    "podAntiAffinity": {
        REQUIRED: [{"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]
    },
}
USER_TOLERATIONS = [
    {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "spot", "operator": "Exists"},
]
SCENARIOS: dict[str, dict[str, Any]] = {
    "nothing": {"node_selector": {}, "affinity": None, "tolerations": []},
    "node_selector": {"node_selector": {"gpu": "a100"}, "affinity": None, "tolerations": []},
    "affinity": {"node_selector": {}, "affinity": USER_AFFINITY, "tolerations": []},
    "tolerations": {"node_selector": {}, "affinity": None, "tolerations": USER_TOLERATIONS},
    "everything": {
        "node_selector": {"gpu": "a100"},
        "affinity": USER_AFFINITY,
        "tolerations": USER_TOLERATIONS,
    },
}


def resolve(mode: str, scenario: str, settings: Settings = SPOT, node_name: str | None = None) -> Scheduling:
    return resolve_scheduling(mode=mode, node_name=node_name, settings=settings, **SCENARIOS[scenario])


def required_terms(sched: Scheduling) -> list[dict[str, Any]] | None:
    if not sched.affinity:
        return None
    required = sched.affinity.get("nodeAffinity", {}).get(REQUIRED)
    return None if required is None else required["nodeSelectorTerms"]


# --- exact shapes ----------------------------------------------------------------------------


def test_none_changes_nothing() -> None:
    for scenario, given_ in SCENARIOS.items():
        result = resolve("none", scenario)
        assert result.node_selector == given_["node_selector"]
        assert result.affinity == (given_["affinity"] or None)
        assert result.tolerations == normalize_tolerations(given_["tolerations"], "t")
        assert result.warnings == result.notes == ()


def test_allow_adds_spot_tolerations_only() -> None:
    result = resolve("allow", "nothing")
    assert result.tolerations == [SPOT_TOLERATION]
    assert result.affinity is None
    assert result.node_selector == {}


def test_constrain_requires_any_spot_label_one_term_per_label() -> None:
    result = resolve("constrain", "nothing")
    assert result.tolerations == [SPOT_TOLERATION]
    assert required_terms(result) == [
        {"matchExpressions": [expr(LIFECYCLE, "In", "preemptible")]},
        {"matchExpressions": [expr(GKE_SPOT, "In", "true")]},
    ]


def test_prevent_requires_no_spot_label_in_one_term() -> None:
    result = resolve("prevent", "nothing")
    assert result.tolerations == []
    assert required_terms(result) == [
        {"matchExpressions": [expr(LIFECYCLE, "NotIn", "preemptible"), expr(GKE_SPOT, "NotIn", "true")]}
    ]


def test_constrain_cross_product_with_user_terms() -> None:
    result = resolve("constrain", "affinity")
    assert required_terms(result) == [
        {"matchExpressions": [expr("zone", "In", "a"), expr(LIFECYCLE, "In", "preemptible")]},
        {"matchExpressions": [expr("zone", "In", "a"), expr(GKE_SPOT, "In", "true")]},
        {
            "matchExpressions": [
                expr("zone", "In", "b"),
                expr("disk", "Exists"),
                expr(LIFECYCLE, "In", "preemptible"),
            ]
        },
        {"matchExpressions": [expr("zone", "In", "b"), expr("disk", "Exists"), expr(GKE_SPOT, "In", "true")]},
    ]


def test_prevent_adds_not_in_to_every_user_term() -> None:
    result = resolve("prevent", "affinity")
    not_in = [expr(LIFECYCLE, "NotIn", "preemptible"), expr(GKE_SPOT, "NotIn", "true")]
    assert required_terms(result) == [
        {"matchExpressions": [expr("zone", "In", "a"), *not_in]},
        {"matchExpressions": [expr("zone", "In", "b"), expr("disk", "Exists"), *not_in]},
    ]


@pytest.mark.parametrize("mode", PREEMPTION_MODES)
def test_preferred_terms_and_pod_affinity_pass_through(mode: str) -> None:
    result = resolve(mode, "everything")
    assert result.affinity is not None
    assert result.affinity["nodeAffinity"][PREFERRED] == USER_AFFINITY["nodeAffinity"][PREFERRED]
    assert result.affinity["podAntiAffinity"] == USER_AFFINITY["podAntiAffinity"]
    assert result.node_selector == {"gpu": "a100"}


@pytest.mark.parametrize("mode", PREEMPTION_MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("settings_", [SPOT, SINGLE_LABEL, TOLERATIONS_ONLY, NO_SPOT], ids=lambda s: "s")
def test_invariants(mode: str, scenario: str, settings_: Settings) -> None:
    given_ = copy.deepcopy(SCENARIOS[scenario])
    result = resolve(mode, scenario, settings_)
    assert SCENARIOS[scenario] == given_, "inputs must not be modified"
    assert result.node_selector == given_["node_selector"]
    terms = required_terms(result)
    if terms is not None:
        assert terms, "never an empty nodeSelectorTerms list"
        assert all(t.get("matchExpressions") or t.get("matchFields") for t in terms)
    user_terms = (given_["affinity"] or {}).get("nodeAffinity", {}).get(REQUIRED, {}).get("nodeSelectorTerms")
    if user_terms:
        assert terms is not None
        # Every result term refines some user term: nothing the user asked for is dropped.
        for term in terms:
            assert any(all(e in term["matchExpressions"] for e in u["matchExpressions"]) for u in user_terms)
    assert len({json.dumps(t, sort_keys=True) for t in result.tolerations}) == len(result.tolerations)


# --- tolerations -----------------------------------------------------------------------------


def test_allow_does_not_duplicate_a_spot_toleration_the_user_gave() -> None:
    result = resolve_scheduling(
        mode="allow",
        node_name=None,
        node_selector={},
        affinity=None,
        tolerations=[k8s.V1Toleration(key="spot", operator="Equal", value="true", effect="NoSchedule")],
        settings=SPOT,
    )
    assert result.tolerations == [SPOT_TOLERATION]


def test_allow_adds_nothing_a_wider_user_toleration_covers() -> None:
    result = resolve("allow", "tolerations")
    assert result.tolerations == normalize_tolerations(USER_TOLERATIONS, "t")


def test_constrain_keeps_user_tolerations_first() -> None:
    extra = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    result = resolve_scheduling(
        mode="constrain", node_name=None, node_selector={}, affinity=None, tolerations=extra, settings=SPOT
    )
    assert result.tolerations == [*extra, SPOT_TOLERATION]


def test_prevent_drops_user_spot_tolerations_with_a_warning() -> None:
    result = resolve("prevent", "tolerations")
    assert result.tolerations == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert len(result.warnings) == 1
    assert "tolerations[1]" in result.warnings[0]
    assert "prevent" in result.warnings[0]


def test_prevent_keeps_unrelated_tolerations_silently() -> None:
    tol = [{"key": "spot", "operator": "Equal", "value": "false"}, {"key": "spot", "effect": "NoExecute"}]
    result = resolve_scheduling(
        mode="prevent", node_name=None, node_selector={}, affinity=None, tolerations=tol, settings=SPOT
    )
    assert result.tolerations == normalize_tolerations(tol, "t")
    assert result.warnings == ()


def test_prevent_without_labels_warns_about_a_blanket_toleration() -> None:
    result = resolve_scheduling(
        mode="prevent",
        node_name=None,
        node_selector={},
        affinity=None,
        tolerations=[{"operator": "Exists"}],
        settings=TOLERATIONS_ONLY,
    )
    assert result.tolerations == [{"operator": "Exists"}]
    assert any("every taint" in w for w in result.warnings)
    assert result.affinity is None


# --- contradictions --------------------------------------------------------------------------


def test_constrain_with_a_non_spot_value_pinned_is_an_error() -> None:
    with pytest.raises(SpecError) as info:
        resolve_scheduling(
            mode="constrain",
            node_name=None,
            node_selector={LIFECYCLE: "non-preemptible"},
            affinity=None,
            tolerations=[],
            settings=SPOT,
        )
    assert info.value.path == f"node_selector.{LIFECYCLE}"
    assert info.value.value == "non-preemptible"
    assert "'preemptible'" in str(info.value)


def test_prevent_with_a_spot_value_pinned_is_an_error() -> None:
    with pytest.raises(SpecError) as info:
        resolve_scheduling(
            mode="prevent",
            node_name=None,
            node_selector={GKE_SPOT: "true"},
            affinity=None,
            tolerations=[],
            settings=SPOT,
        )
    assert info.value.path == f"node_selector.{GKE_SPOT}"
    assert "allow" in str(info.value)


def test_prevent_with_the_mlrun_on_demand_selector_is_fine() -> None:
    # The seed's example: with_node_selection(node_selector={"app.iguazio.com/lifecycle": "non-preemptible"})
    result = resolve_scheduling(
        mode="prevent",
        node_name=None,
        node_selector={LIFECYCLE: "non-preemptible"},
        affinity=None,
        tolerations=[],
        settings=SPOT,
    )
    assert result.node_selector == {LIFECYCLE: "non-preemptible"}
    # The pinned key already excludes that label's spot nodes; the other label still needs NotIn.
    assert required_terms(result) == [{"matchExpressions": [expr(GKE_SPOT, "NotIn", "true")]}]


def test_constrain_with_a_spot_value_pinned_adds_no_affinity() -> None:
    result = resolve_scheduling(
        mode="constrain",
        node_name=None,
        node_selector={LIFECYCLE: "preemptible"},
        affinity=None,
        tolerations=[],
        settings=SPOT,
    )
    assert result.affinity is None
    assert result.tolerations == [SPOT_TOLERATION]
    assert any("already selects spot nodes" in n for n in result.notes)


def _affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": t} for t in terms]}}}


def test_constrain_with_terms_that_exclude_spot_nodes_is_an_error() -> None:
    affinity = _affinity(
        [expr(LIFECYCLE, "NotIn", "preemptible"), expr(GKE_SPOT, "DoesNotExist")],
        [expr(LIFECYCLE, "In", "on-demand"), expr(GKE_SPOT, "NotIn", "true")],
    )
    with pytest.raises(SpecError, match="spot node") as info:
        resolve_scheduling(
            mode="constrain",
            node_name=None,
            node_selector={},
            affinity=affinity,
            tolerations=[],
            settings=SPOT,
        )
    assert "nodeSelectorTerms" in info.value.path


def test_constrain_leaves_out_a_term_that_cannot_match_spot_nodes_with_a_warning() -> None:
    affinity = _affinity(
        [expr(LIFECYCLE, "In", "on-demand"), expr(GKE_SPOT, "DoesNotExist")], [expr("zone", "In", "a")]
    )
    result = resolve_scheduling(
        mode="constrain", node_name=None, node_selector={}, affinity=affinity, tolerations=[], settings=SPOT
    )
    assert required_terms(result) == [
        {"matchExpressions": [expr("zone", "In", "a"), expr(LIFECYCLE, "In", "preemptible")]},
        {"matchExpressions": [expr("zone", "In", "a"), expr(GKE_SPOT, "In", "true")]},
    ]
    assert len(result.warnings) == 1
    assert "nodeSelectorTerms[0]" in result.warnings[0]


def test_prevent_with_only_spot_terms_is_an_error() -> None:
    affinity = _affinity([expr(LIFECYCLE, "In", "preemptible")], [expr(GKE_SPOT, "In", "true")])
    with pytest.raises(SpecError, match="prevent"):
        resolve_scheduling(
            mode="prevent", node_name=None, node_selector={}, affinity=affinity, tolerations=[], settings=SPOT
        )


def test_prevent_leaves_out_a_spot_only_term_with_a_warning() -> None:
    affinity = _affinity([expr(LIFECYCLE, "In", "preemptible")], [expr("zone", "In", "a")])
    result = resolve_scheduling(
        mode="prevent", node_name=None, node_selector={}, affinity=affinity, tolerations=[], settings=SPOT
    )
    terms = required_terms(result)
    assert terms is not None
    assert len(terms) == 1
    assert terms[0]["matchExpressions"][0] == expr("zone", "In", "a")
    assert "nodeSelectorTerms[0]" in result.warnings[0]


def test_match_fields_terms_are_kept_in_the_cross_product() -> None:
    affinity = {
        "nodeAffinity": {
            REQUIRED: {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
                ]
            }
        }
    }
    result = resolve_scheduling(
        mode="constrain", node_name=None, node_selector={}, affinity=affinity, tolerations=[], settings=SPOT
    )
    terms = required_terms(result)
    assert terms is not None
    assert len(terms) == 2
    assert all(
        t["matchFields"] == affinity["nodeAffinity"][REQUIRED]["nodeSelectorTerms"][0]["matchFields"]
        for t in terms
    )


# --- configuration gaps, modes, node name -----------------------------------------------------


@pytest.mark.parametrize("mode", ["allow", "constrain", "prevent"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_spot_nodes_configured_changes_nothing_and_says_so(mode: str, scenario: str) -> None:
    result = resolve(mode, scenario, NO_SPOT)
    expected = resolve("none", scenario, NO_SPOT)
    assert (result.node_selector, result.affinity, result.tolerations) == (
        expected.node_selector,
        expected.affinity,
        expected.tolerations,
    )
    assert result.warnings == ()
    assert any("no spot nodes configured" in n for n in result.notes)


def test_constrain_without_labels_says_it_cannot_require_spot_nodes() -> None:
    result = resolve("constrain", "nothing", TOLERATIONS_ONLY)
    assert result.tolerations == [SPOT_TOLERATION]
    assert result.affinity is None
    assert any("cannot require spot nodes" in n for n in result.notes)


def test_allow_without_tolerations_says_it_adds_nothing() -> None:
    result = resolve("allow", "nothing", SINGLE_LABEL)
    assert result.tolerations == []
    assert result.affinity is None
    assert result.notes


@pytest.mark.parametrize("mode", ["Allow", "spot", "", None, 1])
def test_unknown_mode_lists_the_modes(mode: object) -> None:
    with pytest.raises(SpecError) as info:
        resolve_scheduling(
            mode=mode,  # type: ignore[arg-type]
            node_name=None,
            node_selector={},
            affinity=None,
            tolerations=[],
            settings=SPOT,
        )
    assert info.value.path == "preemption_mode"
    for name in PREEMPTION_MODES:
        assert name in str(info.value)


def test_node_name_is_validated_and_kept() -> None:
    result = resolve("prevent", "nothing", node_name="node-1.example.com")
    assert result.node_name == "node-1.example.com"
    assert any("bypasses the scheduler" in n for n in result.notes)
    with pytest.raises(SpecError, match="node_name"):
        resolve("none", "nothing", node_name="Node_1")


def test_invalid_settings_are_named() -> None:
    bad = Settings(preemptible_node_selector={"bad key!": "x"})
    with pytest.raises(SpecError, match=r"settings\.preemptible_node_selector"):
        resolve("prevent", "nothing", bad)
    bad = Settings(preemptible_tolerations=[{"key": "spot", "operator": "Maybe"}])
    with pytest.raises(SpecError, match=r"settings\.preemptible_tolerations\[0\]\.operator"):
        resolve("allow", "nothing", bad)


# --- node selector merging -------------------------------------------------------------------


def test_merge_node_selector_user_over_default_and_empty_removes() -> None:
    default = {"pool": "cpu", "zone": "a"}
    merged = merge_node_selector(default, {"pool": "gpu", "zone": "", "disk": "ssd"}, "node_selector")
    assert merged == {"pool": "gpu", "disk": "ssd"}
    assert default == {"pool": "cpu", "zone": "a"}
    assert merge_node_selector(default, None, "node_selector") == default
    assert merge_node_selector({}, {"gone": ""}, "node_selector") == {}


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ({"bad key": "x"}, "node_selector.bad key"),
        ({"pool": "not valid"}, "node_selector.pool"),
        ({"pool": "x" * 64}, "node_selector.pool"),
        ({"pool": 1}, "node_selector.pool"),
        ({"/pool": "x"}, "node_selector./pool"),
    ],
)
def test_merge_node_selector_rejects_invalid_labels(user: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as info:
        merge_node_selector({}, user, "node_selector")
    assert info.value.path == path


def test_merge_node_selector_validates_the_default_too() -> None:
    with pytest.raises(SpecError, match=r"settings\.default_node_selector"):
        merge_node_selector({"pool": "bad value"}, {}, "node_selector")


# --- normalisation ---------------------------------------------------------------------------


def _client_affinity() -> k8s.V1Affinity:
    return k8s.V1Affinity(
        node_affinity=k8s.V1NodeAffinity(
            required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                node_selector_terms=[
                    k8s.V1NodeSelectorTerm(
                        match_expressions=[
                            k8s.V1NodeSelectorRequirement(key="zone", operator="In", values=["a"])
                        ]
                    )
                ]
            ),
            preferred_during_scheduling_ignored_during_execution=[
                k8s.V1PreferredSchedulingTerm(
                    weight=5,
                    preference=k8s.V1NodeSelectorTerm(
                        match_expressions=[k8s.V1NodeSelectorRequirement(key="fast", operator="Exists")]
                    ),
                )
            ],
        ),
        pod_anti_affinity=k8s.V1PodAntiAffinity(
            preferred_during_scheduling_ignored_during_execution=[
                k8s.V1WeightedPodAffinityTerm(
                    weight=50,
                    pod_affinity_term=k8s.V1PodAffinityTerm(
                        topology_key="kubernetes.io/hostname",
                        label_selector=k8s.V1LabelSelector(match_labels={"node_pool": "a", "app": "x"}),
                    ),
                )
            ]
        ),
    )


EXPECTED_AFFINITY = {
    "nodeAffinity": {
        REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", "a")]}]},
        PREFERRED: [{"weight": 5, "preference": {"matchExpressions": [expr("fast", "Exists")]}}],
    },
    "podAntiAffinity": {
        PREFERRED: [
            {
                "weight": 50,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"node_pool": "a", "app": "x"}},
                },
            }
        ]
    },
}


def test_affinity_from_client_model() -> None:
    assert normalize_affinity(_client_affinity(), "affinity") == EXPECTED_AFFINITY


def test_affinity_from_client_to_dict_snake_case() -> None:
    # kubernetes 37 models are pydantic: to_dict() is snake_case with None for unset fields.
    as_dict = _client_affinity().to_dict()
    assert "node_affinity" in as_dict
    assert normalize_affinity(as_dict, "affinity") == EXPECTED_AFFINITY


def test_affinity_from_client_serializer_camel_case() -> None:
    wire = k8s.ApiClient().sanitize_for_serialization(_client_affinity())
    assert normalize_affinity(wire, "affinity") == EXPECTED_AFFINITY


def test_affinity_mixed_spellings_and_models_inside_dicts() -> None:
    mixed = {
        "node_affinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": k8s.V1NodeSelector(
                node_selector_terms=[{"match_expressions": [expr("zone", "In", "a")]}]
            ),
            PREFERRED: [{"weight": 5, "preference": {"matchExpressions": [expr("fast", "Exists")]}}],
        },
        "podAntiAffinity": EXPECTED_AFFINITY["podAntiAffinity"],
    }
    assert normalize_affinity(mixed, "affinity") == EXPECTED_AFFINITY


def test_match_label_keys_are_data_not_field_names() -> None:
    affinity = {
        "pod_affinity": {
            "required_during_scheduling_ignored_during_execution": [
                {
                    "label_selector": {"match_labels": {"my_label": "v", "camelCase": "w"}},
                    "topology_key": "zone",
                }
            ]
        }
    }
    out = normalize_affinity(affinity, "affinity")
    assert out["podAffinity"][REQUIRED][0]["labelSelector"]["matchLabels"] == {
        "my_label": "v",
        "camelCase": "w",
    }


def test_normalized_affinity_is_a_fresh_copy() -> None:
    src = copy.deepcopy(EXPECTED_AFFINITY)
    out = normalize_affinity(src, "affinity")
    out["nodeAffinity"][REQUIRED]["nodeSelectorTerms"].append({})
    assert src == EXPECTED_AFFINITY


@pytest.mark.parametrize(
    ("affinity", "path_part"),
    [
        ({"nodeAfinity": {}}, "affinity.nodeAfinity"),
        ({"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": []}}}, "nodeSelectorTerms"),
        ({"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{}]}}}, "nodeSelectorTerms[0]"),
        (
            {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": []}]}}},
            "nodeSelectorTerms[0]",
        ),
        (_affinity([expr("zone", "In")]), "matchExpressions[0].values"),
        (_affinity([expr("zone", "Exists", "a")]), "matchExpressions[0].values"),
        (_affinity([expr("zone", "Gt", "a")]), "matchExpressions[0].values"),
        (_affinity([expr("zone", "Like", "a")]), "matchExpressions[0].operator"),
        (_affinity([expr("bad key", "In", "a")]), "matchExpressions[0].key"),
        (_affinity([expr("zone", "In", "bad value")]), "matchExpressions[0].values[0]"),
        (
            {
                "nodeAffinity": {
                    REQUIRED: {
                        "nodeSelectorTerms": [
                            {"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["x"]}]}
                        ]
                    }
                }
            },
            "matchFields[0].key",
        ),
        ({"nodeAffinity": {PREFERRED: [{"weight": 0, "preference": {}}]}}, "weight"),
        ({"nodeAffinity": {PREFERRED: [{"weight": True, "preference": {}}]}}, "weight"),
        ({"podAffinity": {REQUIRED: [{"labelSelector": {}}]}}, "topologyKey"),
        (
            {
                "podAffinity": {
                    REQUIRED: [{"topologyKey": "zone", "labelSelector": {"matchLabels": {"a": "b c"}}}]
                }
            },
            "matchLabels",
        ),
        ({"nodeAffinity": "yes"}, "affinity.nodeAffinity"),
        ("affinity", "affinity"),
    ],
)
def test_invalid_affinity_is_an_error_with_a_path(affinity: object, path_part: str) -> None:
    with pytest.raises(SpecError) as info:
        normalize_affinity(affinity, "affinity")
    assert path_part in info.value.path
    assert info.value.path.startswith("affinity")


def test_tolerations_from_models_and_dicts_agree() -> None:
    model = k8s.V1Toleration(
        key="nvidia.com/gpu", operator="Exists", effect="NoExecute", toleration_seconds=30
    )
    snake = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute", "toleration_seconds": 30}
    camel = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
    expected = [camel]
    assert normalize_tolerations([model], "tolerations") == expected
    assert normalize_tolerations([model.to_dict()], "tolerations") == expected
    assert normalize_tolerations([snake], "tolerations") == expected
    assert normalize_tolerations(camel, "tolerations") == expected  # a single one is accepted
    assert normalize_tolerations(None, "tolerations") == []


def test_toleration_operator_defaults_to_equal() -> None:
    assert normalize_tolerations([{"key": "a", "value": "b"}], "t") == [
        {"key": "a", "operator": "Equal", "value": "b"}
    ]


@pytest.mark.parametrize(
    ("toleration", "path"),
    [
        ({"key": "a", "operator": "Maybe"}, "tolerations[0].operator"),
        ({"operator": "Equal", "value": "x"}, "tolerations[0].operator"),
        ({"key": "a", "operator": "Exists", "value": "x"}, "tolerations[0].value"),
        ({"key": "a", "effect": "NoRun"}, "tolerations[0].effect"),
        ({"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}, "tolerations[0].tolerationSeconds"),
        ({"key": "a", "tolerationSeconds": "5", "effect": "NoExecute"}, "tolerations[0].tolerationSeconds"),
        ({"key": "bad key"}, "tolerations[0].key"),
        ({"key": "a", "value": "bad value"}, "tolerations[0].value"),
        ({"key": "a", "colour": "red"}, "tolerations[0].colour"),
    ],
)
def test_invalid_tolerations_are_errors(toleration: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as info:
        normalize_tolerations([toleration], "tolerations")
    assert info.value.path == path


def test_tolerations_must_be_a_list() -> None:
    with pytest.raises(SpecError):
        normalize_tolerations("spot", "tolerations")


# --- podFailurePolicy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "present"), [("allow", True), ("constrain", True), ("none", True), ("prevent", False)]
)
def test_pod_failure_policy_per_mode(mode: str, present: bool) -> None:
    policy = pod_failure_policy(mode, SPOT)
    if present:
        assert policy == {
            "rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
            ]
        }
    else:
        assert policy is None
    assert pod_failure_policy(mode, NO_SPOT) is None


def test_pod_failure_policy_rejects_unknown_modes() -> None:
    with pytest.raises(SpecError, match="preemption_mode"):
        pod_failure_policy("sometimes", SPOT)


# --- strict schema validation ----------------------------------------------------------------


@functools.cache
def job_validator(version: str) -> jsonschema.protocols.Validator:
    """A strict batch/v1 Job validator from kubernetes-validate's bundled schemas, built once."""
    schema_dir = f"kubernetes-json-schema/v{version}.0-local-strict"
    schema = schema_contents(f"{schema_dir}/job-batch-v1.json", version)
    definitions = schema_contents(f"{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def job_with(sched: Scheduling, mode: str, settings_: Settings) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "python:3.11-slim"}],
        **sched.to_pod_spec_fields(),
    }
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}},
    }
    policy = pod_failure_policy(mode, settings_)
    if policy is not None:
        job["spec"]["podFailurePolicy"] = policy
    return job


@pytest.mark.parametrize("version", ["1.25", "1.37"])
def test_outputs_pass_strict_schema_validation(version: str) -> None:
    validator = job_validator(version)
    for mode, scenario in itertools.product(PREEMPTION_MODES, SCENARIOS):
        sched = resolve(mode, scenario, node_name="node-1")
        validator.validate(job_with(sched, mode, SPOT))


@pytest.mark.parametrize("version", ["1.25", "1.37"])
def test_kubernetes_validate_public_api_agrees(version: str) -> None:
    for mode in PREEMPTION_MODES:
        job = job_with(resolve(mode, "everything"), mode, SPOT)
        assert kubernetes_validate.validate(job, version, strict=True) == version


def test_strict_validation_catches_a_policy_without_status() -> None:
    # Guards the check above: the strict schema really looks at podFailurePolicy entries
    # (1.25 requires `status`; newer schemas default it).
    job = job_with(resolve("allow", "nothing"), "allow", SPOT)
    del job["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"]
    job_validator("1.37").validate(job)
    with pytest.raises(jsonschema.ValidationError):
        job_validator("1.25").validate(job)


@pytest.mark.parametrize("version", ["1.25", "1.37"])
def test_strict_validation_catches_snake_case(version: str) -> None:
    job = job_with(resolve("prevent", "nothing"), "prevent", SPOT)
    affinity = job["spec"]["template"]["spec"]["affinity"]
    affinity["node_affinity"] = affinity.pop("nodeAffinity")
    with pytest.raises(jsonschema.ValidationError):
        job_validator(version).validate(job)


# --- a scheduler model: the modes mean what they say, whatever the user's terms ---------------

KEYS = (LIFECYCLE, GKE_SPOT, "zone", "pool")
VALUES = ("preemptible", "true", "a", "b")  # label values drawn for every key (None = absent)


def matches(expressions: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    for e in expressions:
        key, op, values = e["key"], e["operator"], e.get("values", [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]
        if not ok:
            return False
    return True


def tolerated(taints: Sequence[tuple[str, str, str]], tolerations: Sequence[Mapping[str, Any]]) -> bool:
    def tolerates(t: Mapping[str, Any], taint: tuple[str, str, str]) -> bool:
        key, value, effect = taint
        if t.get("effect") and t["effect"] != effect:
            return False
        if not t.get("key"):
            return True
        return t["key"] == key and (t["operator"] == "Exists" or t.get("value", "") == value)

    return all(any(tolerates(t, taint) for t in tolerations) for taint in taints)


def schedulable(
    labels: Mapping[str, str],
    taints: Sequence[tuple[str, str, str]],
    selector: Mapping[str, str],
    terms: Sequence[Mapping[str, Any]] | None,
    tolerations: Sequence[Mapping[str, Any]],
) -> bool:
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    if terms is not None and not any(matches(t.get("matchExpressions", []), labels) for t in terms):
        return False
    return tolerated(taints, tolerations)


def all_nodes() -> list[tuple[dict[str, str], list[tuple[str, str, str]]]]:
    nodes = []
    for combo in itertools.product((None, *VALUES), repeat=len(KEYS)):
        labels = {k: v for k, v in zip(KEYS, combo, strict=True) if v is not None}
        spot = labels.get(LIFECYCLE) == "preemptible" or labels.get(GKE_SPOT) == "true"
        for gpu_taint in (False, True):
            # Spot nodes carry the spot taint, as the settings' tolerations describe.
            taints = [("spot", "true", "NoSchedule")] if spot else []
            if gpu_taint:
                taints.append(("gpu", "yes", "NoSchedule"))
            nodes.append((labels, taints))
    return nodes


NODES = all_nodes()

expressions = st.builds(
    lambda key, op, values: expr(key, op, *values) if op in ("In", "NotIn") else expr(key, op),
    st.sampled_from(KEYS),
    st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True),
)
user_terms = st.none() | st.lists(st.lists(expressions, min_size=1, max_size=3), min_size=1, max_size=3)
selectors = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)
user_tolerations = st.lists(
    st.sampled_from(
        [
            {"key": "gpu", "operator": "Exists"},
            {"key": "spot", "operator": "Exists"},
            {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
            {"key": "gpu", "operator": "Equal", "value": "yes"},
        ]
    ),
    max_size=2,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PREEMPTION_MODES), user_terms, selectors, user_tolerations)
def test_modes_against_a_scheduler_model(
    mode: str,
    terms: list[list[dict[str, Any]]] | None,
    selector: dict[str, str],
    tolerations: list[dict[str, Any]],
) -> None:
    affinity = _affinity(*terms) if terms is not None else None
    user_tols = normalize_tolerations(tolerations, "t")
    spot_tols = normalize_tolerations(SPOT.preemptible_tolerations, "s")
    user_terms_ = affinity["nodeAffinity"][REQUIRED]["nodeSelectorTerms"] if affinity else None

    def is_spot(labels: Mapping[str, str]) -> bool:
        return any(labels.get(k) == v for k, v in SPOT.preemptible_node_selector.items())

    def intended(labels: Mapping[str, str], taints: Sequence[tuple[str, str, str]]) -> bool:
        user_ok = schedulable(labels, [], selector, user_terms_, [])
        if mode == "none":
            return user_ok and tolerated(taints, user_tols)
        if mode == "allow":
            return user_ok and tolerated(taints, [*user_tols, *spot_tols])
        if mode == "constrain":
            return user_ok and is_spot(labels) and tolerated(taints, [*user_tols, *spot_tols])
        return user_ok and not is_spot(labels) and tolerated(taints, user_tols)

    pinned_other = mode == "constrain" and any(
        k in selector and selector[k] != v for k, v in SPOT.preemptible_node_selector.items()
    )
    if pinned_other or not any(intended(labels, []) for labels, _ in NODES):
        # A contradiction: no node could take the pod as the user and the mode intend (or, under
        # constrain, a spot label is pinned to a non-spot value, an error by rule). Either an
        # error, or (the term check is conservative) a result no node in the model accepts.
        try:
            result = resolve_scheduling(
                mode=mode,
                node_name=None,
                node_selector=selector,
                affinity=affinity,
                tolerations=tolerations,
                settings=SPOT,
            )
        except SpecError:
            return
        assert not pinned_other
    else:
        result = resolve_scheduling(
            mode=mode,
            node_name=None,
            node_selector=selector,
            affinity=affinity,
            tolerations=tolerations,
            settings=SPOT,
        )

    out_terms = required_terms(result)
    if out_terms is not None:
        assert out_terms
        assert all(t.get("matchExpressions") or t.get("matchFields") for t in out_terms)
    for labels, taints in NODES:
        got = schedulable(labels, taints, result.node_selector, out_terms, result.tolerations)
        assert got == intended(labels, taints), (labels, taints, result)


class _DictOnlyModel:
    """Another client's model: no attribute_map, only a snake_case to_dict()."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": "spot",
            "operator": "Equal",
            "value": "true",
            "effect": "NoSchedule",
            "toleration_seconds": None,
        }


class _PydanticLikeModel:
    """A model that only offers model_dump()."""

    def model_dump(self) -> dict[str, Any]:
        return {"node_affinity": {"required_during_scheduling_ignored_during_execution": None}}


def test_duck_typed_models_are_accepted() -> None:
    assert normalize_tolerations([_DictOnlyModel()], "tolerations") == [SPOT_TOLERATION]
    assert normalize_affinity(_PydanticLikeModel(), "affinity") == {}


@pytest.mark.parametrize("mode", PREEMPTION_MODES)
def test_terms_that_all_contradict_the_node_selector_are_an_error_in_every_mode(mode: str) -> None:
    affinity = _affinity([expr("zone", "In", "b")], [expr("zone", "DoesNotExist")])
    with pytest.raises(SpecError, match="never be scheduled") as info:
        resolve_scheduling(
            mode=mode,
            node_name=None,
            node_selector={"zone": "a"},
            affinity=affinity,
            tolerations=[],
            settings=SPOT,
        )
    assert (
        info.value.path
        == "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    )


def test_a_dead_user_term_is_named_once_with_its_own_index() -> None:
    affinity = _affinity([expr("zone", "In", "a")], [expr("zone", "In", "b"), expr("zone", "NotIn", "b")])
    result = resolve_scheduling(
        mode="prevent", node_name=None, node_selector={}, affinity=affinity, tolerations=[], settings=SPOT
    )
    assert result.warnings == (
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1] "
        "can match no node (it contradicts itself or the node selector)",
    )
    assert required_terms(result) == [
        {
            "matchExpressions": [
                expr("zone", "In", "a"),
                expr(LIFECYCLE, "NotIn", "preemptible"),
                expr(GKE_SPOT, "NotIn", "true"),
            ]
        }
    ]
    # Under none the user's terms are left exactly as given, with the same warning.
    none = resolve_scheduling(
        mode="none", node_name=None, node_selector={}, affinity=affinity, tolerations=[], settings=SPOT
    )
    assert none.affinity == affinity
    assert none.warnings == result.warnings


def test_results_share_no_structure_with_inputs_or_each_other() -> None:
    first = resolve("constrain", "everything")
    terms = required_terms(first)
    assert terms is not None
    terms[0]["matchExpressions"][0]["values"].append("mutated")
    first.tolerations[0]["key"] = "mutated"
    again = resolve("constrain", "everything")
    assert "mutated" not in json.dumps(SCENARIOS)
    assert "mutated" not in json.dumps(again.affinity) + json.dumps(again.tolerations)
    # Terms built from the same user term do not alias each other either.
    again_terms = required_terms(again)
    assert again_terms is not None
    again_terms[0]["matchExpressions"][0]["values"].append("x")
    assert again_terms[1]["matchExpressions"][0]["values"] == ["a"]
