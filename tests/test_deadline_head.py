"""The call's deadline covers everything: the response head, the upload, the body, a stream.

Scripted raw-socket servers trickle or stall at each step; every call must end with
``APITimeoutError`` within the deadline plus a generous margin (the bound only shows
the deadline held; it is not a performance figure).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any, Callable

import pytest
from faultutil import bounded
from scriptutil import chat, read_request

from passthrough_client import APITimeoutError

DEADLINE = 1.0
MARGIN = 5.0  # generous: the machine is shared, and a loaded one stalls for seconds
BODY = json.dumps(
    {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
).encode()


def trickle(conn: socket.socket, data: bytes, pause: float = 0.02) -> None:
    """Send ``data`` a byte at a time, ``pause`` seconds apart (until the client leaves)."""
    for i in range(len(data)):
        conn.sendall(data[i : i + 1])
        time.sleep(pause)


def trickled_head(conn: socket.socket) -> None:
    read_request(conn)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: a\r\n" * 200
    trickle(conn, head + b"\r\n" + BODY)


def trickled_body(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(BODY) * 10}\r\n\r\n".encode()
    )
    trickle(conn, BODY * 10)


def trickled_stream(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
    trickle(conn, b": keep-alive\n" * 1000)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds until ``fn`` raises ``APITimeoutError`` (fails the test otherwise)."""
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="deadline"):
        bounded(fn, seconds=DEADLINE + MARGIN + 5)
    return time.monotonic() - started


def test_a_trickled_response_head_ends_at_the_deadline(serve: Any) -> None:
    """A status line and headers trickled a byte every 20 ms cannot hold the call."""
    client = serve(trickled_head)
    assert timed(lambda: chat(client, deadline=DEADLINE)) < DEADLINE + MARGIN


def test_an_upload_the_server_never_reads_ends_as_a_timeout(serve: Any) -> None:
    """A large body nobody reads ends as APITimeoutError at the deadline."""
    done = threading.Event()

    def never_reads(conn: socket.socket) -> None:
        conn.recv(1024)  # the start of the head, then nothing: the upload fills the buffers
        done.wait(DEADLINE + MARGIN + 2)  # until the test is over

    client = serve(never_reads)
    big = "x" * (16 * 2**20)  # far more than the socket buffers hold
    try:
        took = timed(lambda: chat(client, deadline=DEADLINE, extra_body={"pad": big}))
    finally:
        done.set()
    assert took < DEADLINE + MARGIN


def test_a_trickled_body_ends_at_the_deadline(serve: Any) -> None:
    """A body trickled slower than the deadline is cut off."""
    client = serve(trickled_body)
    assert timed(lambda: chat(client, deadline=DEADLINE)) < DEADLINE + MARGIN


def test_a_trickled_stream_ends_at_the_deadline(serve: Any) -> None:
    """Keep-alive comments trickled for ever do not outlast the deadline."""
    client = serve(trickled_stream)
    assert timed(lambda: list(chat(client, deadline=DEADLINE, stream=True))) < DEADLINE + MARGIN


def test_a_trickled_head_without_deadline_is_read_whole(serve: Any) -> None:
    """Without a deadline the same slow head is simply waited for (the fix is the deadline)."""

    def quick(conn: socket.socket) -> None:
        read_request(conn)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        trickle(conn, head + f"Content-Length: {len(BODY)}\r\n\r\n".encode(), 0.001)
        conn.sendall(BODY)

    client = serve(quick)
    assert bounded(lambda: chat(client)).choices == ()
