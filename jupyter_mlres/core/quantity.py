"""Kubernetes resource quantities (``500m``, ``0.5``, ``8Gi``, ``1e3``) as a Decimal value type.

The grammar is the API server's (``k8s.io/apimachinery/pkg/api/resource``), not the looser one of
the Python client's ``parse_quantity`` (which accepts ``1K``, ``5mi``, ``NaN`` and ``1_000``)::

    quantity  ::= [sign] number suffix
    number    ::= digits | digits "." [digits] | "." digits
    suffix    ::= "" | n | u | m | k | M | G | T | P | E          (decimal SI)
                | Ki | Mi | Gi | Ti | Pi | Ei                    (binary SI)
                | ("e" | "E") [sign] digits                      (decimal exponent)

Values are compared numerically and formatted canonically the way Kubernetes does: the largest
suffix that keeps an integer mantissa (``0.5`` -> ``500m``, ``1536Mi`` -> ``1536Mi``,
``1.5G`` -> ``1500M``).
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Final

from jupyter_mlres.core.errors import SpecError

__all__ = ["CPU_EXAMPLES", "MEMORY_EXAMPLES", "Quantity", "parse_cpu", "parse_memory", "parse_quantity"]

_QUANTITY_RE: Final = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?"
)
_DECIMAL_SUFFIXES: Final = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT: Final = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER: Final = {v: k for k, v in _BINARY_SUFFIXES.items()}

# Beyond this Kubernetes' own int64 scaled arithmetic gives up; nobody means it.
_MAX_VALUE: Final = Decimal(2**63 - 1)
_NANO: Final = Decimal("1e-9")
_MILLI: Final = Decimal("1e-3")
# Enough digits for int64 bytes with nano precision; the default 28 would round.
_CONTEXT: Final = Context(prec=80)

CPU_EXAMPLES: Final = "e.g. '500m', '0.5', '2', 1.5"
MEMORY_EXAMPLES: Final = "e.g. '512Mi', '8Gi', '1G', '1e9', 268435456"
QUANTITY_EXAMPLES: Final = "e.g. '500m', '2', '512Mi', '1G', '1e3'"


@functools.total_ordering
class Quantity:
    """A non-negative or negative Kubernetes quantity, exact (Decimal) and immutable.

    ``binary`` records whether the value was written with a binary suffix (``Mi``), which only
    affects how it is formatted, never how it compares.
    """

    __slots__ = ("_binary", "_value")

    def __init__(self, value: Decimal, *, binary: bool = False) -> None:
        self._value = value
        self._binary = binary

    @property
    def value(self) -> Decimal:
        return self._value

    @property
    def binary(self) -> bool:
        return self._binary

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value == other._value
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value < other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return self._value != 0

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __str__(self) -> str:
        with localcontext(_CONTEXT):
            return _format(self._value, self._binary)


def parse_quantity(value: object, path: str, *, examples: str = QUANTITY_EXAMPLES) -> Quantity:
    """Parse a Kubernetes quantity string or a Python number; raise :class:`SpecError` at ``path``.

    Negative values are rejected: no resource we render can be negative.
    """
    with localcontext(_CONTEXT):
        return _parse(value, path, examples)


def _parse(value: object, path: str, examples: str) -> Quantity:
    if isinstance(value, Quantity):
        quantity = value
    elif isinstance(value, bool):
        raise SpecError(path, value, examples, reason="a quantity, not a boolean")
    elif isinstance(value, int):
        quantity = Quantity(Decimal(value), binary=value >= 1024 and value % 1024 == 0)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(path, value, examples, reason="not a finite number")
        # repr() is the shortest text that round-trips: 0.1 stays 0.1, not 0.1000000000000000055...
        quantity = Quantity(Decimal(repr(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise SpecError(path, value, examples, reason="not a finite number")
        quantity = Quantity(value)
    elif isinstance(value, str):
        quantity = _parse_text(value, path, examples)
    else:
        raise SpecError(
            path, value, examples, reason=f"a quantity string or number, not {type(value).__name__}"
        )
    if quantity.value < 0:
        raise SpecError(path, value, examples, reason="must not be negative")
    if quantity.value > _MAX_VALUE:
        raise SpecError(path, value, examples, reason="too large")
    if quantity.value % _NANO:
        raise SpecError(path, value, examples, reason="finer than the smallest unit, 1n")
    return quantity


def parse_cpu(value: object, path: str) -> Quantity:
    """A CPU quantity: cores, scheduled in whole millicores."""
    quantity = parse_quantity(value, path, examples=CPU_EXAMPLES)
    if quantity.value % _MILLI:
        raise SpecError(path, value, CPU_EXAMPLES, reason="CPU is allocated in millicores; finer than 1m")
    return quantity


def parse_memory(value: object, path: str) -> Quantity:
    """A memory quantity: a whole number of bytes."""
    quantity = parse_quantity(value, path, examples=MEMORY_EXAMPLES)
    if quantity.value % 1:
        raise SpecError(
            path, value, MEMORY_EXAMPLES, reason="memory is a whole number of bytes (did you mean 'Mi'?)"
        )
    return quantity


def _parse_text(text: str, path: str, examples: str) -> Quantity:
    match = _QUANTITY_RE.fullmatch(text)
    if match is None:
        raise SpecError(path, text, examples, reason=_diagnose(text))
    suffix = match["suffix"] or ""
    try:
        number = Decimal(match["number"])
        if suffix in _BINARY_SUFFIXES:
            return Quantity(number * (2 ** _BINARY_SUFFIXES[suffix]), binary=True)
        if suffix in _DECIMAL_SUFFIXES:
            return Quantity(number.scaleb(_DECIMAL_SUFFIXES[suffix]))
        exponent = int(suffix[1:])
        if abs(exponent) > 100:
            raise SpecError(path, text, examples, reason="exponent out of range")
        return Quantity(number.scaleb(exponent))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise SpecError(path, text, examples, reason="not a number") from None


def _diagnose(text: str) -> str:
    """Say what is wrong with a string the grammar rejects, for the error message."""
    if text != text.strip() or " " in text:
        return "no spaces allowed"
    if text.startswith("-"):
        return "must not be negative"
    head = re.match(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", text)
    if head is None:
        return "not a Kubernetes quantity"
    suffix = text[head.end() :]
    if suffix[:1] == ".":
        return "more than one decimal point"
    if suffix.endswith("iB") or suffix.endswith("B"):
        return f"unknown suffix {suffix!r}; Kubernetes writes bytes without 'B' (Mi, Gi, M, G)"
    if suffix in {"K", "ki", "mi", "gi", "KI", "MI", "GI"}:
        return f"unknown suffix {suffix!r} (suffixes are case-sensitive: k, Ki, m, Mi)"
    return f"unknown suffix {suffix!r}; allowed: n u m k M G T P E, Ki Mi Gi Ti Pi Ei, e<exp>"


def _format(value: Decimal, binary: bool) -> str:
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if binary and magnitude >= 1024 and magnitude % 1 == 0:
        whole = int(magnitude)
        power = 0
        while power < 60 and whole % (1 << (power + 10)) == 0:
            power += 10
        return f"{sign}{whole >> power}{_BINARY_BY_POWER.get(power, '')}"
    # Decimal SI: the largest multiple-of-three exponent (n .. E) that keeps the mantissa whole.
    exponent = 18
    while exponent > -9:
        mantissa = magnitude.scaleb(-exponent)
        if mantissa % 1 == 0:
            break
        exponent -= 3
    mantissa = magnitude.scaleb(-exponent)
    return f"{sign}{int(mantissa)}{_DECIMAL_BY_EXPONENT[exponent]}"
