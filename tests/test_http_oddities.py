"""Odd but legal HTTP, and broken chunk framing, over raw sockets.

Interim ``1xx`` responses are skipped (RFC 9110); a malformed chunk size is a typed
error, never a raw ``ValueError``; an event inside a partly arrived HTTP chunk is
yielded as soon as its bytes are in.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
from faultutil import bounded
from scriptutil import chat, read_request

from passthrough_client import APIConnectionError, InvalidResponseError

BODY = json.dumps(
    {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
).encode()
OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
CHUNK = json.dumps(
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
).encode()


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 102 Processing\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
    ],
    ids=["100", "102", "103", "103+102"],
)
def test_interim_responses_are_skipped(serve: Any, interim: bytes) -> None:
    """The final response after interim 1xx responses is the answer."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(interim + OK_HEAD + f"Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY)
        time.sleep(0.5)

    client = serve(script)
    assert bounded(lambda: chat(client)).id == "x"


def test_interim_responses_before_a_stream_are_skipped(serve: Any) -> None:
    """A 103 before a streamed answer is skipped too."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n"
            b"Content-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            b"data: " + CHUNK + b"\n\ndata: [DONE]\n\n"
        )

    client = serve(script)
    chunks = bounded(lambda: list(chat(client, stream=True)))
    assert [c.choices[0].delta.content for c in chunks] == ["hi"]


@pytest.mark.parametrize(
    "size_line", [b"-5", b"zz", b"5 5", b"", b"0x10", b"ffffffffffffffffffffffffffff"]
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_malformed_chunk_size_is_a_typed_error(
    serve: Any, size_line: bytes, stream: bool
) -> None:
    """A negative, garbage or absurd chunk size raises APIConnectionError, never ValueError."""
    content_type = b"text/event-stream" if stream else b"application/json"

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\nhello\r\n0\r\n\r\n"
        )
        time.sleep(0.5)

    client = serve(script)
    call = (lambda: list(chat(client, stream=True))) if stream else (lambda: chat(client))
    with pytest.raises((APIConnectionError, InvalidResponseError)) as caught:
        bounded(call)
    assert "chunk" in str(caught.value) or "broke" in str(caught.value)


def test_an_event_inside_a_partly_arrived_chunk_is_yielded_at_once(serve: Any) -> None:
    """Half an HTTP chunk holding one whole event: the event arrives without the rest."""
    event = b"data: " + CHUNK + b"\n\n"
    size = len(event) * 2  # the chunk promises two events; only the first is sent
    release = threading.Event()

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + f"{size:x}\r\n".encode() + event
        )
        release.wait(10)  # stall mid-chunk until the test has seen the event
        conn.sendall(event + b"\r\n0\r\n\r\n")

    client = serve(script)

    def first() -> float:
        stream = chat(client, stream=True)
        started = time.monotonic()
        chunk = next(stream)
        waited = time.monotonic() - started
        release.set()
        assert chunk.choices[0].delta.content == "hi"
        assert [c.choices[0].delta.content for c in stream] == ["hi"]
        return waited

    # The stall lasts 10 s: only an early delivery is this quick (the bound leaves a
    # loaded machine several seconds).
    assert bounded(first) < 5.0
