"""Streamed chat and completions through the real client: the Stream API and delivery."""

from __future__ import annotations

import dataclasses
import json
import zlib
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest
import requests

from passthrough_client import ChatCompletionChunk, Completion, PassthroughClient
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "the quick brown fox"}]
TIMEOUT = 5.0


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        yield client


def event(payload: Any, *, sep: str = "data: ", end: str = "\n\n") -> str:
    """One SSE event carrying ``payload`` as compact JSON."""
    return f"{sep}{json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}{end}"


def delta(
    content: Optional[str] = None,
    finish: Optional[str] = None,
    *,
    sep: str = "data: ",
    end: str = "\n\n",
    **more: Any,
) -> str:
    """A chat chunk event with one choice whose delta has ``content`` (and ``more``)."""
    body = {**({"content": content} if content is not None else {}), **more}
    choice = {"index": 0, "delta": body, "finish_reason": finish}
    chunk = {"id": "c1", "object": "chat.completion.chunk", "choices": [choice]}
    return event(chunk, sep=sep, end=end)


def contents(chunks: Sequence[ChatCompletionChunk]) -> List[Optional[str]]:
    return [c.choices[0].delta.content if c.choices else None for c in chunks]


def chat_stream(client: PassthroughClient, **kwargs: Any) -> Any:
    return client.chat(model="fake-model", messages=MESSAGES, stream=True, **kwargs)


def immediate(reply: Reply) -> Reply:
    """``reply`` with its ``delay`` only between pieces, not before the first."""
    return dataclasses.replace(reply, delay_first=False)


# --- the Stream API -------------------------------------------------------------------


def test_chat_stream_yields_typed_chunks_word_by_word(client: PassthroughClient) -> None:
    """chat(stream=True) yields ChatCompletionChunk objects whose deltas join to the text."""
    chunks = list(chat_stream(client))
    assert {ChatCompletionChunk} == {type(c) for c in chunks}
    assert "".join(c or "" for c in contents(chunks)) == "the quick brown fox"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_completions_stream_yields_completion_chunks(client: PassthroughClient) -> None:
    """completions(stream=True) yields Completion objects whose texts join to the prompt."""
    chunks = list(client.completions(model="fake-model", prompt="one two three", stream=True))
    assert {Completion} == {type(c) for c in chunks}
    assert "".join(c.choices[0].text or "" for c in chunks) == "one two three"


def test_stream_request_asks_for_an_event_stream(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A streamed call sends Accept: text/event-stream and "stream": true."""
    list(chat_stream(client))
    request = upstream.requests[-1]
    assert (request.headers.get("Accept"), request.json["stream"]) == ("text/event-stream", True)


def test_response_is_the_http_response(client: PassthroughClient) -> None:
    """.response is the requests.Response the events are read from."""
    with chat_stream(client) as stream:
        assert isinstance(stream.response, requests.Response)
        assert stream.response.headers["Content-Type"] == "text/event-stream"


def test_collect_assembles_text_finish_reason_and_usage(client: PassthroughClient) -> None:
    """collect() returns one ChatCompletion with the text, finish reason and usage."""
    stream = chat_stream(client, stream_options={"include_usage": True})
    result = stream.collect()
    choice = result.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "the quick brown fox")
    assert (choice.finish_reason, result.usage.total_tokens) == ("stop", 8)


def test_collect_includes_chunks_already_iterated(client: PassthroughClient) -> None:
    """collect() after reading two chunks still assembles the whole text."""
    stream = chat_stream(client)
    next(stream)
    next(stream)
    assert stream.collect().choices[0].message.content == "the quick brown fox"


def test_collect_after_close_holds_exactly_the_chunks_iterated(client: PassthroughClient) -> None:
    """Chunks read from the network but not handed out yet are not in collect() after close().

    One read brings every chunk of this reply; only the two taken by ``next()`` count.
    """
    stream = chat_stream(client)
    taken = [next(stream).choices[0].delta.content for _ in range(2)]
    stream.close()
    content = stream.collect().choices[0].message.content
    assert content == "".join(piece or "" for piece in taken)
    assert content != "the quick brown fox"


def test_collect_merges_tool_call_deltas_by_index(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Tool-call deltas merge by index: first id and name kept, argument pieces joined."""
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    later = {"index": 0, "id": None, "function": {"name": None, "arguments": '{"a": 1}'}}
    second = {"index": 1, "id": "call_2", "function": {"name": "g", "arguments": "{}"}}
    upstream.enqueue(
        Reply.sse(
            [
                delta(role="assistant", tool_calls=[first]),
                delta(tool_calls=[later, second]),
                delta(finish="tool_calls"),
                "data: [DONE]\n\n",
            ]
        )
    )
    message = chat_stream(client).collect().choices[0].message
    calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls]
    assert calls == [("call_1", "f", '{"a": 1}'), ("call_2", "g", "{}")]


