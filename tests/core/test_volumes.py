"""Volumes: every kind, keyed by name, one volume per path, auto-mount modes, no secret values."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import jupyter_mlres as mlres
from jupyter_mlres import Settings, SpecError
from jupyter_mlres.core.volumes import parse_volume_spec
from tests.core.k8s_schema import validate_all


def _fn() -> mlres.Function:
    return mlres.new_function("job", code="pass")


def _pod(fn: mlres.Function, settings: Settings | None = None) -> dict[str, Any]:
    return fn.to_pod_spec(settings)


def _user_volumes(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in pod["volumes"] if v["name"] != "mlres-code"]


def _user_mounts(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in pod["containers"][0]["volumeMounts"] if m["name"] != "mlres-code"]


def test_mount_pvc_seed() -> None:
    fn = _fn().apply(mlres.mount_pvc(pvc_name="data-claim", volume_name="data", volume_mount_path="/data"))
    pod = _pod(fn)
    assert _user_volumes(pod) == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-claim"}}]
    assert _user_mounts(pod) == [{"name": "data", "mountPath": "/data"}]
    assert fn.spec.volumes == _user_volumes(pod)
    assert fn.spec.volume_mounts == _user_mounts(pod)


@pytest.mark.parametrize(
    ("mount", "volume", "mounts"),
    [
        (
            mlres.mount_configmap("app-config", "/etc/app"),
            {"name": "configmap", "configMap": {"name": "app-config"}},
            [{"name": "configmap", "mountPath": "/etc/app", "readOnly": True}],
        ),
        (
            mlres.mount_secret("creds", "/var/secrets", items=["token"]),
            {
                "name": "secret",
                "secret": {"secretName": "creds", "items": [{"key": "token", "path": "token"}]},
            },
            [{"name": "secret", "mountPath": "/var/secrets", "readOnly": True}],
        ),
        (
            mlres.mount_hostpath("/mnt/datasets", "/datasets"),
            {"name": "hostpath", "hostPath": {"path": "/mnt/datasets"}},
            [{"name": "hostpath", "mountPath": "/datasets"}],
        ),
        (
            mlres.mount_shm("2Gi"),
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
            [{"name": "shm", "mountPath": "/dev/shm"}],
        ),
        (
            mlres.mount_v3io(name="v3io", remote="projects/p1", secret="v3io-creds"),
            {
                "name": "v3io",
                "flexVolume": {
                    "driver": "v3io/fuse",
                    "options": {"container": "projects", "subPath": "/p1"},
                    "secretRef": {"name": "v3io-creds"},
                },
            },
            [{"name": "v3io", "mountPath": "/v3io/projects/p1"}],
        ),
    ],
    ids=["configmap", "secret", "hostpath", "shm", "v3io-secret"],
)
def test_each_volume_kind(mount: Any, volume: dict[str, Any], mounts: list[dict[str, Any]]) -> None:
    fn = _fn().apply(mount)
    pod = _pod(fn)
    assert _user_volumes(pod) == [volume]
    assert _user_mounts(pod) == mounts
    validate_all(fn.to_manifests())


def test_v3io_inline_access_key_becomes_a_secret_reference() -> None:
    key = "s3cr3t-access-key-value"
    fn = _fn().apply(
        mlres.mount_v3io(
            name="data", access_key=key, volume_mounts=[mlres.VolumeMount("/data", "projects/proj1/data")]
        )
    )
    run = fn.to_run(run_id="job-1")
    kinds = [m["kind"] for m in run.manifests]
    assert kinds == ["ConfigMap", "Secret", "Job"]
    secret = run.manifests[1]
    assert secret["metadata"]["name"] == "job-1-v3io"
    assert "data" not in secret
    assert "stringData" not in secret
    assert run.secret_data == {"job-1-v3io": {"accessKey": key}}
    pod = run.manifests[-1]["spec"]["template"]["spec"]
    flex = _user_volumes(pod)[0]["flexVolume"]
    assert flex["secretRef"] == {"name": "job-1-v3io"}
    assert _user_mounts(pod) == [{"name": "data", "mountPath": "/data", "subPath": "projects/proj1/data"}]
    text = fn.to_yaml()
    assert "redacted" in text
    for shown in (text, str(run.manifests), repr(run), repr(fn), repr(fn.spec.volumes), str(fn.spec)):
        assert key not in shown
    validate_all(list(run.manifests))


def test_same_volume_name_replaces() -> None:
    fn = _fn().apply(mlres.mount_pvc("a", "data", "/data")).apply(mlres.mount_pvc("b", "data", "/other"))
    pod = _pod(fn)
    assert _user_volumes(pod) == [{"name": "data", "persistentVolumeClaim": {"claimName": "b"}}]
    assert _user_mounts(pod) == [{"name": "data", "mountPath": "/other"}]


def test_two_volumes_on_one_path_is_an_error() -> None:
    fn = _fn().apply(mlres.mount_pvc("a", "data", "/data"))
    with pytest.raises(SpecError, match="already mounted") as err:
        fn.apply(mlres.mount_configmap("cfg", "/data/"))
    assert "'data'" in str(err.value)
    assert len(fn.spec.volumes) == 1  # unchanged


def test_unmount_removes_a_volume_and_frees_its_path() -> None:
    fn = _fn().apply(mlres.mount_pvc("a", "data", "/data")).apply(mlres.mount_shm("1Gi"))
    assert fn.apply(mlres.mount_configmap("cfg", "/etc/cfg", "cfg")).unmount("data") is fn
    pod = _pod(fn)
    assert [v["name"] for v in _user_volumes(pod)] == ["shm", "cfg"]
    assert "/data" not in [m["mountPath"] for m in _user_mounts(pod)]
    fn.apply(mlres.mount_pvc("b", "other", "/data"))  # the path is free again
    assert [m.name for m in fn.spec.mounts] == ["shm", "cfg", "other"]


def test_unmount_of_a_name_not_mounted_lists_the_mounted_ones() -> None:
    fn = _fn().apply(mlres.mount_pvc("a", "data", "/data"))
    with pytest.raises(SpecError, match="not mounted") as err:
        fn.unmount("dat")
    assert (err.value.path, err.value.value, err.value.allowed) == ("volumes", "dat", "data")
    assert [m.name for m in fn.spec.mounts] == ["data"]  # unchanged
    with pytest.raises(SpecError, match="none is"):
        _fn().unmount("data")


@pytest.mark.parametrize(
    "make",
    [
        lambda: mlres.mount_pvc("claim", "data", "relative/path"),
        lambda: mlres.mount_pvc("claim", "Data_Volume", "/data"),
        lambda: mlres.mount_pvc("claim", "mlres-code", "/data"),
        lambda: mlres.mount_pvc("claim", "data", "/mlres/code"),
        lambda: mlres.mount_pvc(None, "data", "/data"),
        lambda: mlres.mount_hostpath("relative", "/data"),
        lambda: mlres.mount_shm("0"),
        lambda: mlres.mount_shm("lots"),
        lambda: mlres.mount_v3io(access_key="k", secret="s"),
        lambda: mlres.mount_v3io(volume_mounts=[mlres.VolumeMount("/data", "../escape")]),
    ],
)
def test_invalid_mounts(make: Any) -> None:
    with pytest.raises(SpecError):
        make()


@pytest.mark.parametrize(
    ("text", "kind", "source", "path"),
    [
        ("pvc:claim:/data", "pvc", "claim", "/data"),
        ("configmap:app-config:/etc/app", "configmap", "app-config", "/etc/app"),
        ("secret:creds:/var/secrets", "secret", "creds", "/var/secrets"),
        ("v3io:projects/p1/data:/data", "v3io", "projects/p1/data", "/data"),
        ("hostpath:/mnt/x:/x", "hostpath", "/mnt/x", "/x"),
        ("shm:1Gi", "shm", "1Gi", "/dev/shm"),
        ("pvc:claim:/data:ro", "pvc", "claim", "/data"),
    ],
)
def test_parse_volume_spec(text: str, kind: str, source: str, path: str) -> None:
    mount = parse_volume_spec(text, "volume")
    assert (mount.kind, mount.source, mount.mounts[0]["mountPath"]) == (kind, source, path)
    assert parse_volume_spec(mount.to_text(), "volume") == mount


@pytest.mark.parametrize(
    "text", ["pvc", "pvc:claim", "nfs:server:/data", "pvc::/data", "shm:2 GB", "pvc:claim:data"]
)
def test_parse_volume_spec_errors_show_the_grammar(text: str) -> None:
    with pytest.raises(SpecError, match="pvc:CLAIM:/path") as err:
        parse_volume_spec(text, "volumes[0]")
    assert err.value.path == "volumes[0]"


def _auto(mode: str) -> Settings:
    return Settings(auto_mount=mode, default_volume="pvc:home:/home/jovyan")


def test_auto_mount_auto_mode_mounts_the_default_unless_user_mounted() -> None:
    pod = _pod(_fn(), _auto("auto"))
    assert _user_mounts(pod) == [{"name": "home", "mountPath": "/home/jovyan"}]
    pod = _pod(_fn().apply(mlres.mount_pvc("data", "data", "/data")), _auto("auto"))
    assert [m["name"] for m in _user_mounts(pod)] == ["data"]


def test_auto_mount_manual_mode_only_on_request() -> None:
    assert _user_mounts(_pod(_fn(), _auto("manual"))) == []
    fn = _fn().apply(mlres.auto_mount()).apply(mlres.mount_pvc("data", "data", "/data"))
    assert [m["name"] for m in _user_mounts(_pod(fn, _auto("manual")))] == ["data", "home"]


def test_auto_mount_none_mode_never() -> None:
    fn = _fn().apply(mlres.auto_mount())
    assert _user_mounts(_pod(fn, _auto("none"))) == []
    assert any("auto_mount" in n for n in fn.to_run(_auto("none")).notes)


def test_auto_mount_skips_a_taken_path() -> None:
    fn = _fn().apply(mlres.auto_mount()).apply(mlres.mount_pvc("other", "mine", "/home/jovyan"))
    run = fn.to_run(_auto("manual"))
    assert any("not mounted" in n for n in run.notes)


def test_mount_is_an_mlrun_style_modifier() -> None:
    fn = _fn()
    assert mlres.mount_shm("1Gi")(fn) is fn
    assert fn.spec.volumes[0]["name"] == "shm"
    assert dataclasses.is_dataclass(mlres.mount_shm())


def test_auto_mount_with_a_claim_mounts_it_as_mlrun_does() -> None:
    fn = _fn().apply(mlres.auto_mount(pvc_name="shared", volume_mount_path="/shared"))
    assert _user_volumes(_pod(fn)) == [
        {"name": "shared-persistency", "persistentVolumeClaim": {"claimName": "shared"}}
    ]
    with pytest.raises(SpecError):
        mlres.auto_mount(pvc_name="shared")
