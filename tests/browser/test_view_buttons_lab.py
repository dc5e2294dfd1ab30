"""In JupyterLab: the job view's Cancel and Detach buttons answer while the cell watches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import NOTEBOOK, create_notebook, open_lab, run_cell, select_cell, wait_kernel_idle
from tests.support.labserver import LabServer, lab_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLEEPY = "%%mlrun sleepy\nimport time\nprint('started', flush=True)\ntime.sleep(120)\n"
AFTER = "after = _\nprint('after:', after.state)"


@pytest.fixture(scope="module")
def local_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    tmp = tmp_path_factory.mktemp("jupyter-lab-buttons")
    with lab_server(tmp, app="lab", env={"MLRES_TEST_BACKENDS": "local"}) as server:
        yield server


def output(page: Page, index: int):  # type: ignore[no-untyped-def]
    return page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(".jp-OutputArea")


@pytest.mark.parametrize(("button", "state"), [("Cancel", "Cancelled"), ("Detach", "Running")])
def test_buttons_answer_while_the_cell_watches(
    page: Page, local_lab: LabServer, artifacts: Path, button: str, state: str
) -> None:
    name = f"buttons-{button}.ipynb"
    create_notebook(local_lab, name, ["%load_ext jupyter_mlres", SLEEPY, AFTER])
    open_lab(page, local_lab, name)
    wait_kernel_idle(page, name)
    run_cell(page, name, 0, retry=True)
    select_cell(page, name, 1)
    # Not awaited: the command's promise resolves only when the cells ran.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-below'); }")
    expect(output(page, 1)).to_contain_text("started", timeout=30_000)
    page.screenshot(path=str(artifacts / f"view-buttons-{button}-before.png"))
    output(page, 1).get_by_role("button", name=button).click()
    expect(output(page, 2)).to_have_text(f"after: {state}", timeout=20_000)
    expect(output(page, 1)).to_contain_text(state)
    page.screenshot(path=str(artifacts / f"view-buttons-{button}-after.png"))
    counts = page.evaluate(f"(path) => {NOTEBOOK}.content.widgets.map(w => w.model.executionCount)", name)
    assert counts[1] + 1 == counts[2]
    if button == "Detach":
        page.evaluate(
            f"(path) => {NOTEBOOK}.sessionContext.session.kernel.requestExecute({{code: 'after.cancel()'}}).done",
            name,
        )


def test_after_a_page_reload_the_view_comes_back_and_cancel_answers(
    page: Page, local_lab: LabServer, artifacts: Path
) -> None:
    name = "buttons-reload.ipynb"
    create_notebook(local_lab, name, ["%load_ext jupyter_mlres", SLEEPY, AFTER])
    open_lab(page, local_lab, name)
    wait_kernel_idle(page, name)
    run_cell(page, name, 0, retry=True)
    select_cell(page, name, 1)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-below'); }")
    expect(output(page, 1)).to_contain_text("started", timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    # The saved output holds the widget view; the widget manager fetches its state from the kernel
    # (over a comm) while the cell still watches.
    expect(output(page, 1)).to_contain_text("Running", timeout=30_000)
    page.screenshot(path=str(artifacts / "view-buttons-reload-before.png"))
    output(page, 1).get_by_role("button", name="Cancel").click()
    expect(output(page, 1)).to_contain_text("Cancelled", timeout=20_000)
    page.screenshot(path=str(artifacts / "view-buttons-reload-after.png"))
