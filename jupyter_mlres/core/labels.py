"""Kubernetes name and label rules: validate what the user typed, sanitize what we generate.

The rules are Kubernetes' own (``k8s.io/apimachinery/pkg/util/validation``):

- DNS-1123 label: at most 63 characters of ``[a-z0-9-]``, starting and ending alphanumeric
  (object names of Jobs, ConfigMaps, Services).
- DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels (node names,
  PriorityClass names, the prefix of a label key).
- Label key: ``[prefix/]name``; the name part at most 63 characters of ``[A-Za-z0-9_.-]``
  starting and ending alphanumeric; the prefix a DNS-1123 subdomain.
- Label value: empty, or like a label key's name part.

Every validator returns its input unchanged, so it can be used inline, and raises
:class:`~jupyter_mlres.core.errors.SpecError` naming the field path, the bad value and the rule.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from .errors import SpecError

__all__ = [
    "DNS1123_LABEL_MAX",
    "DNS1123_SUBDOMAIN_MAX",
    "LABEL_VALUE_MAX",
    "to_dns1123_name",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_label_key",
    "validate_label_value",
]

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
_LABEL_NAME_MAX = 63

_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL)
_DNS1123_SUBDOMAIN_RE = re.compile(rf"{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*")
# The name part of a qualified name and a non-empty label value share one grammar.
_QUALIFIED_NAME_RE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")

_DNS1123_LABEL_RULE = "a DNS-1123 label: at most 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit, e.g. 'my-job-1'"
_DNS1123_SUBDOMAIN_RULE = "a DNS-1123 subdomain: at most 253 characters, lowercase dot-separated DNS-1123 labels, e.g. 'node-1.example.com'"
_LABEL_KEY_RULE = (
    "a label key '[prefix/]name': name at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
    "starting and ending alphanumeric; optional prefix a DNS-1123 subdomain, "
    "e.g. 'app.kubernetes.io/name' or 'gpu'"
)
_LABEL_VALUE_RULE = (
    "a label value: empty, or at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.', "
    "starting and ending alphanumeric, e.g. 'spot' or 'v1.2_x'"
)


def _require_str(value: object, path: str, rule: str) -> str:
    if not isinstance(value, str):
        raise SpecError(path, value, rule, reason=f"expected a string, got {type(value).__name__}")
    return value


def validate_dns1123_label(name: str, path: str) -> str:
    """Return ``name`` if it is a DNS-1123 label (Kubernetes object names), else raise."""
    return _validate_dns1123(name, path, DNS1123_LABEL_MAX, _DNS1123_LABEL_RE, _DNS1123_LABEL_RULE)


def validate_dns1123_subdomain(name: str, path: str) -> str:
    """Return ``name`` if it is a DNS-1123 subdomain (node and PriorityClass names), else raise."""
    return _validate_dns1123(
        name, path, DNS1123_SUBDOMAIN_MAX, _DNS1123_SUBDOMAIN_RE, _DNS1123_SUBDOMAIN_RULE
    )


def _validate_dns1123(name: str, path: str, limit: int, pattern: re.Pattern[str], rule: str) -> str:
    _require_str(name, path, rule)
    if len(name) > limit:
        raise SpecError(path, name, rule, reason=f"{len(name)} characters, more than {limit}")
    if not pattern.fullmatch(name):
        raise SpecError(path, name, rule)
    return name


def validate_label_key(key: str, path: str) -> str:
    """Return ``key`` if it is a valid label key (``[prefix/]name``), else raise.

    Reserved prefixes (``kubernetes.io/``, ``k8s.io/``) are accepted: selecting on labels such
    as ``kubernetes.io/hostname`` is normal; only *setting* them is reserved to the system.
    """
    _require_str(key, path, _LABEL_KEY_RULE)
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            raise SpecError(path, key, _LABEL_KEY_RULE, reason="empty prefix before '/'")
        if len(prefix) > DNS1123_SUBDOMAIN_MAX or not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
            raise SpecError(
                path, key, _LABEL_KEY_RULE, reason=f"prefix {prefix!r} is not a DNS-1123 subdomain"
            )
    if not name:
        raise SpecError(path, key, _LABEL_KEY_RULE, reason="empty name")
    if len(name) > _LABEL_NAME_MAX:
        raise SpecError(
            path, key, _LABEL_KEY_RULE, reason=f"name part has {len(name)} characters, more than 63"
        )
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        raise SpecError(path, key, _LABEL_KEY_RULE)
    return key


def validate_label_value(value: str, path: str) -> str:
    """Return ``value`` if it is a valid label value (may be empty), else raise."""
    _require_str(value, path, _LABEL_VALUE_RULE)
    if len(value) > LABEL_VALUE_MAX:
        raise SpecError(path, value, _LABEL_VALUE_RULE, reason=f"{len(value)} characters, more than 63")
    if value and not _QUALIFIED_NAME_RE.fullmatch(value):
        raise SpecError(path, value, _LABEL_VALUE_RULE)
    return value


_HASH_LEN = 8


def to_dns1123_name(text: str, max_len: int = DNS1123_LABEL_MAX, *, fallback: str = "job") -> str:
    """Turn any text into a valid DNS-1123 label of at most ``max_len`` characters.

    Lowercases, folds accents (``é`` -> ``e``), turns every other character outside ``[a-z0-9]``
    into ``-``, collapses runs of ``-`` and trims them from both ends: ``"My Job_2"`` ->
    ``"my-job-2"``. Text that is already a valid label of at most ``max_len`` characters comes
    back unchanged. When the result must be cut short, the last characters are replaced by a
    hash of the whole text so that two long names differing only at the end stay distinct.
    Text with nothing usable becomes ``fallback`` (itself sanitized).
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if len(text) <= max_len and _DNS1123_LABEL_RE.fullmatch(text):
        return text
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    name = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if not name:
        name = re.sub(r"[^a-z0-9]+", "-", fallback.lower()).strip("-") or "x"
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    if max_len <= _HASH_LEN + 1:
        # Too short for a readable part and a hash: the hash alone is still a valid label.
        return digest[:max_len]
    head = name[: max_len - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest
