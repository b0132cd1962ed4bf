"""Tests of passthrough_client.types: building from JSON, shape errors, to_dict, reprs."""

from __future__ import annotations

import copy
import json
import pickle
import types as pytypes
from typing import Any, Dict, List, Tuple, Type

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passthrough_client import types
from passthrough_client.exceptions import InvalidResponseError
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

USAGE: Dict[str, Any] = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 0},
}
TOOL_CALL: Dict[str, Any] = {
    "id": "call_abc",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
CHAT: Dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "llama-3.1-8b",
    "system_fingerprint": "fp_1",
    "service_tier": "default",
    "prompt_logprobs": None,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello there",
                "refusal": None,
                "reasoning_content": "The user greets me.",
                "tool_calls": [TOOL_CALL],
            },
            "logprobs": {"content": [{"token": "Hello", "logprob": -0.1, "top_logprobs": []}]},
            "finish_reason": "tool_calls",
            "stop_reason": None,
        }
    ],
    "usage": USAGE,
}
CHUNK: Dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "llama-3.1-8b",
    "system_fingerprint": None,
    "choices": [
        {
            "index": 0,
            "delta": {
                "role": "assistant",
                "content": "Hel",
                "reasoning": None,
                "tool_calls": [{"index": 0, "id": None, "function": {"arguments": '{"ci'}}],
            },
            "logprobs": None,
            "finish_reason": None,
        }
    ],
    "usage": None,
    "obfuscation": "xyz",
}
USAGE_CHUNK: Dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "choices": [],
    "usage": USAGE,
}
COMPLETION: Dict[str, Any] = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1700000000,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [
        {
            "index": 0,
            "text": " a cat",
            "logprobs": {"tokens": [" a", " cat"], "token_logprobs": [-0.5, -1.0]},
            "finish_reason": "length",
            "prompt_logprobs": None,
        }
    ],
    "usage": USAGE,
}
EMBEDDINGS: Dict[str, Any] = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": 0, "embedding": [0.25, -1, 3.5e-3]},
        {"object": "embedding", "index": 1, "embedding": [0.5, 0.0, 1.0]},
    ],
    "model": "nomic-embed-text",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
    "id": "embd-vendor",
}
EMBEDDINGS_BASE64: Dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": "AACAPwAAAEA="}],
    "model": "nomic-embed-text",
}
MODEL: Dict[str, Any] = {
    "id": "llama-3.1-8b",
    "object": "model",
    "created": 1700000000,
    "owned_by": "vllm",
    "max_model_len": 8192,
    "permission": [{"id": "modelperm-1", "allow_sampling": True}],
}

ROUND_TRIPS = [
    (ChatCompletion, CHAT),
    (ChatCompletionChoice, CHAT["choices"][0]),
    (ChatCompletionMessage, CHAT["choices"][0]["message"]),
    (ToolCall, TOOL_CALL),
    (ToolCallFunction, TOOL_CALL["function"]),
    (ChatCompletionChunk, CHUNK),
    (ChatCompletionChunk, USAGE_CHUNK),
    (ChunkChoice, CHUNK["choices"][0]),
    (ChoiceDelta, CHUNK["choices"][0]["delta"]),
    (ChoiceDeltaToolCall, CHUNK["choices"][0]["delta"]["tool_calls"][0]),
    (Completion, COMPLETION),
    (CompletionChoice, COMPLETION["choices"][0]),
    (Usage, USAGE),
    (EmbeddingsResponse, EMBEDDINGS),
    (EmbeddingsResponse, EMBEDDINGS_BASE64),
    (Embedding, EMBEDDINGS["data"][0]),
    (Model, MODEL),
]
ALL_TYPES = sorted({cls for cls, _ in ROUND_TRIPS}, key=lambda cls: cls.__name__)


def received(message: str) -> str:
    """Return the snippet part of an InvalidResponseError message."""
    return message.split("; received: ", 1)[1]


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
@settings(max_examples=150, deadline=None)
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


@pytest.mark.parametrize(("cls", "payload"), ROUND_TRIPS)
def test_instances_are_frozen(cls: Any, payload: Dict[str, Any]) -> None:
    """Assigning to any field raises FrozenInstanceError."""
    obj = cls.from_dict(payload)
    name = attrs.fields(cls)[-1].name

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(obj, name, None)


def test_changing_to_dict_result_does_not_change_the_object() -> None:
    """to_dict() returns a copy: editing it, even deep inside, leaves the object alone."""
    completion = ChatCompletion.from_dict(copy.deepcopy(CHAT))
    changed = completion.to_dict()
    changed["choices"][0]["message"]["content"] = "changed"
    changed["model"] = "changed"

    assert completion.to_dict() == CHAT
    assert CHAT["choices"][0]["message"] == completion.choices[0].message.to_dict()


