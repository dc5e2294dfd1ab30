"""Capture of notebook names: imports, notebook-defined functions/classes, values, limits."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.kernel.capture import CAPTURE_FILE, capture_cell, free_names


def test_free_names_are_reads_not_bound_by_the_cell_in_order_of_use() -> None:
    body = (
        "import os\n"
        "x = np.zeros(3) + y\n"
        "def f(a):\n"
        "    return helper(a) + x\n"
        "class C(Base):\n"
        "    attr = w\n"
        "[t for t in items]\n"
    )
    assert free_names(body) == ["np", "y", "helper", "Base", "w", "items"]


def _capture(ip: InteractiveShell, setup: str, body: str, **kw: int) -> object:
    result = ip.run_cell(setup, store_history=True)
    assert result.success, result.error_in_exec
    return capture_cell(body, ip.user_ns, hidden=ip.user_ns_hidden, **kw)


def test_modules_become_import_lines(ip: InteractiveShell) -> None:
    capture = _capture(
        ip,
        "import json\nimport os.path as osp\nimport xml.dom\nfrom math import sqrt\nfrom collections import OrderedDict as OD",
        "print(json, osp, xml.dom.Node, sqrt, OD, len)",
    )
    assert capture.imports == [  # type: ignore[attr-defined]
        "import json",
        "import posixpath as osp",
        "import xml",
        "from math import sqrt",
        "from collections import OrderedDict as OD",
        "import xml.dom",
    ]
    assert capture.values == {}  # type: ignore[attr-defined]


def test_notebook_functions_and_classes_are_copied_with_what_they_use(ip: InteractiveShell) -> None:
    setup = (
        "import math\n"
        "scale = 2\n"
        "class Base:\n"
        "    pass\n"
        "class Model(Base):\n"
        "    def predict(self, x):\n"
        "        return math.sqrt(x) * scale\n"
        "def make():\n"
        "    return Model()\n"
    )
    capture = _capture(ip, setup, "print(make().predict(16))")
    code = capture.code("print(make().predict(16))")  # type: ignore[attr-defined]
    # Dependencies come before what uses them; the cell body comes last, unchanged.
    assert code.index("class Base") < code.index("class Model") < code.index("def make")
    assert code.index("import math") < code.index("class Model")
    assert code.endswith("print(make().predict(16))")
    assert capture.values == {"scale": 2}  # type: ignore[attr-defined]
    namespace: dict[str, object] = dict(capture.values)  # type: ignore[attr-defined]
    exec(code.replace("print(", "result = ("), namespace)
    assert namespace["result"] == 8.0


def test_values_are_pickled_with_the_stdlib_when_possible(ip: InteractiveShell) -> None:
    capture = _capture(ip, "data = {'a': [1, 2, 3]}\nname = 'x'", "print(data, name)")
    files = capture.attachments()  # type: ignore[attr-defined]
    assert pickle.loads(files[CAPTURE_FILE]) == {"data": {"a": [1, 2, 3]}, "name": "x"}
    assert capture.requirements == []  # type: ignore[attr-defined]


def test_lambdas_and_notebook_class_instances_need_cloudpickle(ip: InteractiveShell) -> None:
    capture = _capture(
        ip,
        "class Point:\n    def __init__(self, x):\n        self.x = x\np = Point(3)\nsquare = lambda v: v * v",
        "print(square(p.x))",
    )
    assert capture.requirements == ["cloudpickle"]  # type: ignore[attr-defined]
    loaded = cloudpickle.loads(capture.attachments()[CAPTURE_FILE])  # type: ignore[attr-defined]
    assert loaded["square"](loaded["p"].x) == 9
    described = "\n".join(capture.describe())  # type: ignore[attr-defined]
    assert "needs cloudpickle in the image" in described


def test_names_the_cell_defines_itself_are_not_captured(ip: InteractiveShell) -> None:
    capture = _capture(ip, "x = 1\nhelper = 5", "x = 2\ndef helper():\n    return x\nprint(helper())")
    assert capture.items == []  # type: ignore[attr-defined]


def test_ipython_names_are_never_captured(ip: InteractiveShell) -> None:
    capture = _capture(ip, "", "print(In, Out, get_ipython, _, __)")
    assert capture.items == []  # type: ignore[attr-defined]


def test_over_the_size_limit_names_the_variable_and_its_size(ip: InteractiveShell) -> None:
    with pytest.raises(SpecError) as info:
        _capture(ip, "big = b'x' * 200_000\nsmall = 1", "print(len(big), small)", size_limit=100_000)
    assert info.value.path == "capture.big"
    message = str(info.value)
    assert "195.3 KiB" in message
    assert "capture_size_limit" in message


def test_unpicklable_values_are_a_clear_error(ip: InteractiveShell) -> None:
    with pytest.raises(SpecError) as info:
        _capture(ip, "import threading\nlock = threading.Lock()", "print(lock)")
    assert info.value.path == "capture.lock"
    assert "create it inside the cell" in str(info.value)


def test_syntax_errors_name_the_line(ip: InteractiveShell) -> None:
    with pytest.raises(SpecError, match="syntax error on line 2"):
        capture_cell("x = 1\nif x\n", {})


def test_names_read_before_the_cell_binds_them_come_from_the_notebook(ip: InteractiveShell) -> None:
    body = "rows = [r for r in rows if r > 1]\ncount += len(rows)\nlimit = 3\nprint(limit)\n"
    assert free_names(body) == ["rows", "count", "len", "print"]
    capture = _capture(ip, "rows = [1, 2, 3]\ncount = 10\nlimit = 99", body)
    assert capture.values == {"rows": [1, 2, 3], "count": 10}  # type: ignore[attr-defined]
