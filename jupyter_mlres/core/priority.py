"""Pod priority: levels ``high``/``medium``/``low`` mapped by the settings to PriorityClass names.

Resolution rules (``resolve_priority_class``):

- ``None`` means the default level (``settings.default_priority``, ``medium`` out of the box).
  It resolves to that level's class, or to ``None`` (``priorityClassName`` left unset, so the
  cluster's global default applies) when the settings map no class to it.
  ``settings.default_priority`` may also be a class name; it is then checked like a job's.
- A level resolves to its mapped class. With no classes configured at all it resolves to
  ``None``; when some levels are mapped but not this one it is an error (asking for ``high``
  and silently getting the cluster default would be a surprise).
- A class name is accepted when it is a mapped class or in ``settings.allowed_priority_classes``
  (e.g. MLRun's docs example ``with_priority_class(name="default-priority")`` works once the
  settings allow ``default-priority``). When the settings configure no classes and no allowed
  list, any explicit valid name (a DNS-1123 subdomain) is accepted as given: the Kubernetes
  backend can check it against the cluster's PriorityClasses.
- Anything else is a ``SpecError`` whose message lists every choice (MLRun only logs them).
"""

from __future__ import annotations

from .errors import SpecError
from .labels import validate_dns1123_subdomain
from .settings import Settings

__all__ = [
    "PRIORITY_LEVELS",
    "default_priority_class_name",
    "list_valid_priority_class_names",
    "resolve_priority_class",
]

PRIORITY_LEVELS = ("high", "medium", "low")


def _class_map(settings: Settings) -> dict[str, str]:
    classes: dict[str, str] = {}
    for level in settings.priority_classes:
        path = f"settings.priority_classes.{level}"
        if level not in PRIORITY_LEVELS:
            raise SpecError(path, level, PRIORITY_LEVELS, reason="not a priority level")
        classes[level] = validate_dns1123_subdomain(settings.priority_classes[level], path)
    return {level: classes[level] for level in PRIORITY_LEVELS if level in classes}


def _allowed(settings: Settings) -> list[str]:
    if isinstance(settings.allowed_priority_classes, str):
        raise SpecError(
            "settings.allowed_priority_classes", settings.allowed_priority_classes, "a list of names"
        )
    return [
        validate_dns1123_subdomain(name, f"settings.allowed_priority_classes[{i}]")
        for i, name in enumerate(settings.allowed_priority_classes)
    ]


def list_valid_priority_class_names(settings: Settings) -> list[str]:
    """The PriorityClass names a job may end up with: mapped classes (high to low), then allowed ones."""
    names: list[str] = []
    for name in [*_class_map(settings).values(), *_allowed(settings)]:
        if name not in names:
            names.append(name)
    return names


def _choices(classes: dict[str, str], valid: list[str]) -> str:
    if not classes and not valid:
        return "a level (high, medium, low) or a PriorityClass name (a DNS-1123 subdomain)"
    parts = [f"{level!r} (-> {name!r})" for level, name in classes.items()]
    parts += [repr(name) for name in valid]
    return ", ".join(parts)


def _resolve(name: object, settings: Settings, path: str, *, default: bool) -> str | None:
    classes = _class_map(settings)
    valid = list_valid_priority_class_names(settings)
    if not isinstance(name, str):
        raise SpecError(path, name, _choices(classes, valid), reason="expected a string")
    if name in PRIORITY_LEVELS:
        if name in classes:
            return classes[name]
        if not classes or default:
            return None
        raise SpecError(
            path,
            name,
            _choices(classes, valid),
            reason=f"the settings map no PriorityClass to level {name!r}",
        )
    if name in valid:
        return name
    if not valid:
        return validate_dns1123_subdomain(name, path)
    raise SpecError(path, name, _choices(classes, valid), reason="unknown priority class")


def resolve_priority_class(
    name: str | None, settings: Settings, path: str = "priority_class_name"
) -> str | None:
    """The ``priorityClassName`` for a job asking for ``name`` (a level, a class name, or None).

    ``None`` as the result means "leave ``priorityClassName`` unset". See the module docstring
    for the rules.
    """
    if name is None:
        return _resolve(settings.default_priority, settings, "settings.default_priority", default=True)
    return _resolve(name, settings, path, default=False)


def default_priority_class_name(settings: Settings) -> str | None:
    """The class a job gets when it names none (``None``: unset, the cluster default applies)."""
    return resolve_priority_class(None, settings)
