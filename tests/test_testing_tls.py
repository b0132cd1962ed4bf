"""Tests for FakeUpstream over TLS (trustme certificates, stdlib clients)."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from typing import Any, Dict, List

import pytest
import trustme
from fakehttp import TIMEOUT, call

from passthrough_client.testing import FakeUpstream, Reply


@pytest.fixture(name="ca", scope="module")
def fixture_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="tls")
def fixture_tls(ca: trustme.CA) -> Dict[str, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return {"server": server, "client": client}


def https_models(upstream: FakeUpstream, context: ssl.SSLContext) -> int:
    conn = http.client.HTTPSConnection(
        upstream.host, upstream.port, context=context, timeout=TIMEOUT
    )
    try:
        conn.request("GET", "/v1/models")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_for_tls_failure(upstream: FakeUpstream) -> List[str]:
    done = threading.Event()
    for _ in range(500):
        if upstream.tls_failures or done.wait(0.01):
            break
    return upstream.tls_failures


def test_url_has_no_trailing_slash_and_https_with_tls(tls: Dict[str, Any]) -> None:
    """The URL is scheme://host:port, https when an ssl_context is given."""
    with FakeUpstream() as plain, FakeUpstream(ssl_context=tls["server"]) as secure:
        assert f"http://127.0.0.1:{plain.port}" == plain.url
        assert f"https://127.0.0.1:{secure.port}" == secure.url


def test_tls_records_version_and_cipher(tls: Dict[str, ssl.SSLContext]) -> None:
    """Over TLS each request records the negotiated version and cipher, no client cert."""
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        assert https_models(upstream, tls["client"]) == 200
        request = upstream.requests[0]
    assert request.tls_version in ("TLSv1.2", "TLSv1.3")
    assert isinstance(request.tls_cipher, str) and request.tls_cipher
    assert request.client_cert_subject is None


def test_plain_requests_have_no_tls_details(upstream: FakeUpstream) -> None:
    """Without TLS the TLS fields are None."""
    call(upstream, "GET", "/v1/models")
    request = upstream.requests[0]
    assert (
        request.tls_version,
        request.tls_cipher,
        request.client_cert_subject,
    ) == (None, None, None)


def test_tls_records_client_certificate_subject(
    ca: trustme.CA, tls: Dict[str, ssl.SSLContext]
) -> None:
    """With a client certificate its subject is recorded, CN last."""
    tls["server"].verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(tls["server"])
    ca.issue_cert("client@example.org", common_name="alice").configure_cert(tls["client"])
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        assert https_models(upstream, tls["client"]) == 200
        subject = upstream.requests[0].client_cert_subject
    assert subject is not None and subject.startswith("O=") and subject.endswith(",CN=alice")


def test_failed_handshake_is_recorded_and_does_not_stop_serving(
    tls: Dict[str, ssl.SSLContext],
) -> None:
    """A client that rejects the certificate is listed in tls_failures; others still work."""
    untrusting = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        with pytest.raises(ssl.SSLError):
            https_models(upstream, untrusting)
        failures = wait_for_tls_failure(upstream)
        assert https_models(upstream, tls["client"]) == 200
    assert len(failures) == 1 and failures[0]


def test_stalled_handshake_does_not_block_other_clients(tls: Dict[str, ssl.SSLContext]) -> None:
    """A connection that never starts its handshake does not hold up the next client."""
    with (
        FakeUpstream(ssl_context=tls["server"]) as upstream,
        socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT),
    ):
        assert https_models(upstream, tls["client"]) == 200


def test_client_leaving_a_tls_stream_is_counted(tls: Dict[str, ssl.SSLContext]) -> None:
    """Over TLS a client's close is noticed at the next write."""
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        upstream.enqueue(Reply.sse(["data: 1\n\n"] * 2000, delay=0.01))  # 20 s: still going
        conn = http.client.HTTPSConnection(
            upstream.host, upstream.port, context=tls["client"], timeout=TIMEOUT
        )
        conn.request("POST", "/v1/chat/completions", b"{}")
        assert conn.getresponse().readline() == b"data: 1\n"
        conn.close()
        assert upstream.wait_for_disconnect(TIMEOUT)
