"""The job runner: starts the user's code inside a job. Standard library only, Python 3.9+.

This file is shipped *as text* in each run's ConfigMap (Kubernetes) or run directory (local) and
executed there with ``python3 mlres_runner.py``; jupyter_mlres itself is never importable inside
the job's image, so nothing here may import it.

Contract (environment):
  MLRES_CODE_DIR     directory holding main.py and job.json (default: this file's directory)
  MLRES_RESULT_PATH  where the JSON result goes (default: /dev/termination-log)
  RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT
                     replica contract; RANK falls back to JOB_COMPLETION_INDEX (Indexed Jobs)
  DASK_SCHEDULER_ADDRESS
                     dask jobs: connect to this scheduler (Kubernetes); unset: start a LocalCluster
  MLRES_DASK_WORKER_MEMORY / MLRES_DASK_WORKER_THREADS
                     local dask clusters: each worker's memory limit (bytes) and threads
  MLRES_DASK_STATUS_PATH
                     local dask clusters: JSON lines with the workers and task counts, as they change
job.json: {"name": str, "handler": str | null, "params": {str: any}, "kind": str, "replicas": int,
           "returns": [str] (optional),
           "dask": {"minimum": int, "maximum": int, "adapt_interval_ms": int, ...} (dask jobs)}
  With "returns" non-empty the result is ``{VAR: value, ...}`` of those variables of main.py's
  globals after it ran, plus ``"return": <handler value>`` when a handler ran; a variable the
  code never set fails the run (exit 1) with a message naming it.
dask jobs get a connected ``dask.distributed.Client`` as the global ``client`` (and as the
handler's ``client`` argument when it has one); they need ``distributed`` in the job's Python.
capture.pkl (optional, next to main.py): a pickle of ``{name: value}`` (made with cloudpickle when
  it holds notebook-defined functions or classes), loaded into main.py's globals before it runs.

Exit status: 0 on success, the code given to ``sys.exit``, 1 on an uncaught exception (its
traceback goes to stderr), 2 when the run cannot even start (bad bundle, missing package).
The result file holds exactly one JSON object, at most RESULT_LIMIT bytes:
  {"result": value} | {"result_repr": "repr(value)"} | {"error": "why there is no result"}
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

RESULT_LIMIT = 4096
"""Bytes; the Kubernetes termination message limit. Both backends enforce it the same way."""

EXIT_SETUP_FAILED = 2
DASK_CLIENT_NAME = "client"
"""The name under which dask jobs find their connected ``dask.distributed.Client``."""


class _SetupError(Exception):
    """The run cannot start; the message is shown to the user as is (no traceback)."""


def _unbuffer_output() -> None:
    # Lines must reach the log as they are printed, also when stdout is a pipe. Line buffering
    # flushes once per line (one write per print, unlike PYTHONUNBUFFERED's two).
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    # Python processes the job starts inherit unbuffered output.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


def _load_job(code_dir: str) -> dict[str, Any]:
    path = os.path.join(code_dir, "job.json")
    try:
        with open(path, encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, ValueError) as e:
        raise _SetupError(f"cannot read the job description {path}: {e}") from e
    if not isinstance(job, dict):
        raise _SetupError(f"{path} must hold a JSON object, not {type(job).__name__}")
    return job


def _load_capture(code_dir: str) -> dict[str, Any]:
    path = os.path.join(code_dir, "capture.pkl")
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "rb") as f:
            values = pickle.load(f)
    except ImportError as e:
        package = (getattr(e, "name", None) or "").split(".")[0] or str(e)
        raise _SetupError(
            f"the notebook values captured for this job need the Python package {package!r}, "
            f"which is not installed in the job's Python ({sys.executable}); install it in the "
            f"job's image/environment (pip install {package}) or do not capture those values"
        ) from e
    except Exception as e:
        raise _SetupError(f"cannot load the captured notebook values ({path}): {e!r}") from e
    if not isinstance(values, dict):
        raise _SetupError(f"{path} must hold a dict of name -> value, not {type(values).__name__}")
    return values


def _import_distributed() -> Any:
    # Before the import, which reads them: new local workers fork from a server that already
    # imported distributed (seconds faster than spawning a fresh interpreter per worker), and the
    # job's log keeps Dask's warnings, not its chatter.
    os.environ.setdefault("DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD", "forkserver")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    try:
        import distributed
    except ImportError as e:
        missing = (getattr(e, "name", None) or "distributed").split(".")[0]
        detail = "" if missing in ("distributed", "dask") else f" (importing it failed on {missing!r})"
        raise _SetupError(
            "this is a dask job: it needs the Python package 'distributed' (dask.distributed), which "
            f"is not installed in the job's Python ({sys.executable}){detail}; install it in the job's "
            "image/environment (pip install distributed) or use an image that has it, e.g. "
            "ghcr.io/dask/dask"
        ) from e
    return distributed


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "")
    return int(text) if text.strip() else None


def _start_dask(options: dict[str, Any]) -> tuple[Any, list[Callable[[], Any]]]:
    """A connected Client, and what to close at the end (client first, then the cluster)."""
    distributed = _import_distributed()
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        # The operator starts the scheduler next to this pod: wait for it, not forever.
        client = distributed.Client(address, timeout=os.environ.get("MLRES_DASK_CONNECT_TIMEOUT", "300s"))
        return client, [client.close]
    minimum = int(options.get("minimum", 1))
    maximum = int(options.get("maximum", minimum))
    cluster = distributed.LocalCluster(
        n_workers=minimum,
        threads_per_worker=_env_int("MLRES_DASK_WORKER_THREADS") or 1,
        processes=True,
        # Without a limit Dask's "auto" share of this machine: with none at all, adaptive scaling
        # would never retire a worker while results are held.
        memory_limit=_env_int("MLRES_DASK_WORKER_MEMORY") or "auto",
        host="127.0.0.1",
        dashboard_address=None,
    )
    closers: list[Callable[[], Any]] = [cluster.close]
    if maximum != minimum:
        cluster.adapt(
            minimum=minimum,
            maximum=maximum,
            interval=f"{int(options.get('adapt_interval_ms', 1000))}ms",
            wait_count=int(options.get("adapt_wait_count", 3)),
            target_duration=f"{int(options.get('target_duration_ms', 5000))}ms",
        )
    status_path = os.environ.get("MLRES_DASK_STATUS_PATH")
    if status_path:
        monitor = _ClusterMonitor(cluster, status_path, minimum, maximum)
        monitor.start()
        closers.insert(0, monitor.stop)
    client = distributed.Client(cluster)
    return client, [client.close, *closers]


class _ClusterMonitor:
    """Writes the local cluster's workers and task counts (JSON lines) whenever they change."""

    def __init__(self, cluster: Any, path: str, minimum: int, maximum: int) -> None:
        self.cluster = cluster
        self.path = path
        self.bounds = {"minimum": minimum, "maximum": maximum}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="mlres-dask-monitor", daemon=True)
        self.last: dict[str, Any] = {}

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self._write()  # the last state too: the job may end right after the workers changed

    def _snapshot(self) -> dict[str, Any] | None:
        box: dict[str, Any] = {}
        done = threading.Event()

        def take() -> None:  # runs on the cluster's event loop, so nothing changes meanwhile
            try:
                scheduler = self.cluster.scheduler
                tasks: dict[str, int] = {}
                for task in scheduler.tasks.values():
                    tasks[task.state] = tasks.get(task.state, 0) + 1
                box["value"] = {
                    "workers": sorted(str(w.name) for w in scheduler.workers.values()),
                    "tasks": tasks,
                }
            finally:
                done.set()

        self.cluster.loop.add_callback(take)
        return box.get("value") if done.wait(2.0) else None

    def _loop(self) -> None:
        while not self.stopped.wait(0.2):
            if not self._write():
                return

    def _write(self) -> bool:
        """Append the cluster's state if it changed; False once that is no longer possible."""
        try:
            snapshot = self._snapshot()
        except Exception:  # the cluster is closing
            return False
        if snapshot is None or snapshot == self.last:
            return True
        self.last = snapshot
        line = json.dumps({"time": time.time(), **self.bounds, **snapshot})
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            return False
        return True


