"""The YAML writer: what it writes reads back as the same data, and reads well."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import jupyter_mlres as mlres
from jupyter_mlres.core.yamlout import dump_yaml

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            "yes",
            "no",
            "on",
            "null",
            "~",
            "1:20",
            "0x1f",
            "1_000",
            ".5",
            "-",
            "- a",
            "a: b",
            "#x",
            "2026-11-29",
            "x\n",
            "\n",
            " x\ny",
            "a\n\n\n",
            "é\nü",
            "\ttab\nx",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_round_trips_through_safe_load(document: Any) -> None:
    assert yaml.safe_load(dump_yaml(document)) == document


def test_manifests_read_back_identically_and_code_is_a_block() -> None:
    code = "def train():\n    return 1\n"
    fn = mlres.new_function("train", code=code).apply(mlres.mount_v3io(access_key="k"))
    fn.spec.replicas = 2
    text = fn.to_yaml()
    assert [d for d in yaml.safe_load_all(text) if d is not None] == fn.to_manifests()
    assert "  main.py: |\n    def train():\n        return 1\n" in text
    assert "        - python3\n" in text
    assert "          value: '2'\n" in text  # WORLD_SIZE: strings that look like numbers are quoted


def test_line_separators_in_multi_line_strings_read_back() -> None:
    # PyYAML breaks a block scalar's line at U+2028/U+2029: such strings are quoted, not blocks.
    for text in ("x\u2028y\nz", "a\n\u2029b\n", "code\n# \u2028 in a comment\n"):
        assert yaml.safe_load(dump_yaml({"k": text})) == {"k": text}
