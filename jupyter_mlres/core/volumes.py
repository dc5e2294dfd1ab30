"""Volumes and their mounts: ``mount_pvc``, ``mount_configmap``, ``mount_secret``, ``mount_v3io``,
``mount_hostpath``, ``mount_shm``, ``auto_mount`` and the ``--volume`` text grammar.

A :class:`Mount` is one Kubernetes volume plus where it is mounted. ``fn.apply(mount)`` adds it to
a function (MLRun's "modifier" style: a mount is also callable on a function). Volumes are keyed
by name (applying the same name replaces the volume and its mounts); mount paths are unique.

Secret material (an inline V3IO access key) is held in :class:`Mount.secret` and never appears in
``volume``, a repr, or a rendered manifest: rendering turns it into a Secret *reference*.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.labels import to_dns1123_name, validate_dns1123_label
from jupyter_mlres.core.quantity import parse_memory

__all__ = [
    "CODE_MOUNT_PATH",
    "CODE_VOLUME_NAME",
    "VOLUME_GRAMMAR",
    "Mount",
    "VolumeMount",
    "auto_mount",
    "mount_configmap",
    "mount_hostpath",
    "mount_pvc",
    "mount_secret",
    "mount_shm",
    "mount_v3io",
    "parse_volume_spec",
]

CODE_VOLUME_NAME = "mlres-code"
CODE_MOUNT_PATH = "/mlres/code"
V3IO_DRIVER = "v3io/fuse"
VOLUME_GRAMMAR = (
    "'pvc:CLAIM:/path', 'configmap:NAME:/path', 'secret:NAME:/path', "
    "'v3io:CONTAINER/sub/path:/path', 'hostpath:/host/dir:/path', 'shm:SIZE' (append ':ro' for read-only)"
)

_F = TypeVar("_F")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class VolumeMount(NamedTuple):
    """Where (``path``) and which part (``sub_path``) of a volume to mount, as in MLRun."""

    path: str
    sub_path: str = ""


@dataclass(frozen=True)
class Mount:
    """A volume (Kubernetes wire dict) and its mounts (``mountPath``/``subPath``/``readOnly``)."""

    volume: dict[str, Any]
    mounts: tuple[dict[str, Any], ...]
    kind: str
    """``pvc``, ``configmap``, ``secret``, ``v3io``, ``hostpath``, ``shm`` or ``auto``."""
    source: str = ""
    """The claim / configmap / secret / container / host path, for local backends and previews."""
    secret: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Secret values (V3IO ``accessKey``); only backends ever read them."""

    @property
    def name(self) -> str:
        return str(self.volume["name"])

    def __call__(self, fn: _F) -> _F:
        """MLRun style: ``fn.apply(mount)`` calls ``mount(fn)``."""
        apply = getattr(fn, "_apply_mount", None)
        if apply is None:
            raise SpecError("apply", fn, "a jupyter_mlres Function", reason="a mount applies to a function")
        apply(self)
        return fn

    def to_text(self) -> str:
        """The mount in the ``--volume`` grammar (what the magic writes back)."""
        path = self.mounts[0]["mountPath"] if self.mounts else ""
        ro = ":ro" if self.mounts and self.mounts[0].get("readOnly") else ""
        if self.kind == "shm":
            return f"shm:{self.volume['emptyDir'].get('sizeLimit', '')}".rstrip(":")
        return f"{self.kind}:{self.source}:{path}{ro}"


def _volume_name(name: str, path: str) -> str:
    validate_dns1123_label(name, path)
    if name == CODE_VOLUME_NAME:
        raise SpecError(path, name, "any other volume name", reason="reserved for the job's code")
    return name


