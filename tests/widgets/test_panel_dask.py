"""The panel's replica range toggle with kind="dask": a range previews the operator's resources."""

from __future__ import annotations

from collections.abc import Callable

from jupyter_mlres.core.cellargs import CellArgs, parse_cell_args
from jupyter_mlres.widgets.panel import ResourcePanel

MakePanel = Callable[..., ResourcePanel]


def test_the_range_toggle_is_open_for_dask_and_previews_an_autoscaler(make_panel: MakePanel) -> None:
    panel = make_panel(args=CellArgs(name="crunch", kind="dask"))
    assert not panel.replicas.mode.disabled
    panel.replicas.mode.value = "range"
    panel.replicas.minimum.value = "1"
    panel.replicas.maximum.value = "8"
    panel.memory.limit.value = "6Gi"
    assert not panel.errors
    # the pod view shows the workers' pod: the resources set here are theirs
    assert "name: worker" in panel.preview_text
    assert "memory: 6Gi  # user" in panel.preview_text
    panel.view.value = "manifests"
    assert "kind: DaskAutoscaler" in panel.preview_text
    assert "maximum: 8" in panel.preview_text
    assert "memory: 6Gi  # user" in panel.preview_text
    line = panel.copy_magic()
    assert "--kind dask" in line
    assert "--replicas 1:8" in line
    assert parse_cell_args(line.removeprefix("%%mlrun ")) == panel.cell_args


def test_a_dask_range_with_min_above_max_is_an_inline_error(make_panel: MakePanel) -> None:
    panel = make_panel(args=CellArgs(name="crunch", kind="dask", replicas=(1, 4)))
    assert not panel.errors
    panel.replicas.minimum.value = "6"
    assert panel.errors
    assert panel.run_button.disabled
