"""Streams and the connection pool: reuse after [DONE], early closes, drains, TLS."""

from __future__ import annotations

import dataclasses
import json
import ssl
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import pytest
import trustme

from passthrough_client import PassthroughClient
from passthrough_client.exceptions import APITimeoutError
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi there"}]
DONE = "data: [DONE]\n\n"
TIMEOUT = 5.0


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        yield client


def delta(content: str) -> str:
    chunk = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return f"data: {json.dumps(chunk)}\n\n"


def chat_stream(client: PassthroughClient, **kwargs: Any) -> Any:
    return client.chat(model="fake-model", messages=MESSAGES, stream=True, **kwargs)


def text_of(stream: Any) -> Optional[str]:
    return stream.collect().choices[0].message.content


def immediate(reply: Reply) -> Reply:
    """``reply`` with its ``delay`` only between pieces, not before the first."""
    return dataclasses.replace(reply, delay_first=False)


def connection_ids(upstream: FakeUpstream) -> list:
    return [r.connection_id for r in upstream.requests]


# --- the connection goes back to the pool after [DONE] ---------------------------------------


def test_sequential_streams_share_one_connection(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Two streams read to [DONE], one after the other, use one TCP connection."""
    assert [text_of(chat_stream(client)) for _ in range(2)] == ["hi there", "hi there"]
    assert (connection_ids(upstream), upstream.connections_opened) == ([1, 1], 1)


def test_small_rest_after_done_is_drained_and_the_connection_reused(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Bytes after [DONE] (here 4 KiB of comments) are read away; the connection is reused."""
    upstream.enqueue(Reply.sse([delta("a"), DONE, ": " + "x" * 4096 + "\n\n"]))
    assert text_of(chat_stream(client)) == "a"
    client.models(refresh=True)
    assert connection_ids(upstream) == [1, 1]


def test_large_rest_after_done_closes_the_connection(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """More than 64 KiB after [DONE] is not drained: the stream ends, the connection closes."""
    upstream.enqueue(Reply.sse([delta("a"), DONE, ": " + "x" * 200_000 + "\n\n"]))
    assert text_of(chat_stream(client)) == "a"
    client.models(refresh=True)
    assert connection_ids(upstream) == [1, 2]


def test_server_hanging_after_done_costs_at_most_the_drain_time(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A body that never ends after [DONE] ends the stream within the 0.5 s drain, then closes."""
    upstream.enqueue(Reply.sse([delta("a"), DONE], end="hang"))
    started = time.monotonic()
    assert text_of(chat_stream(client)) == "a"
    assert time.monotonic() - started < 0.5 + 4.5  # the server never ends the body
    assert upstream.wait_for_disconnect(timeout=TIMEOUT)
    assert text_of(chat_stream(client)) == "hi there"


def test_drained_connection_keeps_its_read_timeout(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """After a drain, a slow answer on the reused connection is not cut at the drain's 0.5 s."""
    assert text_of(chat_stream(client)) == "hi there"
    upstream.enqueue(Reply.json(200, {"object": "list", "data": []}, delay=0.8))
    assert client.models(refresh=True) == []
    assert connection_ids(upstream) == [1, 1]


def test_finished_stream_deadline_leaves_the_pooled_connection_alone(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A stream done before its deadline: the timer never touches the reused connection."""
    assert text_of(chat_stream(client, deadline=1.0)) == "hi there"
    time.sleep(1.2)  # past the deadline: a timer left running would have fired
    assert text_of(chat_stream(client)) == "hi there"
    assert connection_ids(upstream) == [1, 1]


# --- early closes ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "context-manager", "break-and-drop"])
def test_stopping_early_closes_the_connection(
    client: PassthroughClient, upstream: FakeUpstream, how: str
) -> None:
    """close(), leaving the with block or dropping the stream tells the server at once."""
    upstream.enqueue(immediate(Reply.sse([delta("a"), delta("b"), DONE], delay=1)))
    stream = chat_stream(client)
    if how == "context-manager":
        with stream:
            next(stream)
    elif how == "close":
        next(stream)
        stream.close()
    else:
        for _ in stream:
            break
    del stream
    assert upstream.wait_for_disconnect(timeout=TIMEOUT)


def test_dropping_a_stream_with_a_deadline_closes_at_once(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A dropped stream closes its connection now, not when its deadline's timer fires."""
    upstream.enqueue(immediate(Reply.sse([delta("a"), delta("b"), DONE], delay=1)))
    stream = chat_stream(client, deadline=30)
    next(stream)
    del stream
    assert upstream.wait_for_disconnect(timeout=TIMEOUT)


def test_close_twice_is_harmless(client: PassthroughClient) -> None:
    """close() on a closed stream does nothing, and iteration stays over."""
    stream = chat_stream(client)
    next(stream)
    stream.close()
    stream.close()
    assert list(stream) == []


def test_fifty_abandoned_streams_leave_a_small_pool_usable(upstream: FakeUpstream) -> None:
    """Fifty streams left after one chunk (pool_maxsize=2): all closed, later calls work."""
    reply = immediate(Reply.sse([delta("a"), delta("b"), DONE], delay=1))
    upstream.enqueue(reply, times=50)
    with PassthroughClient(base_url=upstream.url, pool_maxsize=2, environ={}) as client:
        for i in range(50):
            stream = chat_stream(client)
            next(stream)
            if i % 2:
                stream.close()  # the others are simply dropped
            del stream
        assert upstream.wait_for_disconnect(timeout=TIMEOUT, count=50)
        assert [text_of(chat_stream(client)) for _ in range(2)] == ["hi there", "hi there"]
    last_two = connection_ids(upstream)[-2:]
    assert (50, last_two[0]) == (upstream.disconnects_mid_response, last_two[1])


# --- the same over TLS ----------------------------------------------------------------------


@pytest.fixture(name="tls")
def fixture_tls(tmp_path: Path) -> Iterator[Tuple[FakeUpstream, PassthroughClient]]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with FakeUpstream(ssl_context=server) as upstream:
        config = {"base_url": upstream.url, "network": {"tls": {"verify": str(bundle)}}}
        with PassthroughClient(config, environ={}) as client:
            yield upstream, client


def test_tls_streams_share_one_connection(tls: Tuple[FakeUpstream, PassthroughClient]) -> None:
    """Over TLS too, a stream read to [DONE] gives its connection back for the next one."""
    upstream, client = tls
    assert [text_of(chat_stream(client)) for _ in range(2)] == ["hi there", "hi there"]
    assert connection_ids(upstream) == [1, 1]
    assert upstream.requests[0].tls_version is not None


def test_tls_deadline_cuts_off_a_trickling_stream(
    tls: Tuple[FakeUpstream, PassthroughClient],
) -> None:
    """Over TLS, a stream trickling a byte at a time stops at the deadline."""
    upstream, client = tls
    body = (delta("a") * 40).encode()  # a byte every 5 ms: about 18 s
    upstream.enqueue(Reply.trickle(body, 0.005, content_type="text/event-stream"))
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="deadline"):
        list(chat_stream(client, timeout=(5, 5), deadline=1.0))
    assert time.monotonic() - started < 1.0 + 5.0
