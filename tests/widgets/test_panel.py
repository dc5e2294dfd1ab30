"""The panel in-process: set child values, assert on the preview, the errors and the buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from jupyter_mlres.core.cellargs import CellArgs, parse_cell_args
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.sdk import new_function
from jupyter_mlres.testing import FakeBackend
from jupyter_mlres.widgets.panel import ResourcePanel

from .conftest import SPOT_TOLERATION

MakePanel = Callable[..., ResourcePanel]


def pod(panel: ResourcePanel) -> dict[str, Any]:
    shown: dict[str, Any] = yaml.safe_load(panel.preview_text)
    return shown


def container(panel: ResourcePanel) -> dict[str, Any]:
    main: dict[str, Any] = pod(panel)["containers"][0]
    return main


def line_of(panel: ResourcePanel, text: str) -> str:
    matches = [line for line in panel.preview_text.splitlines() if text in line]
    assert matches, f"{text!r} not in the preview:\n{panel.preview_text}"
    return matches[0]


def test_opens_with_service_defaults_marked(make_panel: MakePanel) -> None:
    panel = make_panel()
    assert panel.errors == {}
    assert not panel.run_button.disabled
    assert container(panel)["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "4Gi"},
    }
    assert line_of(panel, "cpu: 500m").endswith("# service default")
    assert line_of(panel, "image:").endswith("# service default")
    assert "priority medium (service default)" in line_of(panel, "priorityClassName: prio-medium")
    assert "spot mode prevent (service default)" in line_of(panel, "affinity:")
    # The empty fields show what applies, marked as the service's.
    assert panel.cpu.request.placeholder == "500m"
    assert "service default" in panel.cpu.badge.value
    assert panel.image.input.placeholder == "python:3.11-slim"
    assert panel.spot.dropdown.label == "service default: prevent"


def test_preview_is_what_core_renders(make_panel: MakePanel, cluster: Settings) -> None:
    panel = make_panel()
    panel.cpu.request.value = "2"
    assert panel.function is not None
    assert pod(panel) == panel.function.to_pod_spec(cluster)
    panel.view.value = "manifests"
    shown = list(yaml.safe_load_all(panel.preview_text))
    rendered = panel.function.to_manifests(cluster)
    assert [m["kind"] for m in shown] == [m["kind"] for m in rendered]
    assert shown[1:] == rendered[1:]  # the ConfigMap differs only by the elided runner text
    assert shown[0]["data"]["main.py"] == rendered[0]["data"]["main.py"]


def _volume(panel: ResourcePanel, kind: str, *values: str) -> None:
    row = panel.volumes.add()
    row.kind.value = kind
    for text, value in zip(row.inputs.values(), values, strict=True):
        text.value = value


def _label(panel: ResourcePanel, key: str, value: str) -> None:
    row = panel.node_selector.add()
    row.key.value, row.value.value = key, value


def _set_gpus(panel: ResourcePanel) -> None:
    panel.gpu_type.dropdown.value = "nvidia.com/gpu"
    panel.gpus.input.value = "2"


def _set_model(panel: ResourcePanel) -> None:
    panel.gpu_type.dropdown.value = "a100"
    panel.gpus.input.value = "1"


FIELD_CASES: list[tuple[str, Callable[[ResourcePanel], None], Callable[[dict[str, Any]], bool]]] = [
    (
        "cpu",
        lambda p: setattr(p.cpu.request, "value", "1500m"),
        lambda s: s["containers"][0]["resources"]["requests"]["cpu"] == "1500m",
    ),
    (
        "cpu-limit",
        lambda p: setattr(p.cpu.limit, "value", "3"),
        lambda s: s["containers"][0]["resources"]["limits"]["cpu"] == "3",
    ),
    (
        "memory",
        lambda p: setattr(p.memory.request, "value", "2Gi"),
        lambda s: s["containers"][0]["resources"]["requests"]["memory"] == "2Gi",
    ),
    (
        "memory-limit",
        lambda p: setattr(p.memory.limit, "value", "8Gi"),
        lambda s: s["containers"][0]["resources"]["limits"]["memory"] == "8Gi",
    ),
    ("gpus", _set_gpus, lambda s: s["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"),
    ("gpu-model", _set_model, lambda s: s["nodeSelector"]["gpu.example.com/model"] == "A100"),
    (
        "replicas",
        lambda p: setattr(p.replicas.count, "value", "3"),
        lambda s: (
            s["subdomain"] == "job"
            and any(e["name"] == "WORLD_SIZE" and e["value"] == "3" for e in s["containers"][0]["env"])
        ),
    ),
    (
        "pvc",
        lambda p: _volume(p, "pvc", "datasets", "/data"),
        lambda s: {"name": "datasets", "persistentVolumeClaim": {"claimName": "datasets"}} in s["volumes"],
    ),
    (
        "configmap",
        lambda p: _volume(p, "configmap", "app-config", "/etc/app"),
        lambda s: any(v.get("configMap", {}).get("name") == "app-config" for v in s["volumes"]),
    ),
    (
        "secret",
        lambda p: _volume(p, "secret", "db-creds", "/etc/db"),
        lambda s: any(v.get("secret", {}).get("secretName") == "db-creds" for v in s["volumes"]),
    ),
    (
        "v3io",
        lambda p: _volume(p, "v3io", "bigdata/x", "/v3io"),
        lambda s: any(v.get("flexVolume", {}).get("driver") == "v3io/fuse" for v in s["volumes"]),
    ),
    (
        "shm",
        lambda p: _volume(p, "shm", "2Gi"),
        lambda s: any(v.get("emptyDir", {}).get("sizeLimit") == "2Gi" for v in s["volumes"]),
    ),
    (
        "spot-allow",
        lambda p: setattr(p.spot.dropdown, "value", "allow"),
        lambda s: s["tolerations"] == [SPOT_TOLERATION] and "affinity" not in s,
    ),
    (
        "spot-constrain",
        lambda p: setattr(p.spot.dropdown, "value", "constrain"),
        lambda s: (
            s["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"
            ][0]["matchExpressions"][0]["operator"]
            == "In"
        ),
    ),
    (
        "spot-none",
        lambda p: setattr(p.spot.dropdown, "value", "none"),
        lambda s: "affinity" not in s and "tolerations" not in s,
    ),
    (
        "priority",
        lambda p: setattr(p.priority.dropdown, "value", "high"),
        lambda s: s["priorityClassName"] == "prio-high",
    ),
    (
        "priority-class",
        lambda p: setattr(p.priority.dropdown, "value", "batch-overnight"),
        lambda s: s["priorityClassName"] == "batch-overnight",
    ),
    (
        "node-selector",
        lambda p: _label(p, "team", "vision"),
        lambda s: s["nodeSelector"] == {"team": "vision"},
    ),
    (
        "image",
        lambda p: setattr(p.image.input, "value", "python:3.12"),
        lambda s: s["containers"][0]["image"] == "python:3.12",
    ),
]


@pytest.mark.parametrize(("change", "check"), [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES])
def test_every_field_reaches_the_rendered_spec(
    make_panel: MakePanel,
    cluster: Settings,
    change: Callable[[ResourcePanel], None],
    check: Callable[[dict[str, Any]], bool],
) -> None:
    panel = make_panel()
    before = panel.preview_text
    change(panel)
    assert panel.errors == {}, panel.errors
    assert check(pod(panel)), panel.preview_text
    assert panel.preview_text != before
    assert panel.changed, "the last change is highlighted"
    assert 'class="mlres-line mlres-changed"' in panel.preview.value
    # The magic line reproduces the same spec.
    again = make_panel(args=parse_cell_args(panel.magic().removeprefix("%%mlrun ")))
    assert pod(again) == pod(panel)


def test_backend_choice_reaches_the_state(make_panel: MakePanel) -> None:
    panel = make_panel()
    panel.backend.dropdown.value = "fake"
    assert panel.cell_args is not None
    assert panel.cell_args.backend == "fake"
    assert "--backend fake" in panel.magic()


def test_user_value_is_annotated_and_highlighted(make_panel: MakePanel) -> None:
    panel = make_panel()
    panel.cpu.request.value = "2"
    changed_line = panel.preview_text.splitlines()[min(panel.changed)]
    assert changed_line.strip() == 'cpu: "2"  # user'
    assert panel.cpu.badge.value == ""
    panel.spot.dropdown.value = "allow"
    assert "spot mode allow" in line_of(panel, "- key: spot")
    assert "adds" in panel.spot.explain.value
    assert "node-lifecycle=spot" in panel.spot.explain.value


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda p: setattr(p.cpu.request, "value", "2 GB"), "cpu", "--cpu"),
        (lambda p: setattr(p.memory.request, "value", "5mi"), "memory", "5mi"),
        (lambda p: setattr(p.cpu.limit, "value", "200m"), "cpu", "above limit"),
        (lambda p: setattr(p.gpus.input, "value", "-1"), "gpus", "--gpus"),
        (lambda p: setattr(p.replicas.count, "value", "0"), "replicas", "--replicas"),
        (lambda p: _volume(p, "pvc", "Bad_Claim", "/data"), "volumes", "--volume"),
        (lambda p: _volume(p, "pvc", "data", "relative"), "volumes", "volume_mount_path"),
        (lambda p: _label(p, "bad key!", "x"), "node_selector", "bad key!"),
        (lambda p: _label(p, "node-lifecycle", "spot"), "node_selector", "node-lifecycle"),
    ],
    ids=[
        "cpu-units",
        "memory-suffix",
        "request-above-limit",
        "gpus-negative",
        "replicas-zero",
        "claim-name",
        "mount-path",
        "label-key",
        "prevent-vs-spot-label",
    ],
)
def test_invalid_input_shows_inline_banner_and_disables_run(
    make_panel: MakePanel, change: Callable[[ResourcePanel], Any], field: str, message: str
) -> None:
    panel = make_panel()
    valid = panel.preview_text
    change(panel)
    assert field in panel.errors, panel.errors
    assert message in panel.errors[field]
    inline = [panel.cpu.error, panel.memory.error, panel.gpus.error, panel.replicas.error]
    inline += [row.error for row in panel.volumes.rows + panel.node_selector.rows]
    shown = [e.value for e in inline if e.layout.display != "none" and e.value]
    assert any(message.replace("'", "&#x27;") in text or message in text for text in shown), shown
    assert panel.banner.layout.display != "none"
    assert "invalid:" in panel.banner.value
    assert panel.run_button.disabled
    assert panel.preview_text == valid, "the preview keeps the last valid spec"
    assert panel.run() is None


def test_fixing_the_field_clears_the_error(make_panel: MakePanel) -> None:
    panel = make_panel()
    panel.cpu.request.value = "two"
    assert panel.run_button.disabled
    panel.cpu.request.value = "2"
    assert panel.errors == {}
    assert panel.cpu.error.layout.display == "none"
    assert panel.banner.layout.display == "none"
    assert not panel.run_button.disabled


def test_removing_a_row_removes_it_from_the_spec(make_panel: MakePanel) -> None:
    panel = make_panel()
    _volume(panel, "pvc", "datasets", "/data")
    assert any(v["name"] == "datasets" for v in pod(panel)["volumes"])
    panel.volumes.rows[0].remove.click()
    assert not any(v["name"] == "datasets" for v in pod(panel)["volumes"])
    assert panel.volumes.rows == []


def test_volume_kind_change_switches_the_fields(make_panel: MakePanel) -> None:
    panel = make_panel()
    row = panel.volumes.add()
    row.kind.value = "shm"
    assert list(row.inputs) == ["size"]
    row.inputs["size"].value = "1Gi"
    assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in pod(panel)["volumes"]
    assert "--volume shm:1Gi" in panel.magic()


def test_replica_range_needs_an_autoscaling_kind(make_panel: MakePanel) -> None:
    panel = make_panel()
    assert panel.replicas.mode.disabled
    assert "autoscale" in panel.replicas.reason.value
    loaded = make_panel(args=CellArgs(replicas=(1, 4)))
    assert "replicas" in loaded.errors
    assert "autoscale" in loaded.errors["replicas"]
    assert loaded.run_button.disabled


def test_copy_as_magic_round_trips(make_panel: MakePanel) -> None:
    panel = make_panel(args=CellArgs(name="train", handler=None, params=(("lr", 0.1),), env=(("A", "1"),)))
    panel.memory.request.value = "2Gi"
    panel.priority.dropdown.value = "low"
    line = panel.copy_magic()
    assert panel.magic_line.layout.display != "none"
    assert panel.magic_line.value == line
    assert line == "%%mlrun train --memory 2Gi --priority low --param lr=0.1 --env A=1"
    assert parse_cell_args(line.removeprefix("%%mlrun ")) == panel.cell_args


def test_reset_restores_the_opening_values(make_panel: MakePanel) -> None:
    panel = make_panel(args=CellArgs(cpu=("1", None), spot="allow"))
    start = panel.preview_text
    panel.cpu.request.value = "3"
    panel.spot.dropdown.value = "none"
    _label(panel, "team", "a")
    panel.reset_button.click()
    assert panel.cpu.request.value == "1"
    assert panel.spot.value == "allow"
    assert panel.node_selector.rows == []
    assert panel.preview_text == start


def test_opens_from_a_function_and_clearing_goes_back_to_the_default(cluster: Settings) -> None:
    fn = new_function("train", code="print(1)", settings=cluster).with_requests(cpu="2", mem="3Gi")
    fn.spec.replicas = 2
    panel = fn.panel()
    assert panel.cpu.request.value == "2"
    assert panel.memory.request.value == "3Gi"
    assert panel.replicas.count.value == "2"
    assert panel.function is not None
    assert pod(panel) == fn.to_pod_spec(cluster)
    panel.cpu.request.value = ""
    assert container(panel)["resources"]["requests"]["cpu"] == "500m"
    assert fn.spec.resources["requests"]["cpu"] == "2", (
        "the panel never changes the function it was opened on"
    )


def test_secret_values_are_never_shown(cluster: Settings) -> None:
    from jupyter_mlres.core.volumes import mount_v3io

    fn = new_function("train", code="print(1)", settings=cluster)
    fn.apply(mount_v3io(remote="bigdata/x", access_key="TOP-SECRET-KEY"))
    panel = fn.panel()
    assert "set on the function" in line_of(panel, "- name: v3io")
    for view in ("pod", "manifests"):
        panel.view.value = view
        assert "TOP-SECRET-KEY" not in panel.preview_text
        assert "TOP-SECRET-KEY" not in panel.preview.value
    assert "TOP-SECRET-KEY" not in panel.magic()


def test_a_volume_the_panel_shows_can_be_removed_and_others_stay(cluster: Settings) -> None:
    from jupyter_mlres.core.volumes import mount_pvc, mount_v3io

    fn = new_function("train", code="print(1)", settings=cluster)
    fn.apply(mount_pvc("data", "data", "/data")).apply(mount_v3io(remote="bigdata/x", access_key="K"))
    panel = fn.panel()
    assert sorted(v["name"] for v in pod(panel)["volumes"]) == ["data", "mlres-code", "v3io"]
    (row,) = panel.volumes.rows  # the inline key cannot be a --volume: it stays on the function
    row.remove.click()
    assert [v["name"] for v in pod(panel)["volumes"]] == ["mlres-code", "v3io"]
    assert [m.name for m in fn.spec.mounts] == ["data", "v3io"], "the opened function is unchanged"


def test_run_submits_the_spec_the_preview_shows(make_panel: MakePanel, fake_backend: FakeBackend) -> None:
    panel = make_panel(args=CellArgs(name="train"))
    panel.cpu.request.value = "2"
    panel.spot.dropdown.value = "allow"
    panel.backend.dropdown.value = "fake"
    run = panel.run()
    assert run is not None
    assert panel.last_run is run
    assert len(fake_backend.submitted) == 1
    submitted = fake_backend.submitted[0]
    sent = submitted.manifests[-1]["spec"]["template"]["spec"]
    assert panel.function is not None
    assert panel.cell_args is not None
    # The preview is the function's pod spec; the submission is the same function with its run id.
    assert pod(panel) == panel.function.to_pod_spec(panel.settings)
    assert (
        sent
        == panel.function.to_run(panel.settings, run_id=submitted.run_id).manifests[-1]["spec"]["template"][
            "spec"
        ]
    )
    assert sent["containers"][0]["resources"]["requests"]["cpu"] == "2"
    assert sent["tolerations"] == [SPOT_TOLERATION]
    assert panel.job_view.children, "the job view appears under the panel"
    fake_backend.finish(submitted.run_id)
    assert run.wait(timeout=10) == "Succeeded"


def test_no_spot_nodes_configured_says_so(make_panel: MakePanel) -> None:
    panel = make_panel(settings=Settings())
    panel.spot.dropdown.value = "constrain"
    assert "no spot nodes configured" in panel.spot.explain.value
    assert "no spot nodes configured" in panel.notes.value
    assert "affinity" not in pod(panel)
