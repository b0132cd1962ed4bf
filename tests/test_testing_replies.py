"""Tests for FakeUpstream's scripted replies (Reply) and their queue, with stdlib clients."""

from __future__ import annotations

import gzip
import json
import socket
from typing import List, Optional, Union

import pytest
from fakehttp import TIMEOUT, call, connect, http_request, raw_exchange, read_until_closed

from passthrough_client.testing import FakeUpstream, Reply

# -- scripted replies ------------------------------------------------------------------


def test_json_reply_sets_status_headers_and_body(upstream: FakeUpstream) -> None:
    """Reply.json sends its status, its headers (overriding defaults) and a JSON body."""
    headers = {"Retry-After": "1", "content-type": "application/problem+json"}
    upstream.enqueue(Reply.json(429, {"error": {"message": "slow"}}, headers=headers))
    status, got, data = call(upstream, "GET", "/v1/models")
    assert (status, json.loads(data)) == (429, {"error": {"message": "slow"}})
    assert (got["Retry-After"], got["content-type"]) == ("1", "application/problem+json")
    assert "Content-Type" not in got and str(len(data)) == got["Content-Length"]


def test_json_reply_can_be_gzipped(upstream: FakeUpstream) -> None:
    """gzip=True compresses the body and says so in Content-Encoding."""
    upstream.enqueue(Reply.json(body={"ok": True}, gzip=True))
    _, headers, data = call(upstream, "GET", "/v1/models")
    assert (
        headers["Content-Encoding"],
        json.loads(gzip.decompress(data)),
    ) == ("gzip", {"ok": True})


def test_text_reply_sends_text_with_its_content_type(upstream: FakeUpstream) -> None:
    """Reply.text sends the text, UTF-8 encoded, with the given content type."""
    upstream.enqueue(Reply.text(502, "bäd gateway", content_type="text/html"))
    status, headers, data = call(upstream, "GET", "/v1/models")
    assert (status, headers["Content-Type"], data.decode()) == (502, "text/html", "bäd gateway")


def test_sse_reply_sends_pieces_verbatim_and_keeps_the_connection(upstream: FakeUpstream) -> None:
    """Chunked Reply.sse delivers the exact bytes, and the connection is reused after it."""
    events: List[Union[str, bytes]] = [
        'data: {"a": 1}\r\n\r\n',
        b": keep-alive\n",
        "data:[DONE]\n\n",
    ]
    upstream.enqueue(Reply.sse(events))
    conn = connect(upstream)
    conn.request("POST", "/v1/chat/completions", b"{}")
    response = conn.getresponse()
    assert response.read() == b'data: {"a": 1}\r\n\r\n: keep-alive\ndata:[DONE]\n\n'
    conn.request("GET", "/v1/models")
    assert conn.getresponse().status == 200
    conn.close()
    assert [r.connection_id for r in upstream.requests] == [1, 1]


def test_sse_reply_without_chunking_is_close_delimited(upstream: FakeUpstream) -> None:
    """chunked=False sends no framing: Connection: close and the body until EOF."""
    upstream.enqueue(Reply.sse(["data: 1\n\n", "data: 2\n\n"], chunked=False))
    raw = raw_exchange(upstream, http_request("/v1/chat/completions", close=False))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == b"data: 1\n\ndata: 2\n\n"
    assert b"Connection: close" in head and b"Content-Length" not in head
    assert b"Transfer-Encoding" not in head


def test_sse_reply_dropped_before_its_end_is_incomplete(upstream: FakeUpstream) -> None:
    """end='drop' closes the connection without the terminating chunk."""
    upstream.enqueue(Reply.sse(["data: 1\n\n"], end="drop"))
    raw = raw_exchange(upstream, http_request("/v1/chat/completions", close=False))
    assert raw.endswith(b"\r\n\r\n9\r\ndata: 1\n\n\r\n")


def test_sse_reply_ending_in_reset_aborts_the_connection(upstream: FakeUpstream) -> None:
    """end='reset' ends the stream with a TCP reset."""
    upstream.enqueue(Reply.sse(["data: 1\n\n"], end="reset"))
    with socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT) as sock:
        sock.sendall(http_request("/v1/chat/completions", close=False))
        with pytest.raises(ConnectionResetError):
            read_until_closed(sock)


def test_sse_reply_ending_in_hang_sends_nothing_more(upstream: FakeUpstream) -> None:
    """end='hang' keeps the connection open and silent after the last piece."""
    upstream.enqueue(Reply.sse(["data: 1\n\n"], end="hang"))
    conn = connect(upstream)
    conn.request("POST", "/v1/chat/completions", b"{}")
    response = conn.getresponse()
    assert response.readline() == b"data: 1\n"
    response.readline()
    assert conn.sock is not None
    conn.sock.settimeout(0.3)  # short only now: the reply itself may be slow to come
    with pytest.raises(socket.timeout):
        response.readline()
    conn.close()
    assert upstream.wait_for_disconnect(TIMEOUT)


def test_raw_reply_writes_exact_bytes_then_closes(upstream: FakeUpstream) -> None:
    """Reply.raw sends exactly its bytes and closes the connection."""
    upstream.enqueue(Reply.raw(b"NOT HTTP AT ALL\x00\xff"))
    assert raw_exchange(upstream, http_request("/x", close=False)) == b"NOT HTTP AT ALL\x00\xff"


