"""The stdlib-only runner, run as the job runs it: ``python mlres_runner.py`` in a code directory."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlres.runner as runner_module

RUNNER = Path(runner_module.__file__).read_text(encoding="utf-8")


def _run(
    tmp_path: Path, code: str, job: dict[str, Any] | None = None, **files: bytes
) -> tuple[int, str, Any]:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "mlres_runner.py").write_text(RUNNER)
    (code_dir / "main.py").write_text(code)
    (code_dir / "job.json").write_text(json.dumps(job or {"name": "t", "handler": None, "params": {}}))
    for name, data in files.items():
        (code_dir / name.replace("_", ".")).write_bytes(data)
    result_path = tmp_path / "result.json"
    env = {
        "MLRES_CODE_DIR": str(code_dir),
        "MLRES_RESULT_PATH": str(result_path),
        "JOB_COMPLETION_INDEX": "4",
    }
    proc = subprocess.run(
        [sys.executable, str(code_dir / "mlres_runner.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(result_path.read_text()) if result_path.exists() else None
    return proc.returncode, proc.stdout + proc.stderr, result


def test_handler_result_and_rank_fallback(tmp_path: Path) -> None:
    code, out, result = _run(
        tmp_path,
        "import os\ndef h(a):\n    return {'a': a, 'rank': os.environ['RANK']}\n",
        {"name": "t", "handler": "h", "params": {"a": [1, 2]}},
    )
    assert (code, result) == (0, {"result": {"a": [1, 2], "rank": "4"}}), out


def test_values_that_are_not_json_come_back_as_repr(tmp_path: Path) -> None:
    _, _, result = _run(tmp_path, "def h():\n    return {1, 2}\n", {"name": "t", "handler": "h"})
    assert result == {"result_repr": "{1, 2}"}


@pytest.mark.parametrize(
    ("body", "expected"), [("sys.exit(0)", 0), ("sys.exit(5)", 5), ("sys.exit('bye')", 1)]
)
def test_exit_codes_propagate(tmp_path: Path, body: str, expected: int) -> None:
    code, _, _ = _run(tmp_path, f"import sys\n{body}\n")
    assert code == expected


def test_an_exception_prints_its_traceback_and_exits_1(tmp_path: Path) -> None:
    code, out, result = _run(tmp_path, "raise KeyError('k')\n")
    assert code == 1
    assert "Traceback" in out
    assert "KeyError: 'k'" in out
    assert result is None


def test_a_missing_handler_lists_what_is_defined(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, "def train():\n    pass\n", {"name": "t", "handler": "trian"})
    assert code == 2
    assert "handler 'trian' is not a function defined by the job's code; callables defined: train" in out


def test_requested_variables_are_the_result_of_a_script(tmp_path: Path) -> None:
    code, out, result = _run(
        tmp_path,
        "n_rows = 3\nmodel_score = n_rows / 4\n",
        {"name": "t", "handler": None, "returns": ["model_score", "n_rows"]},
    )
    assert (code, result) == (0, {"result": {"model_score": 0.75, "n_rows": 3}}), out


def test_requested_variables_come_back_with_the_handler_value(tmp_path: Path) -> None:
    code, out, result = _run(
        tmp_path,
        "seen = []\ndef h(a):\n    seen.append(a)\n    return a * 2\n",
        {"name": "t", "handler": "h", "params": {"a": 5}, "returns": ["seen"]},
    )
    assert (code, result) == (0, {"result": {"seen": [5], "return": 10}}), out


def test_a_missing_requested_variable_fails_the_run_naming_it(tmp_path: Path) -> None:
    code, out, result = _run(
        tmp_path, "score = 1\n", {"name": "t", "handler": None, "returns": ["score", "n_rows"]}
    )
    assert code == 1
    assert result is None
    assert "requested return variable(s) 'n_rows' not defined by the job's code" in out
    assert "names defined: score" in out


def test_result_size_is_bounded_like_a_termination_message(tmp_path: Path) -> None:
    code, out, result = _run(
        tmp_path, "def h():\n    return list(range(2000))\n", {"name": "t", "handler": "h"}
    )
    assert code == 0
    assert result is not None
    assert set(result) == {"error"}
    assert result["error"].startswith("result too large: ")
    assert "> 4096" in result["error"]
    assert "result too large" in out


def test_captured_values_are_in_the_code_globals(tmp_path: Path) -> None:
    code, out, result = _run(
        tmp_path,
        "def h():\n    return greeting + '!'\n",
        {"name": "t", "handler": "h"},
        capture_pkl=pickle.dumps({"greeting": "hi"}),
    )
    assert (code, result) == (0, {"result": "hi!"}), out


def test_output_is_line_buffered(tmp_path: Path) -> None:
    code, out, _ = _run(
        tmp_path,
        "import os, sys\nprint('a')\nprint(os.environ['PYTHONUNBUFFERED'], sys.stdout.line_buffering)\n",
    )
    assert code == 0
    assert out.splitlines() == ["a", "1 True"]
