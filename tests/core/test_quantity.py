"""Kubernetes quantities: the API server's grammar, exact values, canonical text, numeric order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.utils import parse_quantity as k8s_parse_quantity

from jupyter_mlres import SpecError
from jupyter_mlres.core.quantity import Quantity, parse_cpu, parse_memory, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        ("2", Decimal(2)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1E", Decimal(10**18)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("+1k", Decimal(1000)),
        ("100n", Decimal("1e-7")),
    ],
)
def test_valid_quantities(text: str, value: Decimal) -> None:
    assert parse_quantity(text, "q").value == value


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("2 GB", "spaces"),
        ("1GiB", "without 'B'"),
        ("-1", "negative"),
        ("1.2.3", "decimal point"),
        ("5mi", "case-sensitive"),
        ("NaN", "not a Kubernetes quantity"),
        ("inf", "not a Kubernetes quantity"),
        ("1K", "case-sensitive"),
        ("", "not a Kubernetes quantity"),
        ("1_000", "unknown suffix"),
        ("1e", "unknown suffix"),
        ("Gi", "not a Kubernetes quantity"),
    ],
)
def test_rejects_what_kubernetes_rejects(text: str, hint: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_quantity(text, "resources.limits.memory")
    message = str(err.value)
    assert err.value.path == "resources.limits.memory"
    assert repr(text) in message
    assert hint in message
    assert "'512Mi'" in message or "'500m'" in message  # valid examples are shown


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5, True, None, [1]])
def test_rejects_bad_python_values(value: object) -> None:
    with pytest.raises(SpecError):
        parse_quantity(value, "q")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "500m"), (2, "2"), (1.5, "1500m"), ("1000m", "1"), ("0.25", "250m"), (0, "0"), ("2000", "2k")],
)
def test_cpu_renders_canonically(value: object, text: str) -> None:
    assert str(parse_cpu(value, "cpu")) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("1.5G", "1500M"),
        ("1e9", "1G"),
        (2**30, "1Gi"),
        (1000, "1k"),
        ("512Mi", "512Mi"),
        ("0.5Gi", "512Mi"),
    ],
)
def test_memory_renders_canonically(value: object, text: str) -> None:
    assert str(parse_memory(value, "memory")) == text


def test_cpu_finer_than_a_millicore_is_an_error() -> None:
    with pytest.raises(SpecError, match="millicores"):
        parse_cpu("0.0001", "resources.requests.cpu")


def test_memory_must_be_whole_bytes() -> None:
    with pytest.raises(SpecError, match="whole number of bytes"):
        parse_memory("500m", "resources.requests.memory")


def test_compare_numerically_not_as_strings() -> None:
    assert parse_quantity("900Mi", "a") < parse_quantity("1Gi", "b")
    assert parse_quantity("1000m", "a") == parse_quantity("1", "b")
    assert parse_quantity("2", "a") > parse_quantity("1500m", "b")
    assert parse_quantity("1G", "a") < parse_quantity("1Gi", "b")
    assert sorted([parse_quantity(t, "x") for t in ("1Gi", "10M", "2k")]) == [
        parse_quantity("2k", "x"),
        parse_quantity("10M", "x"),
        parse_quantity("1Gi", "x"),
    ]


# -- properties --------------------------------------------------------------------------------

_digits = st.text("0123456789", min_size=1, max_size=8)
_number = st.one_of(
    _digits,
    st.builds(lambda a, b: f"{a}.{b}", _digits, _digits),
    st.builds(lambda b: f".{b}", _digits),
)
_suffix = st.one_of(
    st.sampled_from(["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]),
    st.builds(lambda e: f"e{e}", st.integers(-9, 9)),
)
quantity_text = st.builds(lambda n, s: n + s, _number, _suffix)


@given(quantity_text)
def test_value_matches_the_kubernetes_client(text: str) -> None:
    expected = k8s_parse_quantity(text)
    if expected > 2**63 - 1 or expected.scaleb(9) % 1:
        with pytest.raises(SpecError, match=r"finer than|too large"):  # our only extra limits
            parse_quantity(text, "q")
        return
    assert parse_quantity(text, "q").value == expected


@given(quantity_text)
def test_canonical_text_round_trips(text: str) -> None:
    try:
        quantity = parse_quantity(text, "q")
    except SpecError:
        return
    again = parse_quantity(str(quantity), "q")
    assert again == quantity
    assert k8s_parse_quantity(str(quantity)) == quantity.value
    assert str(again) == str(quantity)


@given(quantity_text, quantity_text)
def test_order_matches_the_kubernetes_client(a: str, b: str) -> None:
    try:
        qa, qb = parse_quantity(a, "a"), parse_quantity(b, "b")
    except SpecError:
        return
    ka, kb = k8s_parse_quantity(a), k8s_parse_quantity(b)
    assert (qa < qb) == (ka < kb)
    assert (qa == qb) == (ka == kb)


@given(st.integers(min_value=0, max_value=2**62))
def test_python_ints_round_trip(n: int) -> None:
    assert parse_quantity(str(parse_quantity(n, "q")), "q").value == n


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda f: round(f, 3)))
def test_python_floats_as_cpu(f: float) -> None:
    quantity = parse_cpu(f, "cpu")
    assert quantity.value == Decimal(repr(f))
    assert k8s_parse_quantity(str(quantity)) == quantity.value


def test_quantity_is_a_value() -> None:
    q = parse_quantity("1Gi", "q")
    assert hash(q) == hash(parse_quantity("1024Mi", "q"))
    assert repr(q) == "Quantity('1Gi')"
    assert isinstance(q, Quantity)
    assert not parse_quantity("0", "q")
