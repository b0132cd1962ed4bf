"""``_rules.jsontext.loads`` gives exactly what ``json.loads`` gives: values and errors."""

from __future__ import annotations

import json
from typing import Any, Tuple

import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from passthrough_client._rules.jsontext import loads


def outcome(parse: Any, text: str) -> Tuple[str, Any]:
    """What ``parse(text)`` does: ``("value", repr)`` or ``("error", type and message)``."""
    try:
        return "value", repr(parse(text))  # repr: NaN != NaN, but its repr is stable
    except (ValueError, RecursionError) as exc:
        return "error", (type(exc).__name__, str(exc))


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '{"a":1}',
        '{"a": [1, 2.5, {"b": null}], "c": "\\u00e9"}',
        '{"a":1} {"b":2}',  # extra data
        '{"a":1}}',
        '{"a":}',  # an error inside the object
        '{"a":NaN}',
        '{"a":1,"a":2}',  # a duplicate key: the last wins, as in json.loads
        ' {"a":1} ',
        "{" * 100000 + "}" * 100000,  # too deep
        "{]",
        "[1]",
        "",
    ],
)
def test_same_as_json_loads(text: str) -> None:
    assert outcome(loads, text) == outcome(json.loads, text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
NOISE = st.sampled_from(["", " ", "}", "{", "x", ",", "\n", '"', "]"])


@settings(max_examples=examples(300))
@given(value=JSON, before=NOISE, after=NOISE, cut=st.integers(0, 3))
def test_any_text_gives_what_json_loads_gives(
    value: Any, before: str, after: str, cut: int
) -> None:
    """Generated JSON, with noise around it or cut short, parses (or fails) like json.loads."""
    text = json.dumps(value)
    for candidate in (text, before + text + after, text[: len(text) - cut]):
        assert outcome(loads, candidate) == outcome(json.loads, candidate)
