"""Fault injection into streamed calls over real sockets: typed errors, no hang, healthy pool.

One FakeUpstream and one client serve the whole module; after every fault the same
client must answer a normal call. Every call runs in a watchdog thread.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type

import pytest
from faultutil import bounded

from passthrough_client import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    InvalidResponseError,
    PassthroughClient,
    PassthroughError,
    StreamError,
)
from passthrough_client.testing import FakeUpstream, Reply

MODEL = "fake-model"
DONE = "data: [DONE]\n\n"


def event(text: str) -> str:
    """One SSE event carrying a chunk whose delta says ``text``."""
    delta = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
    return f"data: {json.dumps({**chunk, 'choices': [delta]})}\n\n"


A, B = event("a"), event("b")


def gzipped(*texts: str) -> List[bytes]:
    """``texts`` as one gzip stream, flushed after each so every piece is decodable."""
    packer = zlib.compressobj(wbits=31)
    pieces = [packer.compress(t.encode()) + packer.flush(zlib.Z_SYNC_FLUSH) for t in texts]
    return [*pieces, packer.flush()]


@dataclass(frozen=True)
class Fault:
    """One fault: the scripted replies, and the error (or streamed content) it must give."""

    replies: Tuple[Reply, ...]
    error: Optional[Type[PassthroughError]] = None
    content: str = "ab"
    options: Dict[str, Any] = field(default_factory=dict)


STALL = {"timeout": (2.0, 0.3)}
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"

# Without ``error`` the stream succeeds and its pieces join to ``content``.
STREAM_FAULTS: Dict[str, Fault] = {
    "reset before the headers on a reused connection": Fault(
        (Reply.drop(reset=True),), content="hello there"
    ),
    "reset before the headers on a new connection too": Fault(
        (Reply.drop(reset=True),) * 2, APIConnectionError
    ),
    "cut in the middle of an event": Fault(
        (Reply.sse([A, B[:25]], end="drop"),), APIConnectionError
    ),
    "reset in the middle of an event": Fault(
        (Reply.sse([A, B[:25]], end="reset"),), APIConnectionError
    ),
    "chunked body cut between events": Fault((Reply.sse([A], end="drop"),), APIConnectionError),
    "close-delimited body cut in the middle of an event": Fault(
        (Reply.sse([A, B[:25]], chunked=False),), APIConnectionError
    ),
    "close-delimited body ending without [DONE]": Fault((Reply.sse([A, B], chunked=False),)),
    "chunked body ending without [DONE]": Fault((Reply.sse([A, B]),)),
    "stall after the first event": Fault(
        (Reply.sse([A], end="hang"),), APITimeoutError, options=STALL
    ),
    "stall past the deadline": Fault(
        (Reply.sse([A], end="hang"),), APITimeoutError, options={"deadline": 0.6}
    ),
    "trickle past the deadline": Fault(  # 20 s of events: the deadline must cut them off
        (Reply.sse([A] * 400, delay=0.05),), APITimeoutError, options={"deadline": 0.6}
    ),
    "trickling events": Fault((Reply.sse([A, B, DONE], delay=0.05),)),
    "events split byte by byte": Fault((Reply.sse([bytes([c]) for c in (A + B + DONE).encode()]),)),
    "gzip-encoded stream": Fault(
        (Reply.sse(gzipped(A, B, DONE), headers={"Content-Encoding": "gzip"}),)
    ),
    "bytes after [DONE]": Fault((Reply.sse([A, B, DONE, "data: trailing garbage\n\n"]),)),
    "more than 64 KiB after [DONE], then a stall": Fault(
        (Reply.sse([A, B, DONE, b"x" * 100_000], end="hang"),)
    ),
    "[DONE], then a stall": Fault((Reply.sse([A, B, DONE], end="hang"),)),
    "HTML error page on 502": Fault(
        (Reply.text(502, HTML, content_type="text/html"),), InternalServerError
    ),
    "garbage instead of HTTP": Fault((Reply.raw(b"garbage\r\n\r\n"),), APIConnectionError),
    "error event": Fault(
        (Reply.sse([A, 'data: {"error": {"message": "boom"}}\n\n']),), StreamError
    ),
    "event: error": Fault((Reply.sse([A, "event: error\ndata: overloaded\n\n"]),), StreamError),
    "data that is not JSON": Fault((Reply.sse([A, "data: {not json\n\n"]),), InvalidResponseError),
    "data that is not a JSON object": Fault(
        (Reply.sse([A, "data: [1, 2]\n\n"]),), InvalidResponseError
    ),
    "deeply nested JSON": Fault(
        (Reply.sse([A, "data: " + "[" * 100_000 + "\n\n"]),), InvalidResponseError
    ),
    "chunk of the wrong shape": Fault(
        (Reply.sse([A, 'data: {"choices": 5}\n\n']),), InvalidResponseError
    ),
}


@pytest.fixture(name="upstream", scope="module")
def fixture_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(name="client", scope="module")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    # Far above any wait a fault makes on purpose, so a loaded machine never reaches it.
    config = {"base_url": upstream.url, "api_key": "k", "network": {"timeout": 10.0}}
    with PassthroughClient(config, max_retries=0, environ={}) as client:
        yield client


def stream_pieces(client: PassthroughClient, sink: List[str], **options: Any) -> None:
    """Stream a chat call, appending each chunk's content to ``sink`` as it arrives."""
    messages = [{"role": "user", "content": "hello there"}]
    with client.chat(model=MODEL, messages=messages, stream=True, **options) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                sink.append(choice.delta.content or "")