def test_raw_reply_can_keep_the_connection_open(upstream: FakeUpstream) -> None:
    """With close=False the connection serves the next request after the raw bytes."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    upstream.enqueue(Reply.raw(answer, close=False))
    conn = connect(upstream)
    for expected in (b"hi", b'{"object": "list"'):
        conn.request("GET", "/v1/models")
        assert conn.getresponse().read().startswith(expected)
    conn.close()
    assert upstream.connections_opened == 1


@pytest.mark.parametrize(("reset", "error"), [(False, None), (True, ConnectionResetError)])
def test_drop_reply_closes_after_reading_the_request(
    upstream: FakeUpstream, reset: bool, error: Optional[type]
) -> None:
    """Reply.drop answers nothing: a clean close, or a reset with reset=True."""
    upstream.enqueue(Reply.drop(reset=reset))
    with socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT) as sock:
        sock.sendall(http_request("/v1/chat/completions", b'{"n": 1}', close=False))
        if error is None:
            assert read_until_closed(sock) == b""
        else:
            with pytest.raises(error):
                read_until_closed(sock)
    assert upstream.requests[0].json == {"n": 1}


def test_hang_reply_answers_nothing_then_closes(upstream: FakeUpstream) -> None:
    """Reply.hang sends nothing for its duration, then closes the connection."""
    upstream.enqueue(Reply.hang(0.05))
    assert raw_exchange(upstream, http_request("/v1/models", close=False)) == b""


def test_client_leaving_a_hang_is_counted(upstream: FakeUpstream) -> None:
    """A client that times out on a hanging reply and closes is seen as a disconnect."""
    upstream.enqueue(Reply.hang(60))
    conn = connect(upstream, timeout=0.2)
    conn.request("GET", "/v1/models")
    with pytest.raises(socket.timeout):
        conn.getresponse()
    conn.close()
    assert upstream.wait_for_disconnect(TIMEOUT)


def test_trickle_reply_delivers_the_whole_body(upstream: FakeUpstream) -> None:
    """Reply.trickle sends a valid head and, byte by byte, the whole body."""
    upstream.enqueue(Reply.trickle(b'{"ok": 1}', 0.001))
    status, headers, data = call(upstream, "GET", "/v1/models")
    assert (status, headers["Content-Length"], data) == (200, "9", b'{"ok": 1}')


def test_trickle_stops_when_the_client_leaves(upstream: FakeUpstream) -> None:
    """A client leaving a trickled body is counted as a disconnect."""
    upstream.enqueue(Reply.trickle(b"x" * 1000, 0.01))
    conn = connect(upstream)
    conn.request("GET", "/v1/models")
    assert conn.getresponse().read(1) == b"x"
    conn.close()
    assert upstream.wait_for_disconnect(TIMEOUT)


def test_redirect_reply_has_location(upstream: FakeUpstream) -> None:
    """Reply.redirect sends the 3xx status, a Location header and an empty body."""
    upstream.enqueue(Reply.redirect(307, "/elsewhere/v1/models"))
    status, headers, data = call(upstream, "GET", "/v1/models")
    assert (status, headers["Location"], data) == (307, "/elsewhere/v1/models", b"")


# -- the queue -------------------------------------------------------------------------


def test_queued_replies_are_used_first_in_first_out(upstream: FakeUpstream) -> None:
    """Queued replies answer the next requests in order, then the default routes resume."""
    upstream.enqueue(Reply.text(201, "one"))
    upstream.enqueue(Reply.text(202, "two"))
    statuses = [call(upstream, "GET", "/v1/models")[0] for _ in range(3)]
    assert statuses == [201, 202, 200]


def test_path_filtered_reply_waits_for_its_path(upstream: FakeUpstream) -> None:
    """A reply queued for a path is skipped by requests to other paths."""
    upstream.enqueue(Reply.text(503, "busy"), path="/v1/embeddings")
    models = call(upstream, "GET", "/v1/models")[0]
    embeddings = call(upstream, "POST", "/v1/embeddings", {"model": "e", "input": "x"})[0]
    assert (models, embeddings) == (200, 503)


def test_path_filter_ignores_query_and_prefix() -> None:
    """A path filter matches the path without query, with or without the prefix."""
    with FakeUpstream(prefix="/p") as upstream:
        upstream.enqueue(Reply.text(503, "a"), path="/v1/models")
        upstream.enqueue(Reply.text(504, "b"), path="/p/v1/models")
        statuses = [call(upstream, "GET", "/p/v1/models?x=1")[0] for _ in range(2)]
    assert statuses == [503, 504]


def test_times_repeats_a_reply(upstream: FakeUpstream) -> None:
    """times=N answers N requests; pending_replies counts down."""
    upstream.enqueue(Reply.text(500, "x"), times=2)
    assert upstream.pending_replies == 2
    statuses = [call(upstream, "GET", "/v1/models")[0] for _ in range(3)]
    assert (statuses, upstream.pending_replies) == ([500, 500, 200], 0)


def test_times_below_one_is_rejected(upstream: FakeUpstream) -> None:
    """enqueue(times=0) raises ValueError."""
    with pytest.raises(ValueError):
        upstream.enqueue(Reply.drop(), times=0)
