"""Log throughput of the local backend: job -> full log, against a plain pipe to a file.

The same job (the runner printing N lines) runs three ways; each is timed from start to the last
line on disk, best of R repetitions:

  file     python mlres_runner.py > out          (no pipe at all)
  pipe     python mlres_runner.py | cat > out    (a plain pipe to a file: the target's baseline)
  local    LocalBackend.submit(...) until the run is terminal (supervisor start, timestamped,
           tagged log, status files included)

Throughput ratio = baseline time / local time (1.0 = as fast; target >= 0.7 against `pipe`).
Usage: python benchmarks/bench_local_logs.py [--lines N] [--repeat R] [--replicas K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.settings import Settings
from tests.backends.local.conftest import make_run

JOB = """
for i in range({lines}):
    print("step", i, "loss", 0.5)
"""


def _best(times: list[float]) -> float:
    return min(times)


def _plain(code_dir: Path, out: Path, through_pipe: bool) -> float:
    env = {**os.environ, "MLRES_CODE_DIR": str(code_dir), "MLRES_RESULT_PATH": str(out) + ".result"}
    runner = [sys.executable, str(code_dir / "mlres_runner.py")]
    start = time.perf_counter()
    with open(out, "wb") as f:
        if through_pipe:
            job = subprocess.Popen(runner, env=env, stdout=subprocess.PIPE)
            cat = subprocess.Popen(["cat"], stdin=job.stdout, stdout=f)
            assert job.stdout is not None
            job.stdout.close()
            job.wait()
            cat.wait()
        else:
            subprocess.run(runner, env=env, stdout=f, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        backend = LocalBackend(Settings(local_run_root=str(root / "runs")))
        code = JOB.format(lines=args.lines)
        results: dict[str, list[float]] = {"file": [], "pipe": [], "local": []}
        log_bytes = 0
        for _ in range(args.repeat):
            run = make_run(code, replicas=args.replicas)
            start = time.perf_counter()
            backend.submit(run)
            for _event in backend.events(run.run_id, follow=True):
                pass
            results["local"].append(time.perf_counter() - start)
            status = backend.status(run.run_id)
            assert status.phase.value == "Succeeded", status
            log = Path(status.log_location)
            log_bytes = log.stat().st_size
            with open(log, "rb") as f:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            assert lines == args.lines * args.replicas, (lines, args.lines)
            code_dir = backend.run_dir(run.run_id) / "code"
            if args.replicas == 1:
                results["file"].append(_plain(code_dir, root / "plain.out", through_pipe=False))
                results["pipe"].append(_plain(code_dir, root / "pipe.out", through_pipe=True))

    local = _best(results["local"])
    print(f"lines per replica: {args.lines:,}  replicas: {args.replicas}  repeat: {args.repeat} (best of)")
    print(
        f"local backend : {local:7.3f} s  {args.lines * args.replicas / local:>12,.0f} lines/s  "
        f"(full log {log_bytes / 2**20:.1f} MiB, every line checked present)"
    )
    for name in ("pipe", "file"):
        if results[name]:
            base = _best(results[name])
            print(
                f"plain {name:<8}: {base:7.3f} s  {args.lines / base:>12,.0f} lines/s  "
                f"-> throughput ratio local/{name} = {base / local:.2f}x"
            )
    if results["pipe"]:
        verdict = "meets" if _best(results["pipe"]) / local >= 0.7 else "MISSES"
        print(f"target >= 0.7x against a plain pipe to a file: {verdict}")


if __name__ == "__main__":
    main()
