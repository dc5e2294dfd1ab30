"""A real job, started from a notebook cell on the local backend, seen and stopped in the sidebar."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    NOTEBOOK,
    command,
    create_notebook,
    open_lab,
    record_alerts,
    run_cell,
    select_cell,
    show_sidebar,
    wait_kernel_idle,
    widen_sidebar,
)
from tests.support.labserver import LabServer, lab_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)>"
JOB = f"""%%mlrun ticker --detach
import time
print({XSS!r}, flush=True)
for i in range(3000):
    print(f"tick {{i}}", flush=True)
    time.sleep(0.1)
"""


@pytest.fixture(scope="module")
def local_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    tmp = tmp_path_factory.mktemp("jupyter-lab-local")
    with lab_server(tmp, app="lab", env={"MLRES_TEST_BACKENDS": "local"}) as server:
        yield server


def last_tick(page: Page) -> int:
    text = page.locator(".jp-mlres-log").inner_text()
    return max(int(n) for n in re.findall(r"tick (\d+)", text))


def wait_for_tick_after(page: Page, n: int) -> None:
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('.jp-mlres-logline')]
                 .some(l => { const m = l.textContent.match(/tick (\\d+)/); return m && +m[1] > n; })""",
        arg=n,
        timeout=60_000,
    )


def test_a_notebook_job_in_the_sidebar(page: Page, local_lab: LabServer, artifacts: Path) -> None:
    alerts = record_alerts(page)
    create_notebook(local_lab, "job.ipynb", ["%load_ext jupyter_mlres", JOB])
    open_lab(page, local_lab, "job.ipynb")
    wait_kernel_idle(page, "job.ipynb")
    run_cell(page, "job.ipynb", 0, retry=True)  # %load_ext
    run_cell(page, "job.ipynb", 1)  # starts the job and returns (--detach)

    row = page.locator('.jp-mlres-run[data-run^="local/ticker-"]')
    try:
        expect(row).to_have_count(1, timeout=60_000)
    except AssertionError:
        page.screenshot(path=str(artifacts / "real-job-failed.png"))
        print(local_lab.request("GET", "mlres/runs").text)
        print(local_lab.request("GET", "api/contents/job.ipynb").text[:3000])
        print(local_lab.logs()[-3000:])
        raise
    expect(row.locator(".jp-mlres-phase")).to_have_text("Running", timeout=60_000)
    row.click()
    log = page.locator(".jp-mlres-log")
    expect(log).to_contain_text("tick 3", timeout=30_000)
    expect(log).to_contain_text(XSS)
    assert log.locator("img").count() == 0
    wait_for_tick_after(page, last_tick(page))  # it follows
    expect(page.locator(".jp-mlres-open-notebook")).to_have_attribute("title", "job.ipynb")
    widen_sidebar(page, 440)
    page.screenshot(path=str(artifacts / "sidebar-real-job.png"))

    # The job outlives its kernel, and the sidebar keeps following it.
    sessions = local_lab.request("GET", "api/sessions").json()
    kernel_id = next(s["kernel"]["id"] for s in sessions if s["path"] == "job.ipynb")
    assert local_lab.request("POST", f"api/kernels/{kernel_id}/restart").status == 200
    wait_kernel_idle(page, "job.ipynb")
    expect(row.locator(".jp-mlres-phase")).to_have_text("Running")
    wait_for_tick_after(page, last_tick(page))

    # ... and a page reload.
    page.reload()
    show_sidebar(page)
    expect(row.locator(".jp-mlres-phase")).to_have_text("Running")
    row.click()
    expect(log).to_contain_text("tick")

    # "Open notebook" brings back the notebook that started it.
    select_cell(page, "job.ipynb", 0)
    command(page, "docmanager:save")  # else closing asks whether to save
    page.wait_for_function(f"(path) => !{NOTEBOOK}.context.model.dirty", arg="job.ipynb")
    command(page, "application:close-all")
    expect(page.locator(".jp-NotebookPanel")).to_have_count(0)
    page.locator(".jp-mlres-open-notebook").click()
    expect(page.locator(".lm-TabBar-tab", has_text="job.ipynb")).to_be_visible()

    page.locator(".jp-mlres-cancel").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Cancel run").click()
    expect(row.locator(".jp-mlres-phase")).to_have_text("Cancelled", timeout=30_000)
    expect(page.locator(".jp-mlres-log-status")).to_contain_text("log complete", timeout=30_000)
    run_id = (row.get_attribute("data-run") or "").split("/", 1)[1]
    assert local_lab.request("GET", f"mlres/runs/local/{run_id}").json()["run"]["phase"] == "Cancelled"
    assert alerts == []
