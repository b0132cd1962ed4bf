"""Streams that go wrong, or look odd: errors, cut bodies, deadlines, unusual spellings."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passthrough_client import PassthroughClient
from passthrough_client._rules.sse import SSEDecoder
from passthrough_client.exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    StreamError,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]
DONE = "data: [DONE]\n\n"
TIMEOUT = 5.0


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        yield client


def event(payload: Any, *, sep: str = "data: ", end: str = "\n\n") -> str:
    return f"{sep}{json.dumps(payload, separators=(',', ':'))}{end}"


def delta(
    content: Optional[str] = None, finish: Optional[str] = None, *, sep: str = "data: ",
    end: str = "\n\n", **more: Any,
) -> str:  # fmt: skip
    """A chat chunk event with one choice whose delta has ``content`` (and ``more``)."""
    body = {**({"content": content} if content is not None else {}), **more}
    choice = {"index": 0, "delta": body, "finish_reason": finish}
    return event({"id": "c1", "choices": [choice]}, sep=sep, end=end)


def contents(chunks: List[Any]) -> List[Optional[str]]:
    return [c.choices[0].delta.content if c.choices else None for c in chunks]


def chat_stream(client: PassthroughClient, **kwargs: Any) -> Any:
    return client.chat(model="fake-model", messages=MESSAGES, stream=True, **kwargs)


def until_error(stream: Any) -> Tuple[List[Optional[str]], Any, float]:
    """The contents yielded before the stream raised, the error and the seconds it took."""
    seen: List[Any] = []
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        for chunk in stream:
            seen.append(chunk)
    return contents(seen), caught.value, time.monotonic() - started


# --- errors before any chunk -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, InternalServerError),
    ],
)
def test_error_status_raises_before_any_chunk(
    upstream: FakeUpstream, status: int, error: Type[APIStatusError]
) -> None:
    """A non-2xx answer raises its APIStatusError from chat() itself, with the message."""
    upstream.enqueue(Reply.json(status, {"error": {"message": "not today"}}))
    client = PassthroughClient(base_url=upstream.url, max_retries=0, environ={})
    with client, pytest.raises(error) as caught:
        chat_stream(client)
    assert (caught.value.status_code, caught.value.message) == (status, "not today")


def test_error_status_with_an_event_stream_body_raises_at_once(upstream: FakeUpstream) -> None:
    """A 500 whose body is an event stream (error event, then keep-alives) raises at once."""
    error = 'data: {"error": {"message": "overloaded"}}\n\n'
    upstream.enqueue(Reply.sse([error] + [": ping\n\n"] * 5, status=500, delay=0.2))
    client = PassthroughClient(base_url=upstream.url, max_retries=0, environ={})
    started = time.monotonic()
    with client, pytest.raises(InternalServerError) as caught:
        chat_stream(client)
    assert (caught.value.message, time.monotonic() - started < 0.6) == ("overloaded", True)


# --- errors inside the stream ------------------------------------------------------------

VLLM_ERROR = {"object": "error", "message": "boom", "type": "BadRequestError", "code": 400}
ERROR_EVENTS = {  # name: (event text, expected .body)
    "error-object": ('data: {"error": {"message": "boom"}}\n\n', {"error": {"message": "boom"}}),
    "vllm": (f"data: {json.dumps({'error': VLLM_ERROR})}\n\n", {"error": VLLM_ERROR}),
    "tgi-error-string": (
        'data:{"error":"Input validation error: boom","error_type":"validation"}\n\n',
        {"error": "Input validation error: boom", "error_type": "validation"},
    ),
    "event-error-json": ('event: error\ndata: {"message": "boom"}\n\n', {"message": "boom"}),
    "event-error-text": ("event: error\ndata: boom, said the server\n\n", "boom, said the server"),
    "llama.cpp-error-field": (
        'error: {"code":500,"message":"boom","type":"server_error"}\n\n' + DONE,
        {"code": 500, "message": "boom", "type": "server_error"},
    ),
}


@pytest.mark.parametrize(("text", "body"), list(ERROR_EVENTS.values()), ids=list(ERROR_EVENTS))
def test_error_event_raises_stream_error_after_earlier_chunks(
    client: PassthroughClient, upstream: FakeUpstream, text: str, body: Any
) -> None:
    """Chunks before an error event are yielded, then StreamError with the service's words."""
    upstream.enqueue(Reply.sse([delta("a"), delta("b"), text, delta("never"), DONE]))
    seen, error, _ = until_error(chat_stream(client))
    assert (["a", "b"], StreamError, body) == (seen, type(error), error.body)
    assert "boom" in str(error)