def test_iteration_after_the_end_stops_again(client: PassthroughClient) -> None:
    """A finished stream keeps raising StopIteration and collect() still works."""
    stream = chat_stream(client)
    list(stream)
    assert list(stream) == []
    assert stream.collect().choices[0].message.content == "the quick brown fox"


# --- delivery as the bytes arrive -------------------------------------------------------


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_first_chunk_arrives_while_the_server_holds_the_rest(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool
) -> None:
    """The first event is yielded while the server has written nothing after it."""
    pieces = [delta("first"), delta("second"), "data: [DONE]\n\n"]
    # 10 s before the second event (the server stops when the client leaves): far more
    # than even a loaded machine takes between the first event and the check.
    upstream.enqueue(immediate(Reply.sse(pieces, chunked=chunked, delay=10.0)))
    with chat_stream(client) as stream:
        assert next(stream).choices[0].delta.content == "first"
        assert upstream.events_sent == 1


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_utf8_character_split_across_reads(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool
) -> None:
    """A multi-byte character whose bytes arrive in two reads is decoded whole."""
    data = delta("prix: 5 € 😀").encode()
    cut = data.index("€".encode()) + 1
    cut2 = data.index("😀".encode()) + 2
    pieces = [data[:cut], data[cut:cut2], data[cut2:], b"data: [DONE]\n\n"]
    upstream.enqueue(Reply.sse(pieces, chunked=chunked, delay=0.05))
    assert contents(list(chat_stream(client))) == ["prix: 5 € 😀"]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_gzip_stream_is_decoded_event_by_event(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool
) -> None:
    """A gzip-encoded stream (flushed per event) still yields each event as it arrives."""
    gz = zlib.compressobj(wbits=31)
    pieces = [gz.compress(delta(t).encode()) + gz.flush(zlib.Z_SYNC_FLUSH) for t in "ab"]
    pieces.append(gz.compress(b"data: [DONE]\n\n") + gz.flush())
    reply = Reply.sse(pieces, chunked=chunked, delay=10.0, headers={"Content-Encoding": "gzip"})
    upstream.enqueue(immediate(reply))
    with chat_stream(client) as stream:
        assert (next(stream).choices[0].delta.content, upstream.events_sent) == ("a", 1)


