"""The job runner: starts the user's code inside a job. Standard library only, Python 3.9+.

This file is shipped *as text* in each run's ConfigMap (Kubernetes) or run directory (local) and
executed there with ``python3 mlres_runner.py``; jupyter_mlres itself is never importable inside
the job's image, so nothing here may import it.

Contract (environment):
  MLRES_CODE_DIR     directory holding main.py and job.json (default: this file's directory)
  MLRES_RESULT_PATH  where the JSON result goes (default: /dev/termination-log)
  RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT
                     replica contract; RANK falls back to JOB_COMPLETION_INDEX (Indexed Jobs)
job.json: {"name": str, "handler": str | null, "params": {str: any}}
"""

import json
import os
import sys
import traceback
from typing import Any


def _main() -> int:
    code_dir = os.environ.get("MLRES_CODE_DIR") or os.path.dirname(os.path.abspath(__file__))
    if "RANK" not in os.environ and "JOB_COMPLETION_INDEX" in os.environ:
        os.environ["RANK"] = os.environ["JOB_COMPLETION_INDEX"]
    with open(os.path.join(code_dir, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    main_path = os.path.join(code_dir, "main.py")
    with open(main_path, encoding="utf-8") as f:
        source = f.read()
    namespace: dict[str, object] = {
        "__name__": "__main__" if not job.get("handler") else "__mlres_job__",
        "__file__": main_path,
    }
    sys.path.insert(0, code_dir)
    try:
        exec(compile(source, main_path, "exec"), namespace)
        result = None
        handler_name = job.get("handler")
        if handler_name:
            handler: Any = namespace[handler_name]
            result = handler(**job.get("params", {}))
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except BaseException:
        traceback.print_exc()
        return 1
    _write_result(result)
    return 0


def _write_result(result: object) -> None:
    path = os.environ.get("MLRES_RESULT_PATH", "/dev/termination-log")
    try:
        payload = json.dumps({"result": result})
    except (TypeError, ValueError):
        payload = json.dumps({"result_repr": repr(result)})
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(payload)
    except OSError:
        pass


if __name__ == "__main__":
    sys.stdout.flush()
    sys.exit(_main())
