"""The per-call send path's shortcuts send exactly what the plain path would.

- The request head and a small body go out in one send (``http.client`` would send
  them apart on urllib3 1.26, urllib3 2.x sends the body itself); a large body still
  goes out on its own.
- A transport remembers what requests made of each URL it prepared: the same URL the
  second time, an invalid URL refused every time, never more than a bounded number.
- The adapter finds a direct URL's pool as requests < 2.32 does, from the host, port
  and scheme it remembered (a cleared pool is found anew); a proxied URL is requests'.
"""

from __future__ import annotations

import socket
import warnings
from typing import Any, Iterator, List
from urllib.parse import urlparse

import pytest
import requests

from passthrough_client import PassthroughClient
from passthrough_client._net.adapter import _HTTPConnection
from passthrough_client._net.conn_hooks import MERGED_BODY_LIMIT
from passthrough_client._net.transport import PREPARED_URLS, Outgoing, _prepare


class _Socket(socket.socket):
    """One end of a socket pair that records each ``sendall``."""

    sent: List[bytes]

    def sendall(self, data: Any, *args: Any) -> None:
        self.sent.append(bytes(data))
        super().sendall(data, *args)


def _post(body: bytes) -> List[bytes]:
    """The sends one request makes, over a socket pair (no server, no name lookup)."""
    near, far = socket.socketpair()
    sock = _Socket(fileno=near.detach())
    sock.sent = []
    try:
        conn = _HTTPConnection("service.invalid", 80)
        conn.sock = sock
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        far.settimeout(5)
        wire = b""
        while len(wire) < sum(map(len, sock.sent)):
            wire += far.recv(1 << 20)
        assert wire == b"".join(sock.sent)  # what was sent is what arrived
        return sock.sent
    finally:
        sock.close()
        far.close()


def test_head_and_a_small_body_are_sent_whole_and_together() -> None:
    body = b'{"model":"m","messages":[]}'
    sent = _post(body)
    wire = b"".join(sent)
    assert wire.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert wire.endswith(b"\r\n\r\n" + body)
    assert b"\r\nContent-Length: 27\r\n" in wire
    assert wire.count(body) == 1
    assert len(sent) == 1


def test_a_large_body_is_sent_after_the_head() -> None:
    body = b"x" * (MERGED_BODY_LIMIT + 1)
    sent = _post(body)
    assert len(sent) >= 2
    assert sent[0].endswith(b"\r\n\r\n") and body not in sent[0]
    assert b"".join(sent[1:]) == body


def _outgoing(url: str) -> Outgoing:
    return Outgoing(method="POST", url=url, headers={})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1/chat/completions",
        "https://Bücher.example/v1/a b?q=ü&x=%41",
        "http://[::1]:8080/v1/../v1/models",
    ],
)
def test_a_remembered_url_is_what_requests_makes_of_it(url: str) -> None:
    expected = requests.PreparedRequest()
    expected.prepare_url(url, None)
    urls: dict[str, str] = {}
    first = _prepare(_outgoing(url), urls)
    second = _prepare(_outgoing(url), urls)
    assert first.url == second.url == expected.url
    assert urls == {url: expected.url}
    assert second.method == "POST"


def test_an_invalid_url_is_refused_every_time_and_not_remembered() -> None:
    urls: dict[str, str] = {}
    for _ in range(2):
        with pytest.raises(requests.RequestException):
            _prepare(_outgoing("http://"), urls)
    assert urls == {}


def test_remembered_urls_are_bounded() -> None:
    urls: dict[str, str] = {}
    for i in range(PREPARED_URLS * 3):
        _prepare(_outgoing(f"http://127.0.0.1:8000/v1/route{i}"), urls)
        assert len(urls) <= PREPARED_URLS
    last = "http://127.0.0.1:8000/v1/route" + str(PREPARED_URLS * 3 - 1)
    assert urls[last] == last


@pytest.fixture(name="adapter")
def fixture_adapter() -> Iterator[Any]:
    client = PassthroughClient(base_url="http://127.0.0.1:9", environ={})
    yield client._transport._adapter
    client.close()


DIRECT_URLS = [
    "http://127.0.0.1:8000/v1/chat/completions",
    "HTTP://Example.COM/v1/models",
    "https://example.com:443/v1/embeddings?x=1",
    "http://[::1]:8080/v1/models",
]


def test_a_direct_url_gets_the_pool_requests_would_find(adapter: Any) -> None:
    # requests < 2.32 calls get_connection; what its no-proxy branch does, and again
    # from what the adapter remembered.
    for url in DIRECT_URLS * 2:
        expected = adapter.poolmanager.connection_from_url(urlparse(url).geturl())
        assert adapter.get_connection(url, {}) is expected
        assert adapter.get_connection(url) is expected


def test_a_remembered_host_still_finds_a_new_pool_after_a_clear(adapter: Any) -> None:
    url = DIRECT_URLS[0]
    first = adapter.get_connection(url, {})
    adapter.poolmanager.clear()
    second = adapter.get_connection(url, {})
    assert second is not first
    assert second is adapter.poolmanager.connection_from_url(url)


def test_a_proxied_url_gets_the_proxy_managers_pool(adapter: Any) -> None:
    proxies = {"http": "http://127.0.0.1:3128"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # get_connection on requests 2.32+
        pool = adapter.get_connection(DIRECT_URLS[0], proxies)
    manager = adapter.proxy_manager_for("http://127.0.0.1:3128")
    assert pool is manager.connection_from_url(DIRECT_URLS[0])
    assert pool is not adapter.poolmanager.connection_from_url(DIRECT_URLS[0])


def test_remembered_hosts_are_bounded(adapter: Any) -> None:
    for i in range(200):
        adapter.get_connection(f"http://127.0.0.1:8000/v1/route{i}", {})
        assert len(adapter._pool_hosts) <= 64