def test_direct_construction_to_dict_omits_none_fields() -> None:
    """An object built directly serialises its non-None fields, nested objects included."""
    completion = ChatCompletion(
        id="c1",
        choices=(ChatCompletionChoice(index=0, message=ChatCompletionMessage(role="assistant")),),
        usage=Usage(total_tokens=3),
    )

    expected = {
        "id": "c1",
        "choices": [{"index": 0, "message": {"role": "assistant"}}],
        "usage": {"total_tokens": 3},
    }
    assert expected == completion.to_dict()


def test_direct_construction_to_dict_lists_tuples() -> None:
    """Tuples of an object built directly become JSON lists."""
    embedding = Embedding(index=0, embedding=(1.0, 2.0))

    assert embedding.to_dict() == {"index": 0, "embedding": [1.0, 2.0]}
    assert embedding == Embedding.from_dict(json.loads(json.dumps(embedding.to_dict())))


def test_evolve_serialises_the_new_fields() -> None:
    """An object changed with attrs.evolve serialises its fields, not the old received JSON."""
    model = attrs.evolve(Model.from_dict(MODEL), id="other")

    assert (model.to_dict()) == {
        "id": "other",
        "object": "model",
        "created": 1700000000,
        "owned_by": "vllm",
    }


def test_equality_compares_typed_fields_only() -> None:
    """An object from JSON equals one built directly with the same fields, vendor fields aside."""
    assert Model(id="llama-3.1-8b", object="model", created=1700000000, owned_by="vllm") == (
        Model.from_dict(MODEL)
    )


def test_repr_shows_fields_but_not_the_received_json() -> None:
    """repr lists the typed fields and leaves the received object out."""
    text = repr(Model.from_dict(MODEL))

    assert text == "Model(id='llama-3.1-8b', object='model', created=1700000000, owned_by='vllm')"


def test_objects_are_hashable_even_with_logprobs() -> None:
    """Equal objects hash alike; a logprobs object does not make them unhashable."""
    first, second = ChatCompletion.from_dict(CHAT), ChatCompletion.from_dict(copy.deepcopy(CHAT))

    assert hash(first) == hash(second)


@pytest.mark.parametrize(("cls", "payload"), ROUND_TRIPS)
def test_pickle_keeps_the_received_json(cls: Any, payload: Dict[str, Any]) -> None:
    """A pickled and unpickled object is equal and still gives back the received JSON."""
    obj = pickle.loads(pickle.dumps(cls.from_dict(payload)))

    assert (cls.from_dict(payload), payload) == (obj, obj.to_dict())


def test_chat_completion_str_shows_the_essentials() -> None:
    """str() of a chat completion shows content, finish reason, tool calls and usage."""
    expected = (
        "ChatCompletion(id='chatcmpl-123', model='llama-3.1-8b')\n"
        "  [0] assistant: 'Hello there' (finish_reason='tool_calls')\n"
        '      tool call get_weather(\'{"city": "Paris"}\')\n'
        "  usage: 12 prompt + 5 completion = 17 tokens"
    )
    assert expected == str(ChatCompletion.from_dict(CHAT))


def test_completion_str_shows_the_essentials() -> None:
    """str() of a completion shows each choice's text and finish reason, and usage."""
    expected = (
        "Completion(id='cmpl-1', model='gpt-3.5-turbo-instruct')\n"
        "  [0] ' a cat' (finish_reason='length')\n"
        "  usage: 12 prompt + 5 completion = 17 tokens"
    )
    assert expected == str(Completion.from_dict(COMPLETION))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (EMBEDDINGS, "2 embeddings, dimension 3)\n  usage: 8 prompt = 8 tokens"),
        (EMBEDDINGS_BASE64, "1 embeddings, dimension base64)"),
    ],
)
def test_embeddings_str_shows_count_and_dimension(payload: Dict[str, Any], expected: str) -> None:
    """str() of an embeddings response shows the count and the dimension."""
    assert expected in str(EmbeddingsResponse.from_dict(payload))


def test_str_cuts_long_content() -> None:
    """A long message is cut in the summary so that it stays short."""
    message = ChatCompletionMessage(role="assistant", content="y" * 10_000)
    text = str(ChatCompletion(choices=(ChatCompletionChoice(index=0, message=message),)))

    assert 300 < len(text) < 500


def test_repr_pretty_prints_the_summary() -> None:
    """IPython's pretty printer shows the same summary as str()."""
    completion = ChatCompletion.from_dict(CHAT)
    printed: List[str] = []
    printer = pytypes.SimpleNamespace(text=printed.append)

    completion._repr_pretty_(printer, cycle=False)

    assert [str(completion)] == printed


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and names every public response type."""
    expected = sorted(cls.__name__ for cls in ALL_TYPES)

    assert (expected, expected) == (types.__all__, sorted(types.__all__))


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda cls: cls.__name__)
def test_every_type_is_a_frozen_slotted_attrs_class(cls: Type[Any]) -> None:
    """Each public type is an attrs class with slots and a from_dict classmethod."""
    assert (
        attrs.has(cls),
        "__slots__" in cls.__dict__,
        callable(cls.from_dict),
    ) == (True, True, True)
