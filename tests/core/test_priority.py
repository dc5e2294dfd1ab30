"""Priority levels and PriorityClass names."""

from __future__ import annotations

import pytest

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.priority import (
    PRIORITY_LEVELS,
    default_priority_class_name,
    list_valid_priority_class_names,
    resolve_priority_class,
)
from jupyter_mlres.core.settings import Settings

MAPPED = Settings(
    priority_classes={"high": "ml-high", "medium": "ml-medium", "low": "ml-low"},
    allowed_priority_classes=("default-priority", "ml-high"),
)
NOTHING = Settings()


def test_levels() -> None:
    assert PRIORITY_LEVELS == ("high", "medium", "low")


@pytest.mark.parametrize(
    ("name", "expected"), [("high", "ml-high"), ("medium", "ml-medium"), ("low", "ml-low")]
)
def test_levels_map_to_classes(name: str, expected: str) -> None:
    assert resolve_priority_class(name, MAPPED) == expected


def test_default_is_medium() -> None:
    assert resolve_priority_class(None, MAPPED) == "ml-medium"
    assert default_priority_class_name(MAPPED) == "ml-medium"


def test_default_level_from_settings() -> None:
    settings = Settings(priority_classes={"low": "batch"}, default_priority="low")
    assert default_priority_class_name(settings) == "batch"


def test_mlrun_docs_example_with_an_allowed_class() -> None:
    # MLRun docs: fn.with_priority_class(name="default-priority") — raises under MLRun's default config.
    assert resolve_priority_class("default-priority", MAPPED) == "default-priority"
    assert resolve_priority_class(
        "default-priority", Settings(allowed_priority_classes=["default-priority"])
    ) == ("default-priority")


def test_a_mapped_class_may_be_named_directly() -> None:
    assert resolve_priority_class("ml-low", MAPPED) == "ml-low"


def test_unknown_name_lists_every_choice() -> None:
    with pytest.raises(SpecError) as info:
        resolve_priority_class("urgent", MAPPED)
    err = info.value
    assert err.path == "priority_class_name"
    assert err.value == "urgent"
    for choice in ("'high' (-> 'ml-high')", "'medium'", "'low'", "'default-priority'", "'ml-low'"):
        assert choice in str(err)


def test_path_can_be_chosen_by_the_caller() -> None:
    with pytest.raises(SpecError) as info:
        resolve_priority_class("urgent", MAPPED, path="spec.priority_class_name")
    assert info.value.path == "spec.priority_class_name"


def test_no_classes_configured_leaves_priority_unset() -> None:
    assert default_priority_class_name(NOTHING) is None
    for level in PRIORITY_LEVELS:
        assert resolve_priority_class(level, NOTHING) is None
    assert list_valid_priority_class_names(NOTHING) == []


def test_no_classes_configured_accepts_an_explicit_valid_name() -> None:
    assert resolve_priority_class("default-priority", NOTHING) == "default-priority"
    with pytest.raises(SpecError, match="DNS-1123 subdomain"):
        resolve_priority_class("Not Valid", NOTHING)


def test_allowed_list_alone_restricts_explicit_names() -> None:
    settings = Settings(allowed_priority_classes=["default-priority"])
    assert resolve_priority_class(None, settings) is None
    assert resolve_priority_class("medium", settings) is None
    with pytest.raises(SpecError, match="'default-priority'"):
        resolve_priority_class("other", settings)


def test_an_unmapped_level_is_an_error_when_others_are_mapped() -> None:
    settings = Settings(priority_classes={"high": "ml-high"})
    with pytest.raises(SpecError, match="no PriorityClass to level 'low'"):
        resolve_priority_class("low", settings)
    # The implicit default is not an error: the cluster's own default priority applies.
    assert default_priority_class_name(settings) is None


def test_list_valid_names_mapped_first_then_allowed_without_duplicates() -> None:
    assert list_valid_priority_class_names(MAPPED) == ["ml-high", "ml-medium", "ml-low", "default-priority"]


def test_default_may_be_a_class_name() -> None:
    settings = Settings(allowed_priority_classes=["batch"], default_priority="batch")
    assert default_priority_class_name(settings) == "batch"
    with pytest.raises(SpecError) as info:
        default_priority_class_name(Settings(allowed_priority_classes=["batch"], default_priority="urgent"))
    assert info.value.path == "settings.default_priority"


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        (Settings(priority_classes={"critical": "x"}), "settings.priority_classes.critical"),
        (Settings(priority_classes={"high": "Bad_Name"}), "settings.priority_classes.high"),
        (Settings(allowed_priority_classes=["ok", "Bad Name"]), "settings.allowed_priority_classes[1]"),
        (Settings(allowed_priority_classes="default-priority"), "settings.allowed_priority_classes"),
    ],
)
def test_invalid_settings_are_named(settings: Settings, path: str) -> None:
    with pytest.raises(SpecError) as info:
        resolve_priority_class(None, settings)
    assert info.value.path == path


def test_non_string_names_are_errors() -> None:
    with pytest.raises(SpecError, match="expected a string"):
        resolve_priority_class(3, MAPPED)  # type: ignore[arg-type]
