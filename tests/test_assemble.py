"""Tests of passthrough_client._assemble: the rules of ``Stream.collect()``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from passthrough_client._assemble import ChatAccumulator, CompletionAccumulator
from passthrough_client.types import ChatCompletion, ChatCompletionChunk, Completion

HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def delta(index: int = 0, finish: Optional[str] = None, **fields: Any) -> Dict[str, Any]:
    """Return a chunk (as JSON) with one choice carrying ``fields`` as its delta."""
    choice = {"index": index, "delta": fields, "finish_reason": finish}
    return {**HEAD, "choices": [choice]}


def call(index: int, id: Any = None, name: Any = None, arguments: Any = None) -> Dict[str, Any]:
    """Return a tool-call delta (as JSON) as OpenAI streams them."""
    piece = {"index": index, "id": id, "type": "function" if id else None}
    return {**piece, "function": {"name": name, "arguments": arguments}}


def collect(chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Feed the chunks to a ChatAccumulator and return the result's to_dict()."""
    accumulator = ChatAccumulator()
    for chunk in chunks:
        accumulator.add(ChatCompletionChunk.from_dict(chunk))
    return accumulator.result().to_dict()


def chat(choices: List[Dict[str, Any]], **fields: Any) -> Dict[str, Any]:
    """Return the expected assembled chat completion (as JSON)."""
    head = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m"}
    return {**head, "choices": choices, **fields}


def choice(index: int = 0, finish: Optional[str] = None, **message: Any) -> Dict[str, Any]:
    """Return an expected assembled choice (as JSON); None fields are left out."""
    result = {"index": index, "message": message}
    return result if finish is None else {**result, "finish_reason": finish}


WEATHER = [
    delta(role="assistant", content=""),
    delta(tool_calls=[call(0, id="call_1", name="get_weather", arguments="")]),
    delta(tool_calls=[call(0, arguments='{"ci')]),
    delta(tool_calls=[{"index": 0, "function": {"arguments": 'ty": '}}]),
    delta(tool_calls=[{"index": 0, "id": "", "function": {"name": "", "arguments": None}}]),
    delta(tool_calls=[call(0, arguments='"Paris"}')]),
    delta(finish="tool_calls"),
]
TWO_CALLS = [
    delta(role="assistant", tool_calls=[call(0, id="a", name="f", arguments="[1")]),
    delta(role="assistant", tool_calls=[call(1, id="b", name="g", arguments="{")]),
    delta(role="assistant", tool_calls=[call(0, arguments=",2]"), call(1, arguments="}")]),
    delta(role="assistant", finish="tool_calls"),
]
TWO_CHOICES = [
    delta(index=1, role="assistant", content="B"),
    delta(index=0, role="assistant", content="A"),
    delta(index=0, content="a", finish="stop"),
    delta(index=1, content="b"),
    delta(index=1, finish="length"),
]
WEATHER_CALL: Dict[str, Any] = {"id": "call_1", "type": "function"}
WEATHER_CALL["function"] = {"name": "get_weather", "arguments": '{"city": "Paris"}'}

