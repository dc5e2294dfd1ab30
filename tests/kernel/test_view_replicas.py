"""The job view with many replicas (Dask workers coming and going) stays one short line."""

from __future__ import annotations

from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.kernel.view import REPLICAS_LISTED, render_replicas


def test_a_few_replicas_are_listed_one_by_one() -> None:
    text = render_replicas({0: JobPhase.RUNNING, 1: JobPhase.RUNNING, 2: JobPhase.SUCCEEDED})
    assert text.count("</span>") == 3
    assert text.startswith("0:")


def test_many_replicas_are_counted_per_phase() -> None:
    replicas = {i: JobPhase.SUCCEEDED for i in range(40)}
    replicas.update({i: JobPhase.RUNNING for i in range(40, 43)})
    assert len(replicas) > REPLICAS_LISTED
    text = render_replicas(replicas)
    assert text.startswith("40 <span")
    assert "3 <span" in text
    assert len(text) < 300
