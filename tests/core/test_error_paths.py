"""One spelling of SpecError paths, wherever the error is caught: ``field.KEY`` for a map key,
``field[i]`` for a list index. The panel and the sidebar route errors by these paths, and a user
reading two messages about the same key should see the same name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import new_function
from jupyter_mlres.core.settings import Settings

SPOT_LABEL = "app.iguazio.com/lifecycle"
SPOT = Settings(preemptible_node_selector={SPOT_LABEL: "preemptible"})


def _pinned(value: str, mode: str) -> object:
    fn = new_function("f", code="pass").with_node_selection(node_selector={SPOT_LABEL: value})
    return fn.with_preemption_mode(mode).to_run(SPOT)


CASES: list[tuple[str, Callable[[], object], str]] = [
    (
        "verb",
        lambda: new_function("f").with_node_selection(node_selector={"bad key": "x"}),
        "node_selector.bad key",
    ),
    ("constrain at render", lambda: _pinned("non-preemptible", "constrain"), f"node_selector.{SPOT_LABEL}"),
    ("prevent at render", lambda: _pinned("preemptible", "prevent"), f"node_selector.{SPOT_LABEL}"),
    (
        "settings object at render",
        lambda: new_function("f", code="pass").to_run(Settings(default_node_selector={"bad key": "x"})),
        "settings.default_node_selector.bad key",
    ),
    (
        "settings from config",
        lambda: Settings.from_dict({"default_node_selector": {"bad key": "x"}}),
        "settings.default_node_selector.bad key",
    ),
    (
        "priority classes",
        lambda: new_function("f", code="pass").to_run(Settings(priority_classes={"critical": "x"})),
        "settings.priority_classes.critical",
    ),
    (
        "affinity label selector",
        lambda: new_function("f").with_node_selection(
            affinity={
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": "zone", "labelSelector": {"matchLabels": {"bad key": "x"}}}
                    ]
                }
            }
        ),
        "affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
        ".labelSelector.matchLabels.bad key",
    ),
    ("resources", lambda: new_function("f").with_limits(mem="2 GB"), "resources.limits.memory"),
]


@pytest.mark.parametrize(
    ("make", "path"), [(make, path) for _, make, path in CASES], ids=[c[0] for c in CASES]
)
def test_map_keys_are_written_dotted_everywhere(make: Callable[[], object], path: str) -> None:
    with pytest.raises(SpecError) as info:
        make()
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
