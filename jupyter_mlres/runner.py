"""The job runner: starts the user's code inside a job. Standard library only, Python 3.9+.

This file is shipped *as text* in each run's ConfigMap (Kubernetes) or run directory (local) and
executed there with ``python3 mlres_runner.py``; jupyter_mlres itself is never importable inside
the job's image, so nothing here may import it.

Contract (environment):
  MLRES_CODE_DIR     directory holding main.py and job.json (default: this file's directory)
  MLRES_RESULT_PATH  where the JSON result goes (default: /dev/termination-log)
  RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT
                     replica contract; RANK falls back to JOB_COMPLETION_INDEX (Indexed Jobs)
job.json: {"name": str, "handler": str | null, "params": {str: any}, "returns": [str] (optional)}
  With "returns" non-empty the result is ``{VAR: value, ...}`` of those variables of main.py's
  globals after it ran, plus ``"return": <handler value>`` when a handler ran; a variable the
  code never set fails the run (exit 1) with a message naming it.
capture.pkl (optional, next to main.py): a pickle of ``{name: value}`` (made with cloudpickle when
  it holds notebook-defined functions or classes), loaded into main.py's globals before it runs.

Exit status: 0 on success, the code given to ``sys.exit``, 1 on an uncaught exception (its
traceback goes to stderr), 2 when the run cannot even start (bad bundle, missing package).
The result file holds exactly one JSON object, at most RESULT_LIMIT bytes:
  {"result": value} | {"result_repr": "repr(value)"} | {"error": "why there is no result"}
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import traceback
from typing import Any

RESULT_LIMIT = 4096
"""Bytes; the Kubernetes termination message limit. Both backends enforce it the same way."""

EXIT_SETUP_FAILED = 2


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
    try:
        exec(compile(source, main_path, "exec"), namespace)
        result = None
        if handler_name:
            handler = namespace.get(handler_name)
            if not callable(handler):
                defined = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("_"))
                raise _SetupError(
                    f"handler {handler_name!r} is not a function defined by the job's code; "
                    f"callables defined: {', '.join(defined) or 'none'}"
                )
            result = handler(**(job.get("params") or {}))
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