@pytest.mark.parametrize("value", [None, "", {}, False])
def test_falsy_error_member_is_an_ordinary_chunk(
    client: PassthroughClient, upstream: FakeUpstream, value: Any
) -> None:
    """A chunk whose "error" is null, empty or false is not an error."""
    upstream.enqueue(Reply.sse([delta("a", error=value), DONE]))
    assert chat_stream(client).collect().choices[0].message.content == "a"


def test_error_as_first_event_is_not_retried(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """An error event first in a 200 response raises StreamError after one request only."""
    upstream.enqueue(Reply.sse(['data: {"error": {"message": "overloaded"}}\n\n']), times=3)
    with pytest.raises(StreamError, match="overloaded"):
        list(chat_stream(client))
    assert len(upstream.requests) == 1


def test_stream_is_over_after_an_error(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """After a StreamError, iterating again yields nothing more."""
    upstream.enqueue(Reply.sse([delta("a"), 'data: {"error": "x"}\n\n', delta("b"), DONE]))
    stream = chat_stream(client)
    until_error(stream)
    assert list(stream) == []


# --- data that is not a chunk --------------------------------------------------------------

BAD_DATA = {  # name: (event text, expected error, words expected in its message)
    "not-json": ("data: this is not json\n\n", InvalidResponseError, "this is not json"),
    "json-list": ("data: [1, 2]\n\n", InvalidResponseError, "[1, 2]"),
    "json-string": ('data: "text"\n\n', InvalidResponseError, "text"),
    "deeply-nested": ("data: " + "[" * 100_000 + "\n\n", InvalidResponseError, "[[["),
    "wrong-shape": ('data: {"choices": 5}\n\n', InvalidResponseError, "choices"),
}


@pytest.mark.parametrize(("text", "error", "words"), list(BAD_DATA.values()), ids=list(BAD_DATA))
def test_bad_data_raises_with_a_snippet_and_closes_the_connection(
    client: PassthroughClient, upstream: FakeUpstream, text: str, error: type, words: str
) -> None:
    """Bad data raises its error (quoting it) and the server sees the connection close."""
    upstream.enqueue(Reply.sse([delta("a"), text, delta("b"), DONE], end="hang"))
    seen, raised, _ = until_error(chat_stream(client))
    assert (["a"], error, True) == (seen, type(raised), words in str(raised))
    assert upstream.wait_for_disconnect(timeout=TIMEOUT)


NOT_STREAMS = {  # name: (reply, expected error, words expected in its message)
    "json-completion": (Reply.json(200, {"choices": []}), InvalidResponseError, "application/json"),
    "json-error": (Reply.json(200, {"error": {"message": "no"}}), StreamError, "no"),
    "html": (
        Reply.text(200, "<html>Login</html>", content_type="text/html"),
        InvalidResponseError,
        "Login",
    ),
}


@pytest.mark.parametrize(
    ("reply", "error", "words"), list(NOT_STREAMS.values()), ids=list(NOT_STREAMS)
)
def test_body_that_is_not_an_event_stream_raises(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply, error: type, words: str
) -> None:
    """A 200 answer without a single event, e.g. JSON, raises instead of ending empty."""
    upstream.enqueue(reply)
    with pytest.raises(error, match=words):
        list(chat_stream(client))


# --- cut streams ----------------------------------------------------------------------------

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
EVENT = delta("a").encode()
CUTS = {
    "close-delimited-mid-line": Reply.sse([delta("a"), 'data: {"choi'], chunked=False),
    "close-delimited-before-blank-line": Reply.sse([delta("a"), "data: {}\n"], chunked=False),
    "chunked-dropped-mid-event": Reply.sse([delta("a"), 'data: {"choi'], end="drop"),
    "chunked-dropped-between-events": Reply.sse([delta("a")], end="drop"),
    # A reset may discard data not read yet: "a" goes out well before it.
    "reset": Reply.sse([delta("a"), ": pad\n\n"], end="reset", delay=0.2),
    "raw-truncated-chunk": Reply.raw(
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n40\r\ndata: {" % (len(EVENT), EVENT)
    ),
    "short-content-length": Reply.raw(HEAD + b"Content-Length: 999\r\n\r\n" + EVENT),
}


@pytest.mark.parametrize("reply", list(CUTS.values()), ids=list(CUTS))
def test_cut_stream_raises_api_connection_error(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply
) -> None:
    """A body cut before its end raises APIConnectionError naming the service, never raw."""
    upstream.enqueue(reply)
    seen, error, _ = until_error(chat_stream(client))
    assert (["a"], APIConnectionError) == (seen, type(error))
    assert f"127.0.0.1:{upstream.port}" in str(error)


# --- deadlines and timeouts -----------------------------------------------------------------


def test_deadline_cuts_off_a_trickling_stream(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A body trickled a byte at a time (no read ever times out) stops at the deadline."""
    # A byte every 5 ms: the first event by 0.5 s, the whole body only after about 18 s.
    body = (delta("a") * 40).encode()
    upstream.enqueue(Reply.trickle(body, 0.005, content_type="text/event-stream"))
    seen, error, elapsed = until_error(chat_stream(client, timeout=(5, 5), deadline=3.0))
    assert (APITimeoutError, True) == (type(error), "deadline" in str(error))
    assert seen and elapsed < 3.0 + 5.0
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_deadline_between_events_raises_instead_of_ending(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool
) -> None:
    """A deadline passing while the server waits between events is APITimeoutError."""
    # "a" and "b" at once, "c" only at 5 s: the deadline at 2 s falls between them with
    # seconds to spare either way. Half a second was once too little for an event due
    # before the deadline on CI, where two suites and pip share two cores.
    pieces = [delta("a") + delta("b"), delta("c"), DONE]
    reply = Reply.sse(pieces, chunked=chunked, delay=5.0)
    upstream.enqueue(dataclasses.replace(reply, delay_first=False))
    seen, error, elapsed = until_error(chat_stream(client, deadline=2.0))
    assert (["a", "b"], APITimeoutError) == (seen, type(error))
    assert elapsed < 2.0 + 1.5


def test_read_timeout_on_a_stalled_stream(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A server that stops sending mid-stream trips the read timeout: APITimeoutError."""
    upstream.enqueue(Reply.sse([delta("a")], end="hang"))
    seen, error, elapsed = until_error(chat_stream(client, timeout=(5, 2.0)))
    assert (["a"], APITimeoutError) == (seen, type(error))
    assert elapsed < 2.0 + 5.0  # the server never sends more


def test_close_from_another_thread_ends_a_waiting_iteration(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """close() called while another thread waits for data ends that thread's iteration."""
    upstream.enqueue(Reply.sse([delta("a")], end="hang"))
    stream = chat_stream(client)
    next(stream)
    outcome: List[Any] = []
    reader = threading.Thread(target=lambda: outcome.append(list(stream)), daemon=True)
    reader.start()
    time.sleep(0.2)  # let it block in the read
    closer = threading.Thread(target=stream.close, daemon=True)  # must not block either
    closer.start()
    closer.join(TIMEOUT)
    reader.join(TIMEOUT)
    assert (closer.is_alive(), outcome) == (False, [[]])
    assert upstream.wait_for_disconnect(timeout=TIMEOUT)


# --- unusual but valid streams: what real services send -------------------------------

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
USAGE_CHUNK = event({"id": "c1", "choices": [], "usage": USAGE})
USAGE_DELTA = event({"choices": [{"index": 0, "delta": {}}], "usage": USAGE})
MULTI_LINE = 'data: {"choices":[{"index":0,\ndata: "delta":{"content":"a"}}]}\n\n'
FORMATS: Dict[str, List[Union[str, bytes]]] = {
    "lf": [delta("a"), delta("b"), DONE],
    "crlf": [delta("a", end="\r\n\r\n"), delta("b", end="\r\n\r\n"), "data: [DONE]\r\n\r\n"],
    "cr": [delta("a", end="\r\r"), delta("b", end="\r\r"), "data: [DONE]\r\r"],
    "no-space-after-colon": [delta("a", sep="data:"), delta("b", sep="data:"), "data:[DONE]\n\n"],
    "comments-and-keep-alives": [": ping\n\n", delta("a"), ":\n\n", delta("b"), ": bye\n", DONE],
    "multi-line-data": [MULTI_LINE, delta("b"), DONE],
    "byte-order-mark": [b"\xef\xbb\xbf" + delta("a").encode(), delta("b"), DONE],
    "id-event-retry-fields": ["id: 1\nretry: 100\nevent: message\n" + delta("a"), delta("b"), DONE],
    "no-done": [delta("a"), delta("b")],
    "done-without-blank-line": [delta("a"), delta("b"), "data: [DONE]\n"],
    "done-without-line-ending": [delta("a"), delta("b"), "data: [DONE]"],
    "last-event-without-blank-line": [delta("a"), delta("b", end="\n")],
    "all-in-one-read": [delta("a") + delta("b") + DONE],
    "role-on-every-delta": [delta("a", role="assistant"), delta("b", role="assistant"), DONE],
    "usage-chunk-with-empty-choices": [delta("a"), delta("b"), USAGE_CHUNK, DONE],
    "usage-with-empty-delta": [delta("a"), delta("b", "stop"), USAGE_DELTA, DONE],
    "events-after-done-ignored": [delta("a"), delta("b"), DONE + delta("c")],
}


@pytest.mark.parametrize("pieces", list(FORMATS.values()), ids=list(FORMATS))
def test_stream_format_variants_give_the_same_text(
    client: PassthroughClient, upstream: FakeUpstream, pieces: List[Union[str, bytes]]
) -> None:
    """Every spelling of the same stream yields the chunks "a" and "b" (and maybe usage)."""
    upstream.enqueue(Reply.sse(pieces))
    stream = chat_stream(client)
    texts = [t for t in contents(list(stream)) if t]
    assert (texts, stream.collect().choices[0].message.content) == (["a", "b"], "ab")


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_body_ending_cleanly_without_done_just_ends(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool
) -> None:
    """A body that ends after a whole event without [DONE] ends the stream normally."""
    upstream.enqueue(Reply.sse([delta("a"), delta("b", finish="stop")], chunked=chunked))
    result = chat_stream(client).collect()
    assert (result.choices[0].message.content, result.choices[0].finish_reason) == ("ab", "stop")


def test_usage_arriving_on_a_chunk_with_empty_choices_is_collected(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """The usage of a final chunk with choices: [] ends up in collect()'s usage."""
    upstream.enqueue(Reply.sse(FORMATS["usage-chunk-with-empty-choices"]))
    stream = chat_stream(client)
    chunks = list(stream)
    assert (chunks[-1].choices, stream.collect().usage.total_tokens) == ((), 5)


# --- the decoder's additions for real servers ------------------------------------------


@pytest.mark.parametrize(
    ("body", "data"),
    [
        (b"data: a", "a"),
        (b"data: a\n", "a"),
        (b"data: a\ndata: b", "a\nb"),
        (b"data: a\r", "a"),
        (b": only a comment", None),
        (b"event: x\n", None),
        (b"", None),
    ],
)
def test_flush_dispatches_the_unfinished_event(body: bytes, data: Optional[str]) -> None:
    """flush() completes the last line and dispatches the pending event, if it has data."""
    decoder = SSEDecoder()
    assert decoder.feed(body) == []
    flushed = decoder.flush()
    assert (data, False) == (flushed and flushed.data, decoder.pending)


def test_error_field_reads_as_an_error_event() -> None:
    """An ``error:`` line (llama.cpp before late 2025) is an error event with that data."""
    decoder = SSEDecoder()
    events = decoder.feed(b'error: {"message":"x"}\n\ndata: [DONE]\n\n')
    assert [(e.event, e.data) for e in events] == [
        ("error", '{"message":"x"}'),
        ("message", "[DONE]"),
    ]


PIECES = [b"data:", b"data: x", b"\n", b"\r", b"\r\n", b": c", b"event: e", b"error: z", b"id: 1"]
BODIES = st.lists(st.sampled_from([*PIECES, b"\xef\xbb\xbf", b"\xef\xbb", b" "]), max_size=12)


@given(body=BODIES.map(b"".join))
def test_flush_is_like_ending_the_body_with_a_blank_line(body: bytes) -> None:
    """Events of feed(body) plus flush() are those of feed(body + blank line), except that
    an unfinished last event with empty data is ignored."""
    decoder = SSEDecoder()
    events = decoder.feed(body)
    flushed = decoder.flush()
    full = SSEDecoder().feed(body + b"\n\n")
    expected = [e for i, e in enumerate(full) if i < len(events) or e.data]
    assert events + ([flushed] if flushed else []) == expected
