"""Response and event size limits, and Content-Encoding decoding, over real sockets."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from typing import Any, Callable

import pytest
from faultutil import bounded
from scriptutil import chat, read_request

from passthrough_client import (
    ConfigError,
    InternalServerError,
    InvalidResponseError,
    PassthroughClient,
)
from passthrough_client.testing import FakeUpstream

REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
BODY = json.dumps(REPLY).encode()
CHUNK = json.dumps(
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
)


def reply(status: str, headers: str, body: bytes) -> Callable[[socket.socket], None]:
    """A script answering every request on the connection with the same reply."""

    def script(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(
                f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body
            )

    return script


@pytest.mark.parametrize("keyword", ["max_response_bytes", "max_event_bytes"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "1000", None])
def test_an_invalid_limit_is_a_config_error_naming_the_keyword(keyword: str, value: Any) -> None:
    """Limits are whole numbers >= 1; anything else names the keyword."""
    with pytest.raises(ConfigError, match=keyword):
        PassthroughClient(base_url="http://127.0.0.1:1", environ={}, **{keyword: value})


def test_the_client_asks_only_for_encodings_it_decodes(upstream: FakeUpstream) -> None:
    """Accept-Encoding names gzip and deflate, nothing else."""
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        bounded(lambda: chat(client))
    assert upstream.requests[-1].headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
    ],
)
def test_encoded_replies_are_decoded(serve: Any, encoding: str, encode: Any) -> None:
    """gzip, deflate and stacks of them decode to the JSON reply, and keep-alive works."""
    client = serve(reply("200 OK", f"Content-Encoding: {encoding}\r\n", encode(BODY)))
    assert bounded(lambda: chat(client)).id == "x"
    assert bounded(lambda: chat(client)).id == "x"


def test_an_unknown_encoding_is_an_invalid_response(serve: Any) -> None:
    """A Content-Encoding the client did not ask for cannot be read."""
    client = serve(reply("200 OK", "Content-Encoding: br\r\n", b"\x0b\x02\x80"))
    with pytest.raises(InvalidResponseError, match="'br'"):
        bounded(lambda: chat(client))


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_a_reply_over_max_response_bytes_is_refused(serve: Any, encoding: str) -> None:
    """A body over the limit (decoded) raises, naming the limit in bytes and the keyword."""
    body = json.dumps({**REPLY, "pad": "x" * 5000}).encode()
    headers = f"Content-Encoding: {encoding}\r\n" if encoding else ""
    data = gzip.compress(body) if encoding else body
    client = serve(reply("200 OK", headers, data), max_response_bytes=4096)
    with pytest.raises(InvalidResponseError, match=r"max_response_bytes \(4096 bytes\)"):
        bounded(lambda: chat(client))
    small = serve(reply("200 OK", headers, data), max_response_bytes=len(body))
    assert bounded(lambda: chat(small)).id == "x"  # exactly at the limit is fine


def test_a_chunked_reply_over_the_limit_is_refused(serve: Any) -> None:
    """Without a Content-Length the bytes are counted as they arrive."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"400\r\n" + b" " * 1024 + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    client = serve(script, max_response_bytes=50_000)
    with pytest.raises(InvalidResponseError, match=r"\(50000 bytes\)"):
        bounded(lambda: chat(client))


def test_an_error_body_is_cut_at_one_mib_after_decoding(serve: Any) -> None:
    """A 500 whose gzip body expands to 8 MiB gives the status error with 1 MiB of text."""
    body = gzip.compress(b"e" * (8 * 2**20))
    client = serve(reply("500 Internal Server Error", "Content-Encoding: gzip\r\n", body))
    with pytest.raises(InternalServerError) as caught:
        bounded(lambda: chat(client))
    assert len(caught.value.body) == 2**20


def stream_script(
    events: bytes, encoding: str = "", *, then: bytes = b""
) -> Callable[[socket.socket], None]:
    """A close-delimited event stream: ``events``, and ``then`` after a short pause."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
        if encoding:
            head += f"Content-Encoding: {encoding}\r\n"
        conn.sendall(head.encode() + b"\r\n" + events)
        if then:
            time.sleep(0.2)
            conn.sendall(then)

    return script


def test_a_gzip_event_stream_is_decoded(serve: Any) -> None:
    """A compressed event stream yields its events."""
    events = (f"data: {CHUNK}\n\n" * 3 + "data: [DONE]\n\n").encode()
    client = serve(stream_script(gzip.compress(events), "gzip"))
    chunks = bounded(lambda: list(chat(client, stream=True)))
    assert [c.choices[0].delta.content for c in chunks] == ["hi"] * 3


@pytest.mark.parametrize(
    "events",
    [
        b"data: " + b"x" * 5000 + b"\n\n",  # one long line
        b"data: x\n" * 1000 + b"\n",  # many lines, one event
        b": " + b"x" * 5000 + b"\n",  # a long comment line
    ],
    ids=["line", "event", "comment"],
)
def test_an_event_over_max_event_bytes_is_refused(serve: Any, events: bytes) -> None:
    """A line or event over the limit raises, naming the limit and the keyword."""
    first = f"data: {CHUNK}\n\n".encode()
    client = serve(stream_script(first, then=events), max_event_bytes=1000)
    stream = chat(client, stream=True)
    assert next(stream).choices[0].delta.content == "hi"
    started = time.monotonic()
    with pytest.raises(InvalidResponseError, match=r"max_event_bytes \(1000 bytes\)"):
        bounded(lambda: next(stream))
    assert time.monotonic() - started < 10
    with pytest.raises(StopIteration):
        next(stream)  # the stream's own verdict: it is over
