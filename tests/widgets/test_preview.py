"""The preview's YAML: what it shows parses back to exactly what core rendered."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlres.widgets.preview import changed_lines, emit_yaml, lines_to_html, lines_to_text

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        ["500m", "8Gi", "yes", "no", "null", "1:20", "2026-01-01", "a: b", "#x", "- y", "line\n"]
    )
)
keys = st.text(min_size=1, max_size=20)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(keys, values, max_size=4) | st.lists(values, max_size=4)


@settings(max_examples=150, deadline=None)
@given(document=documents)
def test_yaml_parses_back_to_the_document(document: Any) -> None:
    text = lines_to_text(emit_yaml([document], lambda path, value: "note"))
    assert yaml.safe_load(text) == document


@given(documents=st.lists(st.dictionaries(keys, scalars, min_size=1, max_size=3), min_size=2, max_size=3))
def test_several_documents(documents: list[dict[str, Any]]) -> None:
    assert list(yaml.safe_load_all(lines_to_text(emit_yaml(documents)))) == documents


def test_comments_name_the_source_and_keep_yaml_valid() -> None:
    doc = {"resources": {"requests": {"cpu": "2", "memory": "1Gi"}}, "tolerations": [{"key": "spot"}]}
    notes = {("resources", "requests", "cpu"): "user", ("tolerations", 0): "spot mode allow"}
    text = lines_to_text(emit_yaml([doc], lambda path, value: notes.get(path)))
    assert text == (
        "resources:\n"
        "  requests:\n"
        '    cpu: "2"  # user\n'
        "    memory: 1Gi\n"
        "tolerations:\n"
        "  - key: spot  # spot mode allow\n"
    )


def test_changed_lines_mark_edits_and_removals() -> None:
    before = emit_yaml([{"a": 1, "b": 2, "c": 3}])
    assert changed_lines(before, emit_yaml([{"a": 1, "b": 5, "c": 3}])) == {1}
    assert changed_lines(before, emit_yaml([{"a": 1, "c": 3}])) == {1}
    assert changed_lines(before, before) == frozenset()


def test_html_escapes_and_marks_changes() -> None:
    lines = emit_yaml([{"a": "<b>"}], lambda path, value: "x & y")
    shown = lines_to_html(lines, frozenset({0}))
    assert "&lt;b&gt;" in shown
    assert "x &amp; y" in shown
    assert 'class="mlres-line mlres-changed"' in shown


def test_line_separators_in_multi_line_strings_read_back() -> None:
    # The preview shares core's scalar rules (core/yamlout.py): such strings are quoted.
    for text in ("x\u2028y\nz", "a\n\u2029b\n", "tab\tin a block\n"):
        assert yaml.safe_load(lines_to_text(emit_yaml([{"k": text}]))) == {"k": text}
