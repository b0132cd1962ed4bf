"""Tests of passthrough_client.types: the short summaries shown by str() and in notebooks."""

from __future__ import annotations

import types as pytypes
from typing import Any, Dict, List

import pytest
from wire_samples import CHAT, CHUNK, COMPLETION, EMBEDDINGS, EMBEDDINGS_BASE64, MODEL, USAGE_CHUNK

from passthrough_client.types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionMessage,
    Completion,
    EmbeddingsResponse,
    Model,
)


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
        (EMBEDDINGS_BASE64, "1 embedding, dimension base64)"),
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


def test_chunk_str_shows_the_delta() -> None:
    """str() of a chunk shows each choice's role, content piece and tool call pieces."""
    expected = (
        "ChatCompletionChunk(id='chatcmpl-123', model='llama-3.1-8b')\n"
        "  [0] assistant: 'Hel'\n"
        "      tool call None('{\"ci')"
    )
    assert expected == str(ChatCompletionChunk.from_dict(CHUNK))


def test_chunk_str_shows_finish_reason_only_when_given() -> None:
    """A chunk's summary leaves out a missing role and finish reason, and shows a given one."""
    chunk = ChatCompletionChunk.from_dict(
        {"choices": [{"delta": {"content": "!"}}, {"index": 1, "finish_reason": "stop"}]}
    )

    expected = "\n".join(
        [
            "ChatCompletionChunk(id=None, model=None)",
            "  [0] '!'",
            "  [1] None (finish_reason='stop')",
        ]
    )
    assert expected == str(chunk)


def test_usage_chunk_str_shows_the_usage() -> None:
    """The last chunk of a stream with include_usage shows the token counts."""
    expected = (
        "ChatCompletionChunk(id='chatcmpl-123', model=None)\n"
        "  usage: 12 prompt + 5 completion = 17 tokens"
    )
    assert expected == str(ChatCompletionChunk.from_dict(USAGE_CHUNK))


@pytest.mark.parametrize(
    ("total", "expected"),
    [(1, "= 1 token"), (0, "= 0 tokens"), (2, "= 2 tokens")],
)
def test_usage_summary_says_token_for_one(total: int, expected: str) -> None:
    """The usage line is grammatical: "1 token", otherwise "tokens"."""
    usage = {"prompt_tokens": total, "total_tokens": total}
    text = str(EmbeddingsResponse.from_dict({"data": [], "usage": usage}))

    assert text.endswith(f"usage: {total} prompt {expected}")


def test_model_str_shows_id_and_owner() -> None:
    """str() of a model is one short line: its id and owner."""
    expected = "Model(id='llama-3.1-8b', owned_by='vllm')"
    assert expected == str(Model.from_dict(MODEL))


@pytest.mark.parametrize(
    "obj",
    [ChatCompletionChunk.from_dict(CHUNK), Model.from_dict(MODEL)],
    ids=["chunk", "model"],
)
def test_repr_pretty_of_chunk_and_model_is_the_short_summary(obj: Any) -> None:
    """A notebook shows chunks and models by their str() summary, not the full repr."""
    printed: List[str] = []

    obj._repr_pretty_(pytypes.SimpleNamespace(text=printed.append), cycle=False)

    assert ([str(obj)], False) == (printed, str(obj) == repr(obj))