def test_crlf_split_across_reads_is_one_line_ending(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """CR at the end of one read and LF at the start of the next end one line."""
    body = delta("a", end="\r\n\r\n")
    pieces = [body[:-3], "\r", "\n\r\n", delta("b"), "data: [DONE]\n\n"]
    upstream.enqueue(Reply.sse(pieces, delay=0.02))
    assert contents(list(chat_stream(client))) == ["a", "b"]


# --- byte streams as real inference servers send them -------------------------------------
# Built from their public code and issue reports: field order, JSON spacing, the
# ``data:`` spelling, vendor fields and the ending are each server's own.

COMPACT = (",", ":")
SPACED = (", ", ": ")  # Python's json.dumps default, as Llama Stack's server sends


def transcript(
    envelope: Dict[str, Any],
    bodies: List[Dict[str, Any]],
    *,
    seps: Any = COMPACT,
    prefix: str = "data: ",
    done: bool = True,
    body_first: bool = False,
) -> List[str]:
    """The SSE text of a stream: one ``data`` event per body, then ``[DONE]`` if sent."""
    objects = [{**b, **envelope} if body_first else {**envelope, **b} for b in bodies]
    events = [f"{prefix}{json.dumps(o, separators=seps)}\n\n" for o in objects]
    return events + ([f"{prefix}[DONE]\n\n"] if done else [])


def choice(d: Dict[str, Any], finish: Optional[str] = None) -> Dict[str, Any]:
    return {"choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]}


def call(index: int, arguments: str, **first: Any) -> Dict[str, Any]:
    """A tool-call delta; ``first`` holds the id, type and name of its first piece."""
    function = {"name": first.pop("name"), "arguments": arguments} if first else {}
    return {"index": index, **first, "function": function or {"arguments": arguments}}


VLLM = {"id": "chatcmpl-8c2d5e1f0a9b4c7d", "object": "chat.completion.chunk"}
VLLM.update({"created": 1730000000, "model": "meta-llama/Llama-3.1-8B-Instruct"})
VLLM_CHAT = [
    choice({"role": "assistant", "content": ""}),
    choice({"content": "Paris"}),
    choice({"content": " is the capital."}),
    {**choice({"content": ""}, "stop"), "stop_reason": None},
    {"choices": [], "usage": {"prompt_tokens": 14, "total_tokens": 20, "completion_tokens": 6}},
]
NULL_REST = {"id": None, "type": None, "name": None}  # later deltas as some servers send them
VLLM_TOOLS = [
    choice({"role": "assistant", "content": ""}),
    choice({"tool_calls": [call(0, "", id="chatcmpl-tool-4b8e", type="function", name="f")]}),
    choice({"tool_calls": [call(0, '{"city": "', **NULL_REST)]}),
    choice({"tool_calls": [call(0, 'Paris"}', **NULL_REST)]}),
    choice({"content": ""}, "tool_calls"),
]
VLLM_TEXT = {"id": "cmpl-0f9a8b7c", "object": "text_completion", "created": 1730000000}
VLLM_COMPLETION = [
    {"choices": [{"index": 0, "text": " Paris", "logprobs": None, "finish_reason": None}]},
    {"choices": [{"index": 0, "text": ".", "logprobs": None, "finish_reason": "length"}]},
    {"choices": [], "usage": {"prompt_tokens": 7, "total_tokens": 9, "completion_tokens": 2}},
]
OLLAMA = {"id": "chatcmpl-572", "object": "chat.completion.chunk", "created": 1735000000}
OLLAMA.update({"model": "llama3.2", "system_fingerprint": "fp_ollama"})
OLLAMA_CHAT = [
    choice({"role": "assistant", "content": "The"}),
    choice({"role": "assistant", "content": " sky"}),
    choice({"role": "assistant", "content": " is blue."}),
    choice({"role": "assistant", "content": ""}, "stop"),
    {"choices": [], "usage": {"prompt_tokens": 26, "completion_tokens": 5, "total_tokens": 31}},
]
OLLAMA_TOOLS = [  # the whole call in one delta
    choice(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [call(0, '{"city":"Paris"}', id="call_k3j2", type="function", name="f")],
        }
    ),
    choice({"role": "assistant", "content": ""}, "tool_calls"),
]
LLAMA_CPP = {"created": 1740866276, "id": "chatcmpl-eWACYYovPVwZ", "model": "gpt-3.5-turbo"}
LLAMA_CPP.update({"system_fingerprint": "b4764-7ad0779f", "object": "chat.completion.chunk"})
TIMINGS = {"prompt_n": 43, "prompt_ms": 246.082, "predicted_n": 3, "predicted_per_second": 64.1}
LLAMA_CPP_CHAT = [
    choice({"role": "assistant", "content": None}),
    choice({"content": "Hi"}),
    choice({"content": " there!"}),
    {
        **choice({}, "stop"),
        "usage": {"completion_tokens": 3, "prompt_tokens": 43, "total_tokens": 46},
        "timings": TIMINGS,
    },
]
TGI = {"object": "chat.completion.chunk", "id": "", "created": 1718000000}
TGI.update({"model": "meta-llama/Meta-Llama-3-8B-Instruct", "system_fingerprint": "2.0.4-native"})
TGI_CHAT = [  # TGI before 2.1.1: "data:" without a space, eos_token, no [DONE]
    choice({"role": "assistant", "content": "Deep"}),
    choice({"role": "assistant", "content": " learning"}),
    choice({"role": "assistant", "content": "."}, "eos_token"),
]
OPENAI = {"id": "chatcmpl-AbC123", "object": "chat.completion.chunk", "created": 1731000000}
OPENAI.update({"model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_0ba0d124f1"})
OPENAI_DETAILS = {"prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}}
OPENAI_TOOLS = [  # parallel calls, id/type/name only on each call's first delta
    {**choice({"role": "assistant", "content": None, "refusal": None}), "usage": None},
    choice({"tool_calls": [call(0, "", id="call_Pa1", type="function", name="get_weather")]}),
    choice({"tool_calls": [call(0, '{"city": "Paris"}')]}),
    choice({"tool_calls": [call(1, "", id="call_Be2", type="function", name="get_weather")]}),
    choice({"tool_calls": [call(1, '{"city": ')]}),
    choice({"tool_calls": [call(1, '"Berlin"}')]}),
    {**choice({}, "tool_calls"), "usage": None},
    {"choices": [], "usage": {"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120}}
    | OPENAI_DETAILS,
]
LLAMA_STACK = {"id": "chatcmpl-5f6c2a", "created": 1740000000, "object": "chat.completion.chunk"}
STACK_DELTA = {"refusal": None, "role": "assistant", "tool_calls": None}
LLAMA_STACK_CHAT = [  # Llama Stack's own server never sends [DONE]
    {**choice({"content": "Hello", **STACK_DELTA}), "usage": None},
    {**choice({"content": " world", **STACK_DELTA}), "usage": None},
    {**choice({"content": "", **STACK_DELTA}, "stop"), "usage": None},
]
PARIS = ("f", '{"city": "Paris"}')
SERVERS = {  # name: (pieces, (role, text, finish_reason, total_tokens, tool calls))
    "vllm": (transcript(VLLM, VLLM_CHAT), ("assistant", "Paris is the capital.", "stop", 20, [])),
    "vllm-tools": (transcript(VLLM, VLLM_TOOLS), ("assistant", None, "tool_calls", None, [PARIS])),
    "vllm-completions": (
        transcript(VLLM_TEXT, VLLM_COMPLETION),
        (None, " Paris.", "length", 9, []),
    ),
    "ollama": (transcript(OLLAMA, OLLAMA_CHAT), ("assistant", "The sky is blue.", "stop", 31, [])),
    "ollama-tools": (
        transcript(OLLAMA, OLLAMA_TOOLS),
        ("assistant", None, "tool_calls", None, [("f", '{"city":"Paris"}')]),
    ),
    "llama.cpp": (
        transcript(LLAMA_CPP, LLAMA_CPP_CHAT, body_first=True),
        ("assistant", "Hi there!", "stop", 46, []),
    ),
    "tgi-2.0": (
        transcript(TGI, TGI_CHAT, prefix="data:", done=False),
        ("assistant", "Deep learning.", "eos_token", None, []),
    ),
    "openai-tools": (
        transcript(OPENAI, OPENAI_TOOLS),
        (
            "assistant",
            None,
            "tool_calls",
            120,
            [("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Berlin"}')],
        ),
    ),
    "llama-stack": (
        transcript(LLAMA_STACK, LLAMA_STACK_CHAT, seps=SPACED, done=False),
        ("assistant", "Hello world", "stop", None, []),
    ),
}


def cut_every(pieces: List[str], size: int = 37) -> List[bytes]:
    """The stream's bytes in reads of ``size`` bytes, cutting through lines and JSON."""
    data = "".join(pieces).encode()
    return [data[i : i + size] for i in range(0, len(data), size)]


SPLITS = {
    "per-event": lambda pieces: pieces,
    "one-read": lambda pieces: ["".join(pieces)],
    "37-byte-reads": cut_every,
}


def summary(result: Any) -> Any:
    choice0 = result.choices[0]
    usage = result.usage.total_tokens if result.usage else None
    if isinstance(result, Completion):
        return (None, choice0.text, choice0.finish_reason, usage, [])
    message = choice0.message
    calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or ()]
    return (message.role, message.content, choice0.finish_reason, usage, calls)


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("server", list(SERVERS))
def test_real_server_streams_collect_correctly(
    client: PassthroughClient, upstream: FakeUpstream, server: str, split: str
) -> None:
    """Each server's stream, however it is cut into reads, yields every chunk and collects."""
    pieces, expected = SERVERS[server]
    upstream.enqueue(Reply.sse(SPLITS[split](pieces)))
    if server.endswith("completions"):
        stream: Any = client.completions(model="m", prompt="The capital:", stream=True)
    else:
        stream = chat_stream(client)
    chunks = list(stream)
    assert len([p for p in pieces if "[DONE]" not in p]) == len(chunks)
    assert expected == summary(stream.collect())


def test_vendor_fields_stay_on_the_chunks(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """llama.cpp's ``timings`` on the last chunk is kept in that chunk's to_dict()."""
    upstream.enqueue(Reply.sse(SERVERS["llama.cpp"][0]))
    chunks = list(chat_stream(client))
    assert chunks[-1].to_dict()["timings"] == TIMINGS


def test_openai_tool_call_ids_come_from_the_first_delta(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Tool calls whose later deltas carry no id keep the id of their first delta."""
    upstream.enqueue(Reply.sse(SERVERS["openai-tools"][0]))
    calls = chat_stream(client).collect().choices[0].message.tool_calls
    assert [(c.id, c.type) for c in calls] == [("call_Pa1", "function"), ("call_Be2", "function")]
