"""Kubernetes name and label rules, checked against reference regexes and by property tests."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.labels import (
    to_dns1123_name,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_label_key,
    validate_label_value,
)

# Reference grammars, transcribed independently from k8s.io/apimachinery/pkg/util/validation.
REF_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
REF_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
REF_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def ref_is_label(s: str) -> bool:
    return len(s) <= 63 and bool(REF_LABEL.match(s)) and "\n" not in s


def ref_is_subdomain(s: str) -> bool:
    return len(s) <= 253 and bool(REF_SUBDOMAIN.match(s)) and "\n" not in s


def ref_is_label_value(s: str) -> bool:
    return s == "" or (len(s) <= 63 and bool(REF_NAME.match(s)) and "\n" not in s)


def ref_is_label_key(s: str) -> bool:
    parts = s.split("/")
    if len(parts) == 1:
        return ref_is_label_value(s) and s != ""
    if len(parts) == 2:
        prefix, name = parts
        return ref_is_subdomain(prefix) and name != "" and ref_is_label_value(name)
    return False


def accepts(fn: object, value: str) -> bool:
    """Whether ``fn`` accepts ``value``; a rejection must be a SpecError naming path, value, rule."""
    error: SpecError | None = None
    try:
        fn(value, "field")  # type: ignore[operator]
    except SpecError as err:
        error = err
    if error is None:
        return True
    assert (error.path, error.value) == ("field", value)
    assert error.allowed
    return False


# CI shares two cores: timing varies, correctness does not.
RELAXED = settings(deadline=None)

# Strings drawn mostly from the interesting alphabet so that valid ones are common.
ALPHABET = st.sampled_from("abcxyz019-._/ABZ é\n")
texts = st.text(ALPHABET, max_size=80) | st.text(max_size=20)


@RELAXED
@given(texts)
@example("a" * 63)
@example("a" * 64)
@example("-a")
@example("a-")
@example("a\n")
def test_dns1123_label_matches_reference(s: str) -> None:
    assert accepts(validate_dns1123_label, s) == ref_is_label(s)


@RELAXED
@given(texts)
@example("a." * 126 + "a")
@example("a." * 127)
@example("node-1.example.com")
@example("a..b")
def test_dns1123_subdomain_matches_reference(s: str) -> None:
    assert accepts(validate_dns1123_subdomain, s) == ref_is_subdomain(s)


@RELAXED
@given(texts)
@example("")
@example("a" * 63)
@example("A" + "." * 61 + "z")
@example("_a")
def test_label_value_matches_reference(s: str) -> None:
    assert accepts(validate_label_value, s) == ref_is_label_value(s)


@RELAXED
@given(texts)
@example("app.kubernetes.io/name")
@example("/name")
@example("prefix/")
@example("a/b/c")
@example("Upper.case/name")
@example("kubernetes.io/hostname")
def test_label_key_matches_reference(s: str) -> None:
    assert accepts(validate_label_key, s) == ref_is_label_key(s)


@pytest.mark.parametrize(
    "key",
    [
        "app.iguazio.com/lifecycle",
        "node.kubernetes.io/instance-type",
        "gpu",
        "nvidia.com/gpu.product",
        "A_b.c",
    ],
)
def test_real_world_label_keys_are_accepted(key: str) -> None:
    assert validate_label_key(key, "node_selector") == key


def test_error_names_path_value_and_rule() -> None:
    with pytest.raises(SpecError) as info:
        validate_label_value("non preemptible", "node_selector.lifecycle")
    message = str(info.value)
    assert "node_selector.lifecycle" in message
    assert "'non preemptible'" in message
    assert "63 characters" in message


def test_non_strings_are_rejected() -> None:
    with pytest.raises(SpecError, match="expected a string"):
        validate_label_value(True, "x")  # type: ignore[arg-type]


@RELAXED
@given(st.text(max_size=200), st.integers(min_value=1, max_value=100))
@example("My Job_2", 63)
@example("", 63)
@example("---", 5)
@example("café-Ärger", 63)
def test_to_dns1123_name_always_valid(text: str, max_len: int) -> None:
    name = to_dns1123_name(text, max_len)
    assert ref_is_label(name)
    assert len(name) <= max_len


@RELAXED
@given(st.from_regex(REF_LABEL, fullmatch=True).filter(lambda s: len(s) <= 63 and "\n" not in s))
def test_to_dns1123_name_keeps_valid_names(name: str) -> None:
    assert to_dns1123_name(name) == name


def test_to_dns1123_name_examples() -> None:
    assert to_dns1123_name("My Job_2") == "my-job-2"
    assert to_dns1123_name("Café crème") == "cafe-creme"
    assert to_dns1123_name("???") == "job"
    assert to_dns1123_name("???", fallback="run") == "run"


def test_to_dns1123_name_keeps_long_names_distinct() -> None:
    a = to_dns1123_name("x" * 100 + "a")
    b = to_dns1123_name("x" * 100 + "b")
    assert a != b
    assert len(a) == len(b) == 63
    assert a.startswith("xxxx")
