"""``python -m jupyter_mlres.demo``: the quickstart, run for real in a terminal IPython shell.

A cell becomes a job on the local backend (a process group with its own run directory); its status
and log lines stream into the terminal as it runs, and the handler's return value comes back.
Options: ``--quick`` (a shorter job), ``--backend NAME``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

STEPS: list[tuple[str, str]] = [
    ("Load the extension", "%load_ext jupyter_mlres"),
    (
        "Define things in the notebook (the job will capture them)",
        """\
        import statistics
        samples = [3.1, 2.7, 4.5, 3.9, 5.2, 4.8]

        def summarize(values):
            return {"mean": round(statistics.mean(values), 3), "max": max(values)}
        """,
    ),
    (
        "Run a cell as a job with resources; status and logs stream while it runs",
        """\
        %%mlrun summarize --cpu 1 --memory 512Mi --handler main --param scale=2 --param steps=STEPS
        import time

        def main(scale, steps):
            for step in range(1, steps + 1):
                print(f"step {step}/{steps}: scaling {len(samples)} samples", flush=True)
                time.sleep(0.4)
            return summarize([x * scale for x in samples])
        """,
    ),
    ("The cell returned a run handle", "run = _\nprint('state:', run.state)\nprint('result:', run.result)"),
    ("Every run is listed (and outlives this process)", "%mlrun jobs --limit 3"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlres.demo", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 2-step job instead of 8")
    parser.add_argument("--backend", default=None, help="backend to run on (default: settings, i.e. local)")
    options = parser.parse_args(argv)

    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    shell = TerminalInteractiveShell.instance(colors="nocolor")
    steps = 2 if options.quick else 8
    print("jupyter_mlres demo: a notebook cell runs as a local job\n")
    for number, (title, source) in enumerate(STEPS, start=1):
        code = textwrap.dedent(source).replace("STEPS", str(steps)).rstrip() + "\n"
        if options.backend and code.startswith("%%mlrun"):
            first, _, rest = code.partition("\n")
            code = f"{first} --backend {options.backend}\n{rest}"
        print(f"# {title}")
        first, *more = code.rstrip().splitlines()
        print(f"In [{number}]: {first}")
        for line in more:
            print(f"   {'.' * len(str(number))}...: {line}".rstrip())
        result = shell.run_cell(code, store_history=True)  # type: ignore[no-untyped-call]
        print()
        if not result.success:
            return 1
    run = shell.user_ns.get("run")
    state = str(getattr(run, "state", "Unknown"))
    return 0 if state == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