CASES = {
    "role repeated on every delta is not concatenated": (
        [delta(role="assistant", content="Hel"), delta(role="assistant", content="lo")],
        chat([choice(role="assistant", content="Hello")]),
    ),
    "the first non-empty role wins": (
        [delta(role="", content="a"), delta(role="assistant"), delta(role="user", content="b")],
        chat([choice(role="assistant", content="ab")]),
    ),
    "no role at all stays None": (
        [delta(content="hi", finish="stop")],
        chat([choice(content="hi", finish="stop")]),
    ),
    "usage chunk with empty choices": (
        [delta(content="hi", finish="stop"), {**HEAD, "choices": [], "usage": USAGE}],
        chat([choice(content="hi", finish="stop")], usage=USAGE),
    ),
    "last non-null usage wins, null usage is skipped": (
        [{**delta(content="a"), "usage": USAGE}, {**delta(content="b"), "usage": None}],
        chat([choice(content="ab")], usage=USAGE),
    ),
    "usage on a chunk whose choice has an empty delta": (
        [delta(content="a"), {**delta(finish="stop"), "usage": USAGE}],
        chat([choice(content="a", finish="stop")], usage=USAGE),
    ),
    "tool call split over many chunks with null and empty ids and names later": (
        WEATHER,
        chat([choice(role="assistant", tool_calls=[WEATHER_CALL], finish="tool_calls")]),
    ),
    "two tool calls interleaved": (
        TWO_CALLS,
        chat(
            [
                choice(
                    role="assistant",
                    finish="tool_calls",
                    tool_calls=[
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[1,2]"},
                        },
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{}"},
                        },
                    ],
                )
            ]
        ),
    ),
    "tool call id, type and name keep their first non-empty value": (
        [
            delta(
                tool_calls=[{"index": 0, "id": "c1", "type": "function", "function": {"name": "f"}}]
            ),
            delta(
                tool_calls=[{"index": 0, "id": "c2", "type": "other", "function": {"name": "g"}}]
            ),
        ],
        chat([choice(tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f"}}])]),
    ),
    "tool call without arguments keeps its name": (
        [delta(tool_calls=[{"index": 0, "id": "c", "function": {"name": "now"}}])],
        chat([choice(tool_calls=[{"id": "c", "function": {"name": "now"}}])]),
    ),
    "n=2 choices assembled separately and sorted by index": (
        TWO_CHOICES,
        chat(
            [
                choice(0, role="assistant", content="Aa", finish="stop"),
                choice(1, role="assistant", content="Bb", finish="length"),
            ]
        ),
    ),
    "no text at all gives content None": (
        [delta(role="assistant", content=""), delta(content=None), delta(finish="stop")],
        chat([choice(role="assistant", finish="stop")]),
    ),
    "finish_reason on a later chunk, not overwritten by later nulls or empties": (
        [delta(content="a"), delta(finish="stop"), delta(finish=""), delta()],
        chat([choice(content="a", finish="stop")]),
    ),
    "the last non-empty finish_reason wins, spelled as sent": (
        [delta(content="a", finish="eos_token"), delta(finish="STOP")],
        chat([choice(content="a", finish="STOP")]),
    ),
    "refusal pieces are concatenated": (
        [delta(role="assistant", refusal="I can"), delta(refusal="not.", finish="stop")],
        chat([choice(role="assistant", refusal="I cannot.", finish="stop")]),
    ),
    "header fields come from the first chunk that has them": (
        [
            {"choices": [], "id": "", "model": None},
            {**HEAD, "system_fingerprint": "fp_1", "choices": []},
            {**HEAD, "id": "other", "model": "other", "created": 1, "system_fingerprint": "fp_2"},
        ],
        chat([], system_fingerprint="fp_1"),
    ),
    "no chunks at all": ([], {"object": "chat.completion", "choices": []}),
}


@pytest.mark.parametrize(("chunks", "expected"), list(CASES.values()), ids=list(CASES))
def test_chat_chunks_are_assembled(chunks: List[Dict[str, Any]], expected: Dict[str, Any]) -> None:
    """Chat chunks are assembled following the collect() rules."""
    assert collect(chunks) == expected


def test_assembled_chat_completion_reads_back_as_the_same_object() -> None:
    """The assembled object's to_dict() is a chat.completion that from_dict reads back equal."""
    accumulator = ChatAccumulator()
    for chunk in WEATHER:
        accumulator.add(ChatCompletionChunk.from_dict(chunk))
    result = accumulator.result()

    assert ChatCompletion.from_dict(result.to_dict()) == result


@pytest.mark.parametrize("count", [255, 256, 257, 1000])
def test_many_pieces_reassemble_in_order(count: int) -> None:
    """Streams of hundreds of pieces keep every piece, in order, in content and arguments."""
    pieces = [f"<{i}>" for i in range(count)]
    chunks = [delta(content=piece, tool_calls=[call(0, arguments=piece)]) for piece in pieces]

    message = collect(chunks)["choices"][0]["message"]

    joined = "".join(pieces)
    assert (message["content"], message["tool_calls"][0]["function"]["arguments"]) == (
        joined,
        joined,
    )


def test_result_can_be_taken_while_adding() -> None:
    """result() does not consume the state: more chunks can be added afterwards."""
    accumulator = ChatAccumulator()
    accumulator.add(ChatCompletionChunk.from_dict(delta(content="a")))
    first = accumulator.result()
    accumulator.add(ChatCompletionChunk.from_dict(delta(content="b")))

    assert (
        first.choices[0].message.content,
        accumulator.result().choices[0].message.content,
    ) == ("a", "ab")


TEXT_HEAD = {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "m"}


def text(
    index: int = 0, piece: Optional[str] = None, finish: Optional[str] = None
) -> Dict[str, Any]:
    """Return a streamed text completion (as JSON) with one choice."""
    return {**TEXT_HEAD, "choices": [{"index": index, "text": piece, "finish_reason": finish}]}


def completion(choices: List[Dict[str, Any]], **fields: Any) -> Dict[str, Any]:
    """Return the expected assembled text completion (as JSON)."""
    return {**TEXT_HEAD, "choices": choices, **fields}


COMPLETION_CASES = {
    "text pieces are concatenated": (
        [text(piece="Once"), text(piece=" upon"), text(piece=" a time", finish="length")],
        completion([{"index": 0, "text": "Once upon a time", "finish_reason": "length"}]),
    ),
    "usage chunk with empty choices": (
        [text(piece="a", finish="stop"), {**TEXT_HEAD, "choices": [], "usage": USAGE}],
        completion([{"index": 0, "text": "a", "finish_reason": "stop"}], usage=USAGE),
    ),
    "n=2 choices sorted by index": (
        [text(1, "B"), text(0, "A"), text(1, "b", "stop"), text(0, "a", "length")],
        completion(
            [
                {"index": 0, "text": "Aa", "finish_reason": "length"},
                {"index": 1, "text": "Bb", "finish_reason": "stop"},
            ]
        ),
    ),
    "no text gives None and a later finish_reason is kept": (
        [text(piece=""), text(finish="stop"), text(finish="")],
        completion([{"index": 0, "finish_reason": "stop"}]),
    ),
    "no chunks at all": ([], {"object": "text_completion", "choices": []}),
}


@pytest.mark.parametrize(
    ("chunks", "expected"), list(COMPLETION_CASES.values()), ids=list(COMPLETION_CASES)
)
def test_completion_chunks_are_assembled(
    chunks: List[Dict[str, Any]], expected: Dict[str, Any]
) -> None:
    """Streamed text completions are assembled following the collect() rules."""
    accumulator = CompletionAccumulator()
    for chunk in chunks:
        accumulator.add(Completion.from_dict(chunk))

    assert accumulator.result().to_dict() == expected


def split(content: str, cuts: List[int]) -> List[str]:
    """Cut ``content`` at the given offsets (sorted, duplicates give empty pieces)."""
    bounds = [0, *sorted(cut % (len(content) + 1) for cut in cuts), len(content)]
    return [content[start:end] for start, end in zip(bounds, bounds[1:])]


@settings(max_examples=examples(200), deadline=None)
@given(content=st.text(), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_content_split_over_chunks_reassembles_exactly(content: str, cuts: List[int]) -> None:
    """However the content is split over chunks, the assembled content is that content."""
    chunks = [delta(role="assistant", content=piece) for piece in split(content, cuts)]

    assembled = ChatAccumulator()
    for chunk in chunks:
        assembled.add(ChatCompletionChunk.from_dict(chunk))

    assert assembled.result().choices[0].message.content == (content or None)


@settings(max_examples=examples(200), deadline=None)
@given(arguments=st.text(), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_arguments_split_over_chunks_reassemble_exactly(arguments: str, cuts: List[int]) -> None:
    """However tool-call arguments are split over chunks, they reassemble exactly."""
    pieces = split(arguments, cuts)
    chunks = [delta(tool_calls=[call(0, id="c", name="f", arguments=pieces[0])])]
    chunks += [delta(tool_calls=[call(0, arguments=piece)]) for piece in pieces[1:]]

    assembled = collect(chunks)["choices"][0]["message"]["tool_calls"][0]["function"]

    assert assembled == {"name": "f", "arguments": arguments}


@settings(max_examples=examples(100), deadline=None)
@given(text_=st.text(), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_completion_text_split_over_chunks_reassembles_exactly(text_: str, cuts: List[int]) -> None:
    """However a completion's text is split over chunks, it reassembles exactly."""
    accumulator = CompletionAccumulator()
    for piece in split(text_, cuts):
        accumulator.add(Completion.from_dict(text(piece=piece)))

    assert accumulator.result().choices[0].text == (text_ or None)