def _mount_path(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise SpecError(path, value, "an absolute path such as '/data'")
    if ".." in value.split("/") or ":" in value:
        raise SpecError(path, value, "an absolute path without '..' or ':'")
    normalized = posixpath.normpath(value)
    if normalized == CODE_MOUNT_PATH or normalized.startswith(CODE_MOUNT_PATH + "/"):
        raise SpecError(path, value, "any path outside /mlres/code", reason="reserved for the job's code")
    return normalized


def _sub_path(value: object, path: str) -> str:
    if not isinstance(value, str) or value.startswith("/") or ".." in value.split("/"):
        raise SpecError(path, value, "a relative path without '..', e.g. 'projects/p1/data'")
    return value.strip("/")


def _required_name(value: object, path: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(path, value, f"the {what}'s name", reason="required")
    return value


def _one_mount(mount_path: str, path: str, *, read_only: bool = False, sub_path: str = "") -> dict[str, Any]:
    mount: dict[str, Any] = {"mountPath": _mount_path(mount_path, path)}
    if sub_path:
        mount["subPath"] = sub_path
    if read_only:
        mount["readOnly"] = True
    return mount


def _items(items: Sequence[Any] | None, path: str) -> list[dict[str, str]] | None:
    if items is None:
        return None
    result: list[dict[str, str]] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            result.append({"key": item, "path": item})
        elif (
            isinstance(item, dict) and isinstance(item.get("key"), str) and isinstance(item.get("path"), str)
        ):
            result.append({"key": item["key"], "path": _sub_path(item["path"], f"{path}[{i}].path")})
        else:
            raise SpecError(f"{path}[{i}]", item, "a key name or {'key': ..., 'path': ...}")
    return result


def mount_pvc(
    pvc_name: str | None = None,
    volume_name: str = "pipeline",
    volume_mount_path: str = "/mnt/pipeline",
    *,
    read_only: bool = False,
) -> Mount:
    """Mount a PersistentVolumeClaim (MLRun's signature and defaults)."""
    claim = _required_name(pvc_name, "volumes.pvc_name", "PersistentVolumeClaim")
    if len(claim) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(claim):
        raise SpecError("volumes.pvc_name", claim, "a claim name: lowercase letters, digits, '-', '.'")
    name = _volume_name(volume_name, "volumes.volume_name")
    source: dict[str, Any] = {"claimName": claim}
    if read_only:
        source["readOnly"] = True
    volume = {"name": name, "persistentVolumeClaim": source}
    mount = _one_mount(volume_mount_path, "volumes.volume_mount_path", read_only=read_only)
    return Mount(volume, (mount,), "pvc", claim)


def mount_configmap(
    configmap_name: str,
    mount_path: str,
    volume_name: str = "configmap",
    items: Sequence[Any] | None = None,
) -> Mount:
    """Mount a ConfigMap read-only (optionally only ``items``: key names or key/path dicts)."""
    return _mount_object(
        "configmap", "ConfigMap", "configMap", "name", configmap_name, mount_path, volume_name, items
    )


def mount_secret(
    secret_name: str,
    mount_path: str,
    volume_name: str = "secret",
    items: Sequence[Any] | None = None,
) -> Mount:
    """Mount a Kubernetes Secret read-only; its values never pass through jupyter_mlres."""
    return _mount_object(
        "secret", "Secret", "secret", "secretName", secret_name, mount_path, volume_name, items
    )


def _mount_object(
    kind: str,
    what: str,
    volume_key: str,
    name_key: str,
    object_name: str,
    mount_path: str,
    volume_name: str,
    items: Sequence[Any] | None,
) -> Mount:
    """A ConfigMap or a Secret mounted read-only: the two differ only in their field names."""
    name = _required_name(object_name, f"volumes.{kind}_name", what)
    source: dict[str, Any] = {name_key: name}
    selected = _items(items, "volumes.items")
    if selected is not None:
        source["items"] = selected
    volume = {"name": _volume_name(volume_name, "volumes.volume_name"), volume_key: source}
    return Mount(volume, (_one_mount(mount_path, "volumes.mount_path", read_only=True),), kind, name)


def mount_v3io(
    name: str = "v3io",
    remote: str = "",
    access_key: str = "",
    user: str = "",
    secret: str | None = None,
    volume_mounts: Sequence[VolumeMount] | None = None,
) -> Mount:
    """Mount Iguazio V3IO through the ``v3io/fuse`` flexVolume driver, as MLRun does.

    ``remote`` is ``container/sub/path``. The access key comes from a Secret you name
    (``secret=``) or inline (``access_key=``): an inline key is moved into a Secret that the
    backend creates at submit time and that previews show redacted.
    Without ``volume_mounts``: ``remote`` mounted at ``/v3io/<remote>``, else ``/v3io`` and, with
    ``user``, ``/User`` -> ``users/<user>``.
    """
    volume_name = _volume_name(name, "volumes.name")
    if access_key and secret:
        raise SpecError("volumes.access_key", "<redacted>", "access_key or secret, not both")
    if not isinstance(access_key, str):
        raise SpecError("volumes.access_key", "<redacted>", "a string")
    options: dict[str, str] = {}
    remote = remote.strip("/")
    if remote:
        container, _, sub = remote.partition("/")
        options["container"] = container
        if sub:
            options["subPath"] = "/" + sub
    flex: dict[str, Any] = {"driver": V3IO_DRIVER, "options": options}
    if secret:
        flex["secretRef"] = {"name": _required_name(secret, "volumes.secret", "Secret")}
    volume = {"name": volume_name, "flexVolume": flex}
    if volume_mounts:
        mounts = tuple(
            _one_mount(
                vm.path,
                f"volumes.volume_mounts[{i}].path",
                sub_path=_sub_path(vm.sub_path, f"volumes.volume_mounts[{i}].sub_path"),
            )
            for i, vm in enumerate(_volume_mounts(volume_mounts))
        )
    elif remote:
        mounts = (_one_mount("/v3io/" + remote, "volumes.remote"),)
    else:
        mounts = (_one_mount("/v3io", "volumes.name"),)
        if user:
            mounts += (
                _one_mount("/User", "volumes.user", sub_path=_sub_path(f"users/{user}", "volumes.user")),
            )
    return Mount(volume, mounts, "v3io", remote, {"accessKey": access_key} if access_key else {})


def _volume_mounts(value: Sequence[Any]) -> list[VolumeMount]:
    result = []
    for i, vm in enumerate(value):
        if isinstance(vm, VolumeMount):
            result.append(vm)
        elif isinstance(vm, tuple) and len(vm) in (1, 2):
            result.append(VolumeMount(*vm))
        else:
            raise SpecError(f"volumes.volume_mounts[{i}]", vm, "VolumeMount(path, sub_path)")
    return result


def mount_hostpath(host_path: str, mount_path: str, volume_name: str = "hostpath") -> Mount:
    """Mount a directory of the node (or, locally, of this machine)."""
    if not isinstance(host_path, str) or not host_path.startswith("/"):
        raise SpecError("volumes.host_path", host_path, "an absolute path on the node, e.g. '/mnt/data'")
    volume = {"name": _volume_name(volume_name, "volumes.volume_name"), "hostPath": {"path": host_path}}
    return Mount(volume, (_one_mount(mount_path, "volumes.mount_path"),), "hostpath", host_path)


def mount_shm(size: object = "1Gi", volume_name: str = "shm") -> Mount:
    """Size ``/dev/shm`` (a memory-backed emptyDir): PyTorch data loaders need more than 64 MB.

    The size counts against the container's memory limit.
    """
    quantity = parse_memory(size, "volumes.shm.size")
    if not quantity:
        raise SpecError("volumes.shm.size", size, "a size above zero, e.g. '1Gi'")
    volume = {
        "name": _volume_name(volume_name, "volumes.volume_name"),
        "emptyDir": {"medium": "Memory", "sizeLimit": str(quantity)},
    }
    return Mount(volume, ({"mountPath": "/dev/shm"},), "shm", str(quantity))


def auto_mount(pvc_name: str = "", volume_mount_path: str = "", volume_name: str | None = None) -> Mount:
    """Ask for the service's default volume (``Settings.default_volume``) even in ``manual`` mode.

    As in MLRun, ``auto_mount(pvc_name, volume_mount_path)`` mounts that claim instead.
    """
    if pvc_name or volume_mount_path:
        if not (pvc_name and volume_mount_path):
            raise SpecError(
                "volumes.pvc_name", pvc_name or None, "both pvc_name and volume_mount_path, or neither"
            )
        return mount_pvc(pvc_name, volume_name or "shared-persistency", volume_mount_path)
    return Mount({"name": "auto"}, (), "auto")


def parse_volume_spec(text: str, path: str = "volume") -> Mount:
    """Parse the ``--volume`` grammar: ``pvc:claim:/data``, ``shm:1Gi``, ... (see VOLUME_GRAMMAR)."""
    if not isinstance(text, str) or ":" not in text:
        raise SpecError(path, text, VOLUME_GRAMMAR)
    kind, _, rest = text.partition(":")
    read_only = rest.endswith(":ro")
    if read_only:
        rest = rest[: -len(":ro")]
    source, sep, mount_path = rest.rpartition(":")
    if kind != "shm" and (not sep or not source):
        raise SpecError(path, text, VOLUME_GRAMMAR, reason=f"expected {kind}:SOURCE:/mount/path")
    try:
        if kind == "shm":
            return mount_shm(rest) if rest else mount_shm()
        if kind == "pvc":
            return mount_pvc(source, _derived_name(source, "pvc"), mount_path, read_only=read_only)
        if kind == "configmap":
            return mount_configmap(source, mount_path, _derived_name(source, "cm"))
        if kind == "secret":
            return mount_secret(source, mount_path, _derived_name(source, "secret"))
        if kind == "v3io":
            return mount_v3io("v3io", remote=source, volume_mounts=[VolumeMount(mount_path, "")])
        if kind == "hostpath":
            return mount_hostpath(source, mount_path, _derived_name(source, "host"))
    except SpecError as e:
        raise SpecError(path, text, VOLUME_GRAMMAR, reason=f"{e.path}: {e.reason or 'invalid'}") from None
    raise SpecError(path, text, VOLUME_GRAMMAR, reason=f"unknown volume kind {kind!r}")


def _derived_name(source: str, prefix: str) -> str:
    name = to_dns1123_name(source, 63)
    if not name or name == CODE_VOLUME_NAME:
        name = to_dns1123_name(f"{prefix}-{source}", 63) or prefix
    return name
