"""A job printing a million lines: every one of them is in the full log, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.runs import JobPhase

from .conftest import make_run, wait

LINES = 1_000_000


@pytest.mark.slow
def test_a_million_lines_are_all_logged_in_order(backend: LocalBackend) -> None:
    run = make_run(
        f"""
        import sys
        # Many lines per write: as fast as a job can print, so the supervisor is the bottleneck.
        for start in range(0, {LINES}, 1000):
            sys.stdout.write("".join(f"{{i}}\\n" for i in range(start, start + 1000)))
            if start % 100_000 == 0:
                print("at", start, file=sys.stderr)
        """
    )
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    # Checked on the raw records (fast): the log format is "<time> <replica> <o|e> <text>".
    records = Path(status.log_location).read_bytes().splitlines()
    stdout = [r.split(b" ", 3)[3] for r in records if r.split(b" ", 3)[1:3] == [b"0", b"o"]]
    assert stdout == [b"%d" % i for i in range(LINES)]
    stderr = [r.split(b" ", 3)[3] for r in records if r.split(b" ", 3)[2] == b"e"]
    assert stderr == [b"at %d" % i for i in range(0, LINES, 100_000)]
    assert len(records) == LINES + len(stderr)
    # And through the backend, as the view reads it.
    assert [line.text for line in backend.logs(run.run_id, tail=2)] == [str(LINES - 2), str(LINES - 1)]
