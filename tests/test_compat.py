"""``_compat``: reading what has arrived and unblocking a read, on urllib3 1.26 and 2.x.

Each test talks to a real server on 127.0.0.1 through a plain urllib3 pool (the way
requests opens a streamed response: ``preload_content=False``), so the same assertions
run against whichever urllib3 the stack installed.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from typing import Any, Iterator, List, Optional, Union

import pytest
import urllib3
from netutil import Pki
from urllib3.exceptions import ProtocolError

from passthrough_client._net.compat import (
    read_available,
    read_decoded,
    read_rest,
    shutdown_response,
)
from passthrough_client.testing import FakeUpstream, Reply

WAIT = 5.0  # bound on every wait in these tests

Step = Union[bytes, threading.Event]


class ScriptedServer:
    """Answers one request on 127.0.0.1 with ``steps``: bytes are sent, an Event is
    waited for (so the test decides when the next bytes go out); then it closes."""

    def __init__(self, steps: List[Step]) -> None:
        self.steps = steps
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(WAIT)
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            for step in self.steps:
                if isinstance(step, threading.Event):
                    step.wait(WAIT)
                else:
                    conn.sendall(step)

    def stop(self) -> None:
        for step in self.steps:
            if isinstance(step, threading.Event):
                step.set()
        self.listener.close()
        self.thread.join(WAIT)


@pytest.fixture(name="pool")
def fixture_pool() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=WAIT, read=WAIT))
    yield pool
    pool.clear()


def _open(pool: urllib3.PoolManager, url: str) -> Any:
    return pool.urlopen("GET", url, preload_content=False, decode_content=False)


def _timed_read(raw: Any, amount: int = 65536) -> tuple[bytes, float]:
    started = time.monotonic()
    data = read_available(raw, amount)
    return data, time.monotonic() - started


HEADS = {
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    "close-delimited": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
}
FIRST = {"chunked": b"a\r\nhello", "content-length": b"hello", "close-delimited": b"hello"}
REST = {"chunked": b"world\r\n0\r\n\r\n", "content-length": b"world", "close-delimited": b"world"}


@pytest.mark.parametrize("framing", sorted(HEADS))
def test_read_available_returns_what_arrived_without_waiting_for_more(
    pool: urllib3.PoolManager, framing: str
) -> None:
    """Half of a chunk (or of a body) is returned at once; the rest later; then b""."""
    release = threading.Event()
    server = ScriptedServer([HEADS[framing] + FIRST[framing], release, REST[framing]])
    try:
        raw = _open(pool, server.url)
        first, took = _timed_read(raw)
        release.set()
        rest = b""
        while len(rest) < 5:
            data = read_available(raw, 65536)
            assert data, "the body ended early"
            rest += data
        end = read_available(raw, 65536)
    finally:
        server.stop()
    assert (first, took < WAIT / 2, rest, end) == (b"hello", True, b"world", b"")


def test_read_available_respects_the_amount(pool: urllib3.PoolManager) -> None:
    """No more than ``amount`` bytes per call, even from one chunk."""
    server = ScriptedServer([HEADS["chunked"] + b"a\r\nhelloworld\r\n0\r\n\r\n"])
    try:
        raw = _open(pool, server.url)
        pieces = [read_available(raw, 4) for _ in range(4)]
    finally:
        server.stop()
    assert pieces == [b"hell", b"owor", b"ld", b""]


def test_body_cut_short_of_its_content_length_is_an_error(pool: urllib3.PoolManager) -> None:
    """A close before ``Content-Length`` bytes raises ProtocolError, not a quiet end."""
    server = ScriptedServer([HEADS["content-length"] + b"hello"])
    try:
        raw = _open(pool, server.url)
        first = read_available(raw, 65536)
        with pytest.raises(ProtocolError):
            read_available(raw, 65536)
    finally:
        server.stop()
    assert first == b"hello"


def test_read_rest_reads_a_content_length_body_whole_as_it_arrives(
    pool: urllib3.PoolManager,
) -> None:
    """The whole body in one read, also when it arrives in two parts; then the end."""
    release = threading.Event()
    server = ScriptedServer([HEADS["content-length"] + b"hello", release, b"world"])
    timer = threading.Timer(0.1, release.set)
    try:
        raw = _open(pool, server.url)
        timer.start()
        whole = read_rest(raw, 10)
        end = read_available(raw, 65536)
    finally:
        timer.cancel()
        server.stop()
    assert (whole, end, raw.isclosed()) == (b"helloworld", b"", True)


@pytest.mark.parametrize("framing", ["chunked", "close-delimited", "larger"])
def test_read_rest_leaves_an_unknown_or_larger_length_alone(
    pool: urllib3.PoolManager, framing: str
) -> None:
    """Chunked, close-delimited and longer-than-``most`` bodies: ``None``, nothing read."""
    head = HEADS["content-length" if framing == "larger" else framing]
    body = FIRST.get(framing, b"hello") + REST.get(framing, b"world")
    server = ScriptedServer([head + body])
    try:
        raw = _open(pool, server.url)
        skipped = read_rest(raw, 9)
        rest = b""
        while True:
            data = read_available(raw, 65536)
            if not data:
                break
            rest += data
    finally:
        server.stop()
    assert (skipped, rest) == (None, b"helloworld")


def test_read_rest_of_a_body_cut_short_is_an_error(pool: urllib3.PoolManager) -> None:
    """A close before ``Content-Length`` bytes raises ProtocolError, as read_available does."""
    server = ScriptedServer([HEADS["content-length"] + b"hello"])
    try:
        raw = _open(pool, server.url)
        with pytest.raises(ProtocolError, match="IncompleteRead"):
            read_rest(raw, 10)
    finally:
        server.stop()


def test_read_available_does_not_decode_and_read_decoded_does(
    pool: urllib3.PoolManager,
) -> None:
    """Content-Encoding stays on the raw bytes; ``read_decoded`` removes it."""
    body = gzip.compress(b"data: hello\n\n" * 50)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
    servers = [ScriptedServer([head + body]), ScriptedServer([head + body])]
    try:
        raw = _open(pool, servers[0].url)
        undecoded = b"".join(iter(lambda: read_available(raw, 65536), b""))
        raw = _open(pool, servers[1].url)
        decoded = b"".join(iter(lambda: read_decoded(raw, 65536), b""))
    finally:
        for server in servers:
            server.stop()
    assert (undecoded, decoded) == (body, b"data: hello\n\n" * 50)


def _blocked_read_is_released(pool: urllib3.PoolManager, url: str) -> tuple[bool, float]:
    """Start a read that blocks (the server sends a body byte per 30 s, the read timeout
    is longer than the test waits), shut the response down from this thread; return
    whether the read ended, and how long that took."""
    raw = _open(pool, url)
    outcome: List[Optional[BaseException]] = []

    def reader() -> None:
        try:
            read_available(raw, 65536)
            outcome.append(None)
        except Exception as exc:  # the read may end or fail: either releases it
            outcome.append(exc)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.3)  # let the reader block in recv
    started = time.monotonic()
    shutdown_response(raw)
    thread.join(WAIT)
    return not thread.is_alive() and len(outcome) == 1, time.monotonic() - started


def test_shutdown_response_releases_a_blocked_read() -> None:
    """A read waiting on a trickling server returns soon after shutdown_response."""
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=WAIT, read=WAIT * 4))
    with FakeUpstream() as upstream:
        upstream.enqueue(Reply.trickle(b"ab", 30.0))
        ended, took = _blocked_read_is_released(pool, upstream.url + "/v1/models")
    assert (ended, took < WAIT) == (True, True)


def test_shutdown_response_releases_a_blocked_read_over_tls(origin: Pki) -> None:
    """The same over TLS (the plain socket under the TLS socket is shut down)."""
    pool = urllib3.PoolManager(
        retries=False,
        timeout=urllib3.Timeout(connect=WAIT, read=WAIT * 4),
        cert_reqs="CERT_REQUIRED",
        ca_certs=str(origin.ca_file),
    )
    with FakeUpstream(ssl_context=origin.server_context()) as upstream:
        upstream.enqueue(Reply.trickle(b"ab", 30.0))
        ended, took = _blocked_read_is_released(pool, upstream.url + "/v1/models")
    pool.clear()
    assert (ended, took < WAIT) == (True, True)


def test_shutdown_after_release_leaves_the_pooled_connection_alone(
    pool: urllib3.PoolManager,
) -> None:
    """Once the body was read and the connection went back to the pool, shutdown does
    nothing: the next request reuses that connection successfully."""
    with FakeUpstream() as upstream:
        url = upstream.url + "/v1/models"
        raw = _open(pool, url)
        while read_available(raw, 65536):
            pass
        raw.release_conn()
        shutdown_response(raw)
        again = pool.urlopen("GET", url)
        connections = len({r.connection_id for r in upstream.requests})
    assert (again.status, len(upstream.requests), connections) == (200, 2, 1)