def streamed(client: PassthroughClient, **options: Any) -> str:
    """The whole streamed content (in the watchdog)."""
    sink: List[str] = []
    bounded(lambda: stream_pieces(client, sink, **options))
    return "".join(sink)


def assert_healthy(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Every scripted reply was used; the same client still answers a plain and a streamed call."""
    assert upstream.pending_replies == 0
    messages = [{"role": "user", "content": "still fine"}]
    reply = bounded(lambda: client.chat(model=MODEL, messages=messages))
    assert reply.choices[0].message.content == "still fine"
    assert streamed(client) == "hello there"


@pytest.mark.parametrize("fault", STREAM_FAULTS.values(), ids=list(STREAM_FAULTS))
def test_stream_fault_gives_its_documented_outcome_and_the_client_recovers(
    client: PassthroughClient, upstream: FakeUpstream, fault: Fault
) -> None:
    """A streamed fault gives its typed error (or the right chunks); the client works afterwards."""
    streamed(client)  # a pooled keep-alive connection for the fault to hit
    for reply in fault.replies:
        upstream.enqueue(reply)
    if fault.error is None:
        assert fault.content == streamed(client, **fault.options)
    else:
        with pytest.raises(fault.error):
            streamed(client, **fault.options)
    assert_healthy(client, upstream)


@pytest.mark.parametrize(
    "reply",
    [Reply.sse([A, B[:25]], end="drop"), Reply.sse([A, 'data: {"error": "boom"}\n\n'])],
    ids=["cut", "error event"],
)
def test_chunks_before_a_failure_are_delivered_first(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply
) -> None:
    """The chunks that arrived before a mid-stream failure are yielded before the error."""
    upstream.enqueue(reply)
    sink: List[str] = []
    with pytest.raises((APIConnectionError, StreamError)):
        bounded(lambda: stream_pieces(client, sink))
    assert sink == ["a"]
    assert_healthy(client, upstream)


def test_a_stream_error_carries_the_service_message(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """An error event becomes a ``StreamError`` with the message and the payload."""
    payload = {"error": {"message": "model overloaded", "type": "server_error"}}
    upstream.enqueue(Reply.sse([A, f"data: {json.dumps(payload)}\n\n"]))
    with pytest.raises(StreamError) as info:
        streamed(client)
    assert "model overloaded" in str(info.value)
    assert payload == info.value.body
    assert_healthy(client, upstream)


def test_deadline_cuts_a_trickling_stream_off_in_time(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A stream that would outlast the deadline is cut off within deadline + 5 s."""
    upstream.enqueue(Reply.sse([A] * 400, delay=0.05))  # would take about 20 s
    with pytest.raises(APITimeoutError):
        bounded(lambda: streamed(client, deadline=0.5), seconds=5.5)
    assert_healthy(client, upstream)