def _handler_kwargs(handler: Callable[..., Any], params: dict[str, Any], client: Any) -> dict[str, Any]:
    if client is None or DASK_CLIENT_NAME in params:
        return params
    try:
        accepts = DASK_CLIENT_NAME in inspect.signature(handler).parameters
    except (TypeError, ValueError):
        accepts = False
    return {**params, DASK_CLIENT_NAME: client} if accepts else params


def _result_payload(result: object) -> tuple[str, str | None]:
    """The result file's text, and the error that replaced the result, if any."""
    try:
        payload = json.dumps({"result": result}, allow_nan=False)
    except (TypeError, ValueError):
        payload = json.dumps({"result_repr": repr(result)})
    size = len(payload.encode("utf-8"))
    if size <= RESULT_LIMIT:
        return payload, None
    error = (
        f"result too large: {size} bytes > {RESULT_LIMIT} (the Kubernetes termination-message "
        "limit); return something smaller, e.g. write the data to a volume and return its path"
    )
    return json.dumps({"error": error}), error


class _MissingReturns(Exception):
    """A requested ``--return`` variable was never set by the job's code."""


_NO_HANDLER = object()


def _returned(namespace: dict[str, Any], names: list[str], handler_value: object) -> dict[str, Any]:
    missing = [n for n in names if n not in namespace]
    if missing:
        defined = sorted(k for k in namespace if not k.startswith("_"))
        raise _MissingReturns(
            f"requested return variable(s) {', '.join(repr(n) for n in missing)} not defined by the "
            f"job's code; names defined: {', '.join(defined) or 'none'}"
        )
    values = {n: namespace[n] for n in names}
    if handler_value is not _NO_HANDLER:
        values["return"] = handler_value
    return values


