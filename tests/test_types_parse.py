"""Tests of passthrough_client.types: building typed objects from received JSON."""

from __future__ import annotations

import copy
import types as pytypes
from typing import Any, Dict

import pytest
from wire_samples import CHAT, CHUNK, EMBEDDINGS, EMBEDDINGS_BASE64, ROUND_TRIPS

from passthrough_client.types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChunkChoice,
    Completion,
    CompletionChoice,
    Embedding,
    EmbeddingsResponse,
    Model,
    ToolCall,
    ToolCallFunction,
    Usage,
)


@pytest.mark.parametrize(("cls", "payload"), ROUND_TRIPS)
def test_to_dict_returns_the_received_object(cls: Any, payload: Dict[str, Any]) -> None:
    """to_dict() equals the JSON object given to from_dict, vendor fields included."""
    original = copy.deepcopy(payload)

    assert original == cls.from_dict(payload).to_dict()
    assert original == payload


def test_chat_completion_fields_are_typed() -> None:
    """A chat completion's message, tool call and usage are reachable by OpenAI names."""
    completion = ChatCompletion.from_dict(CHAT)
    choice = completion.choices[0]

    assert (choice.message.content, choice.finish_reason) == ("Hello there", "tool_calls")
    weather = ToolCallFunction(name="get_weather", arguments='{"city": "Paris"}')
    assert (ToolCall(id="call_abc", type="function", function=weather),) == (
        choice.message.tool_calls
    )
    assert Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17) == completion.usage
    assert CHAT["choices"][0]["logprobs"] == choice.logprobs


def test_chunk_fields_are_typed() -> None:
    """A chunk's delta, tool call piece and header fields are typed."""
    chunk = ChatCompletionChunk.from_dict(CHUNK)
    delta = chunk.choices[0].delta

    assert (chunk.id, chunk.created, chunk.model) == ("chatcmpl-123", 1700000000, "llama-3.1-8b")
    assert (delta.role, delta.content) == ("assistant", "Hel")
    expected_call = ChoiceDeltaToolCall(index=0, function=ToolCallFunction(arguments='{"ci'))
    assert (expected_call,) == delta.tool_calls


def test_embeddings_are_tuples_or_base64_strings() -> None:
    """A float embedding is stored as a tuple; a base64 embedding stays a string."""
    floats = EmbeddingsResponse.from_dict(EMBEDDINGS)
    encoded = EmbeddingsResponse.from_dict(EMBEDDINGS_BASE64)

    assert floats.data[0].embedding == (0.25, -1, 3.5e-3)
    assert Usage(prompt_tokens=8, total_tokens=8) == floats.usage
    assert encoded.data[0].embedding == "AACAPwAAAEA="


MINIMAL = [
    (ChatCompletion, {}, ChatCompletion()),
    (
        ChatCompletion,
        {"choices": [{"message": {"content": "hi"}}]},
        ChatCompletion(
            choices=(ChatCompletionChoice(index=0, message=ChatCompletionMessage(content="hi")),)
        ),
    ),
    (
        ChatCompletionChunk,
        {"choices": [{}]},
        ChatCompletionChunk(choices=(ChunkChoice(index=0, delta=ChoiceDelta()),)),
    ),
    (ChatCompletionChunk, {"choices": None, "usage": None}, ChatCompletionChunk()),
    (ChoiceDelta, {"tool_calls": [{}]}, ChoiceDelta(tool_calls=(ChoiceDeltaToolCall(index=0),))),
    (
        ChatCompletionMessage,
        {"tool_calls": [{"id": "c"}]},
        ChatCompletionMessage(tool_calls=(ToolCall(id="c"),)),
    ),
    (Completion, {"choices": [{}]}, Completion(choices=(CompletionChoice(index=0),))),
    (
        EmbeddingsResponse,
        {"data": [{"embedding": []}]},
        EmbeddingsResponse(data=(Embedding(index=0, embedding=()),)),
    ),
    (Model, {"id": "m"}, Model(id="m")),
    (Usage, {}, Usage()),
]


@pytest.mark.parametrize(("cls", "payload", "expected"), MINIMAL)
def test_missing_fields_are_none(cls: Any, payload: Dict[str, Any], expected: Any) -> None:
    """A field the service leaves out (or sends as null) is None; lists are empty tuples."""
    assert expected == cls.from_dict(payload)


def test_missing_index_is_the_position_in_the_list() -> None:
    """An item without ``index`` gets its position in its list."""
    chunk = ChatCompletionChunk.from_dict({"choices": [{"delta": {}}, {"delta": {}}]})
    embeddings = EmbeddingsResponse.from_dict({"data": [{"embedding": [1.0]}] * 3})

    assert [choice.index for choice in chunk.choices] == [0, 1]
    assert [item.index for item in embeddings.data] == [0, 1, 2]


def test_float_created_is_truncated_to_int() -> None:
    """A ``created`` sent as a float becomes an int; to_dict still gives the float."""
    model = Model.from_dict({"id": "m", "created": 1700000000.75})

    assert model.created == 1700000000
    assert model.to_dict() == {"id": "m", "created": 1700000000.75}


def test_non_dict_mappings_are_accepted() -> None:
    """Any read-only mapping is read like a dict."""
    usage = Usage.from_dict(pytypes.MappingProxyType({"total_tokens": 3}))

    assert Usage(total_tokens=3) == usage
