"""Fault injection over real sockets: each fault gives its typed error or the right result.

One FakeUpstream and one client serve the whole module: after every fault the same
client must answer a normal call, so a fault that poisons the connection pool shows up
as a failure of the next call. Every call runs in a watchdog thread, so a hang fails
the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional, Tuple, Type

import pytest
from faultutil import bounded

from passthrough_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    InvalidResponseError,
    PassthroughClient,
    PassthroughError,
)
from passthrough_client.testing import FakeUpstream, Reply

MODEL = "fake-model"


def completion(content: str) -> Dict[str, Any]:
    """A minimal chat completion whose only message says ``content``."""
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [choice],
    }


BODY = json.dumps(completion("scripted")).encode()
HEAD_100 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)
HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def head(status_line: bytes, *headers: bytes) -> bytes:
    """A response head: the status line, the header lines, the blank line."""
    return b"\r\n".join((status_line, *headers)) + b"\r\n\r\n"


@dataclass(frozen=True)
class Fault:
    """One fault: the scripted replies, and the error (or message content) it must give."""

    replies: Tuple[Reply, ...]
    error: Optional[Type[PassthroughError]] = None
    content: str = "scripted"
    options: Dict[str, Any] = field(default_factory=dict)


# Without ``error`` the call succeeds with ``content``. "Reused connection" faults hit the
# pooled keep-alive connection and are resent once, transparently (DESIGN §4).
PLAIN_FAULTS: Dict[str, Fault] = {
    "reset before the headers on a reused connection": Fault(
        (Reply.drop(reset=True),), content="hello there"
    ),
    "close before the headers on a reused connection": Fault(
        (Reply.drop(),), content="hello there"
    ),
    "reset before the headers on a new connection too": Fault(
        (Reply.drop(reset=True),) * 2, APIConnectionError
    ),
    "close before the headers on a new connection too": Fault(
        (Reply.drop(),) * 2, APIConnectionError
    ),
    "reset after the headers": Fault((Reply.raw(HEAD_100, reset=True),), APIConnectionError),
    "close after part of the body": Fault((Reply.raw(HEAD_100 + b'{"id"'),), APIConnectionError),
    "truncated chunked body": Fault(
        (Reply.raw(CHUNKED_HEAD + b"%x\r\n" % len(BODY) + BODY[:20]),), APIConnectionError
    ),
    "chunked body without its last chunk": Fault(
        (Reply.raw(CHUNKED_HEAD + b"%x\r\n%s\r\n" % (len(BODY), BODY)),), APIConnectionError
    ),
    "invalid chunk size": Fault(
        (Reply.raw(CHUNKED_HEAD + b"zz\r\nabc\r\n0\r\n\r\n"),), APIConnectionError
    ),
    "trickling server within the read timeout": Fault((Reply.trickle(BODY, 0.002),)),
    "trickling server past the deadline": Fault(
        (Reply.trickle(BODY, 0.05),), APITimeoutError, options={"deadline": 0.5}
    ),
    "stalled server": Fault((Reply.hang(3.0),), APITimeoutError, options={"timeout": (2.0, 0.3)}),
    "stalled server past the deadline": Fault(
        (Reply.hang(3.0),), APITimeoutError, options={"deadline": 0.5}
    ),
    "stall in the middle of the body": Fault(
        (Reply.raw(HEAD_100 + b'{"id"', close=False),),
        APITimeoutError,
        options={"timeout": (2.0, 0.3)},
    ),
    "garbage instead of HTTP": Fault((Reply.raw(b"SSH-2.0-OpenSSH_9.6\r\n"),), APIConnectionError),
    "binary garbage": Fault((Reply.raw(bytes(range(256)) * 4),), APIConnectionError),
    "an HTTP/2 preface": Fault(
        (Reply.raw(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00"),), APIConnectionError
    ),
    "invalid status line": Fault((Reply.raw(b"HTTP/1.1 abc Nope\r\n\r\n"),), APIConnectionError),
    "HTTP/1.0 close-delimited body": Fault(
        (Reply.raw(head(b"HTTP/1.0 200 OK", b"Content-Type: application/json") + BODY),)
    ),
    "HTTP/1.0 with Content-Length, no keep-alive": Fault(
        (Reply.raw(head(b"HTTP/1.0 200 OK", b"Content-Length: %d" % len(BODY)) + BODY),)
    ),
    "100 KB header line": Fault(
        (Reply.raw(head(b"HTTP/1.1 200 OK", b"X-Big: " + b"a" * 100_000) + BODY),),
        APIConnectionError,
    ),
    "more than 100 header lines": Fault(
        (Reply.raw(head(b"HTTP/1.1 200 OK", *(b"X-H%d: v" % i for i in range(150))) + BODY),),
        APIConnectionError,
    ),
    "gzip-encoded body": Fault(
        (Reply.json(200, completion("zipped"), gzip=True),), content="zipped"
    ),
    "JSON served as text/plain": Fault((Reply.text(200, BODY),)),
    "JSON without a content type": Fault(
        (
            Reply.raw(
                head(b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(BODY)) + BODY, close=False
            ),
        )
    ),
    "an interim 100 Continue before the answer": Fault(
        (Reply.raw(head(b"HTTP/1.1 100 Continue") + head(b"HTTP/1.0 200 OK") + BODY),)
    ),
    "HTML error page on 502": Fault(
        (Reply.text(502, HTML, content_type="text/html"),), InternalServerError
    ),
    "HTML page with 200": Fault(
        (Reply.text(200, HTML, content_type="text/html"),), InvalidResponseError
    ),
    "JSON that is not an object": Fault((Reply.text(200, b"[1, 2]"),), InvalidResponseError),
    "empty body with 200": Fault((Reply.text(200, b""),), InvalidResponseError),
    "deeply nested JSON": Fault((Reply.text(200, b"[" * 100_000),), InvalidResponseError),
    "JSON of the wrong shape": Fault((Reply.json(200, {"choices": 5}),), InvalidResponseError),
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


def chat(client: PassthroughClient, content: str = "hello there", **options: Any) -> str:
    """A non-streaming chat call (in the watchdog); returns the reply's content."""
    messages = [{"role": "user", "content": content}]
    reply = bounded(lambda: client.chat(model=MODEL, messages=messages, **options))
    text = reply.choices[0].message.content
    assert isinstance(text, str)
    return text


