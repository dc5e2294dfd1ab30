"""Make a run's volumes reachable: a host directory per volume, linked at its mount path.

A volume's host directory is always named in the job's environment (``MLRES_MOUNT_<PATH>``). It is
also symlinked at the mount path when that path is free and its parent can be created; an
existing path is never replaced. Links are removed when the last live run using them ends.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlres.backends.local.files import read_json
from jupyter_mlres.backends.local.plan import MountPlan
from jupyter_mlres.core.runs import JobPhase

__all__ = ["MountResult", "prepare_mounts", "release_mounts"]


@dataclass
class MountResult:
    env: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str, bool]] = field(default_factory=list)
    """(reason, message, warning) per mount."""
    links: list[dict[str, Any]] = field(default_factory=list)
    """``{"path", "target", "created", "dirs"}`` for links.json."""


def prepare_mounts(mounts: list[MountPlan]) -> MountResult:
    result = MountResult()
    for mount in mounts:
        if mount.host_path is None:
            continue  # listed in the NotHonoured event
        host = Path(mount.host_path)
        if mount.materialize:
            _materialize(host, mount.materialize, secret=mount.source.startswith("secret:"))
        elif mount.source == "emptyDir":
            host.mkdir(parents=True, exist_ok=True)
        result.env[mount.env_var] = str(host)
        what = f"volume {mount.volume!r} ({mount.source}) -> {host} [{mount.note}]"
        if mount.read_only:
            what += " (readOnly is not enforced locally)"
        warning = False
        if not host.exists():
            what += f"; WARNING: {host} does not exist"
            warning = True
        reachable, how, link = _link(Path(mount.mount_path), host)
        if link is not None:
            result.links.append(link)
        if reachable:
            result.events.append(
                ("VolumeMounted", f"{what}; at {mount.mount_path} {how}, also ${mount.env_var}", warning)
            )
        else:
            result.events.append(
                (
                    "VolumeNotAtMountPath",
                    f"{what}; not at {mount.mount_path} ({how}): use ${mount.env_var}",
                    True,
                )
            )
    return result


def _materialize(directory: Path, files: dict[str, str], *, secret: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700 if secret else 0o755)
    for name, text in files.items():
        path = directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)


def _link(mount_path: Path, host: Path) -> tuple[bool, str, dict[str, Any] | None]:
    """(reachable at the mount path, how, the link record when we made or reuse one)."""
    if not mount_path.is_absolute():
        return False, "not an absolute path", None
    if os.path.abspath(mount_path) == os.path.abspath(host):
        return True, "(the same directory)", None
    if os.path.lexists(mount_path):
        if mount_path.is_symlink() and os.readlink(mount_path) == str(host):
            return (
                True,
                "(an existing link to it)",
                {"path": str(mount_path), "target": str(host), "created": False, "dirs": []},
            )
        return False, "the path exists and is left untouched", None
    created_dirs: list[str] = []
    try:
        missing = [p for p in reversed(mount_path.parents) if not p.exists()]
        for directory in missing:
            directory.mkdir()
            created_dirs.append(str(directory))
        os.symlink(host, mount_path, target_is_directory=True)
    except OSError as e:
        for created in reversed(created_dirs):
            _rmdir_quietly(created)
        return False, f"cannot create it: {e.strerror or e}", None
    return (
        True,
        "(linked)",
        {"path": str(mount_path), "target": str(host), "created": True, "dirs": created_dirs},
    )


def _rmdir_quietly(directory: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def release_mounts(links: list[dict[str, Any]], run_root: Path, run_id: str) -> None:
    """Remove the links this run made or shared, unless another live run still uses them."""
    for link in links:
        path = link["path"]
        if _used_elsewhere(path, run_root, run_id):
            continue
        if not link["created"] and not _created_by_a_run(path, link["target"], run_root):
            continue  # somebody else's link: never ours to remove
        try:
            if os.path.islink(path) and os.readlink(path) == link["target"]:
                os.unlink(path)
        except OSError:
            continue
        for directory in reversed(link.get("dirs", [])):
            _rmdir_quietly(directory)


def _other_runs_links(run_root: Path, run_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
    found: list[tuple[str, list[dict[str, Any]]]] = []
    for links_file in run_root.glob("*/links.json"):
        other = links_file.parent
        if other.name == run_id:
            continue
        try:
            phase = read_json(other / "status.json")["phase"]
            found.append((phase, read_json(links_file)))
        except (OSError, ValueError, KeyError):
            continue
    return found


def _used_elsewhere(path: str, run_root: Path, run_id: str) -> bool:
    return any(
        not JobPhase(phase).is_terminal and any(link["path"] == path for link in links)
        for phase, links in _other_runs_links(run_root, run_id)
    )


def _created_by_a_run(path: str, target: str, run_root: Path) -> bool:
    return any(
        link["path"] == path and link["target"] == target and link["created"]
        for _, links in _other_runs_links(run_root, "")
        for link in links
    )
