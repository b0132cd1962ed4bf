"""Tests of passthrough_client.types: shape errors on JSON that does not fit."""

from __future__ import annotations

from typing import Any, List, Tuple

import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_samples import ALL_TYPES, CHAT, received

from passthrough_client.exceptions import InvalidResponseError
from passthrough_client.types import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    EmbeddingsResponse,
    Model,
)

BIG = "x" * 5000
WRONG_SHAPES: List[Tuple[Any, Any, str]] = [
    (ChatCompletion, [CHAT], "ChatCompletion must be a JSON object, got a list"),
    (ChatCompletion, "null", "ChatCompletion must be a JSON object, got a string"),
    (ChatCompletion, None, "ChatCompletion must be a JSON object, got null"),
    (ChatCompletion, {"choices": {"0": {}}}, "'choices' must be a list, got an object"),
    (
        ChatCompletion,
        {"choices": ["hi"]},
        "ChatCompletionChoice must be a JSON object, got a string",
    ),
    (ChatCompletion, {"choices": [{}]}, "a chat completion choice needs a 'message'"),
    (
        ChatCompletion,
        {"choices": [{"message": "hi"}]},
        "ChatCompletionMessage must be a JSON object",
    ),
    (
        ChatCompletion,
        {"choices": [{"message": {"content": ["a"]}}]},
        "'content' must be a string, got a list",
    ),
    (ChatCompletion, {"choices": [{"message": {"tool_calls": {}}}]}, "'tool_calls' must be a list"),
    (
        ChatCompletion,
        {"choices": [{"message": {"tool_calls": [1]}}]},
        "ToolCall must be a JSON object",
    ),
    (ChatCompletion, {"usage": 17}, "Usage must be a JSON object, got an integer"),
    (
        ChatCompletion,
        {"usage": {"total_tokens": "17"}},
        "'total_tokens' must be an integer, got a string",
    ),
    (ChatCompletion, {"created": "2024"}, "'created' must be an integer, got a string"),
    (ChatCompletion, {"id": 5, "x": BIG}, "'id' must be a string, got an integer"),
    (ChatCompletionChunk, 42, "ChatCompletionChunk must be a JSON object, got an integer"),
    (ChatCompletionChunk, {"choices": "abc"}, "'choices' must be a list, got a string"),
    (ChatCompletionChunk, {"choices": [[]]}, "ChunkChoice must be a JSON object, got a list"),
    (
        ChatCompletionChunk,
        {"choices": [{"delta": "hi"}]},
        "ChoiceDelta must be a JSON object, got a string",
    ),
    (
        ChatCompletionChunk,
        {"choices": [{"delta": {"content": 3}}]},
        "'content' must be a string, got an integer",
    ),
    (
        ChatCompletionChunk,
        {"choices": [{"delta": {"tool_calls": "x"}}]},
        "'tool_calls' must be a list",
    ),
    (
        ChatCompletionChunk,
        {"choices": [{"delta": {"tool_calls": [{"function": []}]}}]},
        "ToolCallFunction must be",
    ),
    (
        ChatCompletionChunk,
        {"choices": [{"index": "0"}]},
        "'index' must be an integer, got a string",
    ),
    (
        ChatCompletionChunk,
        {"choices": [{"index": True}]},
        "'index' must be an integer, got a boolean",
    ),
    (ChatCompletionChunk, {"choices": [{"finish_reason": 1}]}, "'finish_reason' must be a string"),
    (
        ChatCompletionChunk,
        {"choices": [], "model": BIG, "system_fingerprint": 1},
        "'system_fingerprint'",
    ),
    (ChatCompletionChunk, {"model": {"name": BIG}}, "'model' must be a string, got an object"),
    (Completion, {"choices": [{"text": None}], "object": 1}, "'object' must be a string"),
    (Completion, {"choices": [{"text": {"t": 1}}]}, "'text' must be a string, got an object"),
    (EmbeddingsResponse, {"data": "abc"}, "'data' must be a list, got a string"),
    (
        EmbeddingsResponse,
        {"data": [{"embedding": ["a", 1]}]},
        "'embedding' must be a list of numbers",
    ),
    (
        EmbeddingsResponse,
        {"data": [{"embedding": [[1.0]]}]},
        "'embedding' must be a list of numbers",
    ),
    (
        EmbeddingsResponse,
        {"data": [{"embedding": [None]}]},
        "'embedding' must be a list of numbers",
    ),
    (EmbeddingsResponse, {"data": [{"index": 0}]}, "'embedding' must be a list of numbers"),
    (Model, {"id": None, "owned_by": ["me"]}, "'owned_by' must be a string, got a list"),
    (Model, {"created": float("nan")}, "'created' must be an integer, got a number"),
]


@pytest.mark.parametrize(("cls", "payload", "problem"), WRONG_SHAPES)
def test_wrong_shape_raises_invalid_response_error(cls: Any, payload: Any, problem: str) -> None:
    """A value of the wrong kind raises InvalidResponseError saying what is wrong."""
    with pytest.raises(InvalidResponseError) as info:
        cls.from_dict(payload)

    assert problem in str(info.value)


@pytest.mark.parametrize(("cls", "payload", "problem"), WRONG_SHAPES)
def test_shape_error_snippet_is_at_most_200_characters(
    cls: Any, payload: Any, problem: str
) -> None:
    """The snippet of received JSON in the message never exceeds 200 characters."""
    with pytest.raises(InvalidResponseError) as info:
        cls.from_dict(payload)

    snippet = received(str(info.value))
    assert 0 < len(snippet) <= 200


def test_long_snippet_is_cut_with_an_ellipsis() -> None:
    """A long offending object is shown by its first characters, ending with an ellipsis."""
    with pytest.raises(InvalidResponseError) as info:
        Model.from_dict({"id": 1, "x": BIG})

    snippet = received(str(info.value))
    assert (len(snippet), snippet[:19], snippet[-1]) == (200, '{"id": 1, "x": "xxx', "…")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "object",
                    "created",
                    "model",
                    "choices",
                    "usage",
                    "message",
                    "delta",
                    "content",
                    "role",
                    "tool_calls",
                    "function",
                    "name",
                    "arguments",
                    "index",
                    "data",
                    "embedding",
                    "text",
                    "finish_reason",
                    "total_tokens",
                    "type",
                ]
            )
            | st.text(max_size=3),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=examples(150), deadline=None)
@given(value=JSON)
def test_any_json_value_builds_or_raises_invalid_response_error(cls: Any, value: Any) -> None:
    """from_dict on any JSON value returns an instance whose to_dict is the input, or raises
    InvalidResponseError; never another exception."""
    try:
        result = cls.from_dict(value)
    except InvalidResponseError as exc:
        assert len(received(str(exc))) <= 200
    else:
        assert value == result.to_dict()