def _write_result(result: object) -> None:
    path = os.environ.get("MLRES_RESULT_PATH", "/dev/termination-log")
    payload, error = _result_payload(result)
    if error:
        print(f"mlres: {error}", file=sys.stderr)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(payload)
    except OSError as e:
        print(f"mlres: cannot write the result to {path}: {e}", file=sys.stderr)


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def _run(code_dir: str) -> int:
    job = _load_job(code_dir)
    main_path = os.path.join(code_dir, "main.py")
    try:
        with open(main_path, encoding="utf-8") as f:
            source = f.read()
    except OSError as e:
        raise _SetupError(f"cannot read the job's code {main_path}: {e}") from e
    handler_name: str | None = job.get("handler") or None
    namespace: dict[str, Any] = dict(_load_capture(code_dir))
    namespace.update(
        {
            "__name__": "__mlres_job__" if handler_name else "__main__",
            "__file__": main_path,
            "__builtins__": __builtins__,
        }
    )
    sys.path.insert(0, code_dir)
    sys.argv = [main_path]
    client = None
    closers: list[Callable[[], Any]] = []
    try:
        if job.get("kind") == "dask":
            client, closers = _start_dask(job.get("dask") or {})
            namespace[DASK_CLIENT_NAME] = client
        exec(compile(source, main_path, "exec"), namespace)
        result = None
        if handler_name:
            handler = namespace.get(handler_name)
            if not callable(handler):
                defined = sorted(
                    k
                    for k, v in namespace.items()
                    if callable(v) and not k.startswith("_") and v is not client
                )
                raise _SetupError(
                    f"handler {handler_name!r} is not a function defined by the job's code; "
                    f"callables defined: {', '.join(defined) or 'none'}"
                )
            result = handler(**_handler_kwargs(handler, job.get("params") or {}, client))
        returns = job.get("returns") or []
        if returns:
            result = _returned(namespace, returns, result if handler_name else _NO_HANDLER)
    except _MissingReturns as e:
        print(f"mlres: {e}", file=sys.stderr)
        return 1
    except _SetupError:
        raise
    except SystemExit as e:
        return _exit_code(e)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for close in closers:
            try:
                close()
            except Exception as e:  # closing a cluster must not turn a success into a failure
                print(f"mlres: closing the dask cluster: {e!r}", file=sys.stderr)
    _write_result(result)
    return 0


def _main() -> int:
    _unbuffer_output()
    code_dir = os.environ.get("MLRES_CODE_DIR") or os.path.dirname(os.path.abspath(__file__))
    if "RANK" not in os.environ and "JOB_COMPLETION_INDEX" in os.environ:
        os.environ["RANK"] = os.environ["JOB_COMPLETION_INDEX"]
    try:
        return _run(code_dir)
    except _SetupError as e:
        print(f"mlres: {e}", file=sys.stderr)
        return EXIT_SETUP_FAILED


if __name__ == "__main__":
    code = _main()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
