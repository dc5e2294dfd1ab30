"""Numeric values of the quantities in rendered manifests (already validated by core).

Only what the local backend needs: the number of CPUs and of bytes a limit stands for.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from jupyter_mlres.core.errors import SpecError

__all__ = ["format_bytes", "quantity_value"]

_QUANTITY_RE: Final = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>[numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?"
)
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}


def quantity_value(value: object, path: str) -> Decimal:
    """``"500m"`` -> 0.5, ``"1Gi"`` -> 1073741824; a bad value is a ``SpecError`` at ``path``."""
    text = str(value).strip()
    match = _QUANTITY_RE.fullmatch(text)
    if match is None:
        raise SpecError(path, value, "a Kubernetes quantity, e.g. '500m', '2', '512Mi', '1G'")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as e:  # pragma: no cover - the regex admits only decimals
        raise SpecError(path, value, "a Kubernetes quantity") from e
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * (Decimal(2) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    return number.scaleb(int(suffix[1:]))


def format_bytes(n: int) -> str:
    """A byte count as people read it: ``104857600`` -> ``100Mi``, ``1500000`` -> ``1.4Mi``."""
    for unit, power in (("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if n >= 2**power:
            value = n / 2**power
            return f"{value:.0f}{unit}" if value == int(value) or value >= 100 else f"{value:.1f}{unit}"
    return f"{n}B"