def assert_healthy(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Every scripted reply was used, and the same client still answers a normal call."""
    assert upstream.pending_replies == 0
    assert chat(client, "still fine") == "still fine"


@pytest.mark.parametrize("fault", PLAIN_FAULTS.values(), ids=list(PLAIN_FAULTS))
def test_fault_gives_its_documented_outcome_and_the_client_recovers(
    client: PassthroughClient, upstream: FakeUpstream, fault: Fault
) -> None:
    """A fault gives its typed error (or the right result); the same client works afterwards."""
    chat(client, "warm up")  # a pooled keep-alive connection for the fault to hit
    for reply in fault.replies:
        upstream.enqueue(reply)
    if fault.error is None:
        assert fault.content == chat(client, **fault.options)
    else:
        with pytest.raises(fault.error):
            chat(client, **fault.options)
    assert_healthy(client, upstream)


def test_html_error_page_gives_a_status_error_with_the_text_body(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A 502 HTML page is an ``APIStatusError`` whose body is the page's text and whose
    message is its title (DESIGN §6)."""
    upstream.enqueue(Reply.text(502, HTML, content_type="text/html"))
    with pytest.raises(APIStatusError) as info:
        chat(client)
    assert (info.value.status_code, info.value.body) == (502, HTML)
    assert info.value.message == "502 Bad Gateway (HTML page, likely from a proxy or gateway)"
    assert_healthy(client, upstream)


def test_a_20_mb_embeddings_response_parses(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A 20 MB JSON body is read and parsed whole."""
    vector = [0.123456789] * 1000
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(1500)]
    body = {"object": "list", "model": "fake-embedder", "data": data}
    upstream.enqueue(Reply.json(200, body))
    result = bounded(lambda: client.embeddings(model="fake-embedder", input="x"))
    assert len(result.data) == 1500
    assert vector == list(result.data[-1].embedding)
    assert_healthy(client, upstream)


def test_deadline_cuts_a_trickling_server_off_in_time(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A body trickled slower than the deadline is cut off, not read to its end."""
    upstream.enqueue(Reply.trickle(BODY * 10, 0.01))  # would take about 19 s
    with pytest.raises(APITimeoutError):
        bounded(lambda: chat(client, deadline=0.5), seconds=5.5)
    assert_healthy(client, upstream)


def closed_port() -> int:
    """A local port on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "via proxy"])
def test_a_refused_connection_is_reported_as_refused_not_as_a_timeout(via_proxy: bool) -> None:
    """Connecting to a closed port is an ``APIConnectionError`` that says refused."""
    port = closed_port()
    config: Dict[str, Any] = {"base_url": f"http://127.0.0.1:{port}"}
    if via_proxy:
        config["network"] = {"proxy": {"url": f"http://127.0.0.1:{port}"}}
    client = PassthroughClient(config, max_retries=0, environ={})
    with client, pytest.raises(APIConnectionError) as info:
        chat(client)
    assert not isinstance(info.value, APITimeoutError)
    assert "refused" in str(info.value)


@pytest.mark.parametrize(
    "location",
    ["http://[::1/v1/chat/completions", "http://127.0.0.1:99999/v1/chat/completions"],
    ids=["unclosed bracket", "port out of range"],
)
def test_a_malformed_redirect_location_is_a_status_error(
    client: PassthroughClient, upstream: FakeUpstream, location: str
) -> None:
    """A 307 whose Location is no valid URL raises ``APIStatusError`` (307), nothing else."""
    upstream.enqueue(Reply.redirect(307, location))
    with pytest.raises(APIStatusError) as info:
        chat(client)
    assert info.value.status_code == 307
    assert_healthy(client, upstream)


# A message that ends in a bare exception class name does not say "in words" what broke.
CLASS_NAME_AT_END = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Header)$")
BROKEN_FRAMING = {
    "corrupt gzip body": Reply.text(
        200, b"not gzip", headers={"Content-Encoding": "gzip"}, content_type="application/json"
    ),
    "two different Content-Length headers": Reply.raw(
        head(b"HTTP/1.1 200 OK", b"Content-Length: 3", b"Content-Length: %d" % len(BODY)) + BODY
    ),
}


@pytest.mark.parametrize("reply", BROKEN_FRAMING.values(), ids=list(BROKEN_FRAMING))
def test_a_broken_body_is_explained_in_words(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply
) -> None:
    """A body that cannot be decoded gives a typed error that says what broke, in words."""
    upstream.enqueue(reply)
    with pytest.raises((APIConnectionError, InvalidResponseError)) as info:
        chat(client)
    assert not CLASS_NAME_AT_END.search(str(info.value)), str(info.value)
    assert_healthy(client, upstream)
