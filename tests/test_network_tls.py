"""``network.tls`` applied to every connection to the service: direct, through a CONNECT
proxy and through an HTTPS proxy, against real TLS servers on 127.0.0.1 (trustme)."""

from __future__ import annotations

import contextlib
import logging
import ssl
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
from netutil import Pki, RecordingProxy, client_for

from passthrough_client import APIConnectionError
from passthrough_client.testing import FakeUpstream

TLS12 = ssl.TLSVersion.TLSv1_2
ROUTES = ("direct", "CONNECT proxy", "HTTPS proxy")
Route = Tuple[Optional[RecordingProxy], Optional[Dict[str, Any]]]


@contextlib.contextmanager
def route_to_service(kind: str, proxy_pki: Pki, client_ca: Optional[Pki]) -> Iterator[Route]:
    """``(proxy, network.proxy section)`` for one of :data:`ROUTES` (``(None, None)``).

    The HTTPS proxy asks for (but does not require) a certificate from ``client_ca``, so
    its records show whether a client presented one on the proxy hop.
    """
    if kind == "direct":
        yield None, None
        return
    https = kind == "HTTPS proxy"
    ctx = proxy_pki.server_context(client_ca=client_ca) if https else None
    with RecordingProxy(ssl_context=ctx) as proxy:
        section: Dict[str, Any] = {"url": proxy.url()}
        if https:
            section["cacert"] = str(proxy_pki.ca_file)
        yield proxy, section


@pytest.fixture(name="route", params=ROUTES)
def fixture_route(request: Any, proxy_pki: Pki, origin: Pki) -> Iterator[Route]:
    with route_to_service(request.param, proxy_pki, client_ca=origin) as route:
        yield route


def serve(ctx: ssl.SSLContext) -> FakeUpstream:
    return FakeUpstream(ssl_context=ctx)


def first_tls(upstream: FakeUpstream) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    request = upstream.requests[0]
    return request.tls_version, request.tls_cipher, request.client_cert_subject


def went_through(route: Route, upstream: FakeUpstream) -> bool:
    """Whether the route's proxy (if any) carried a CONNECT to ``upstream``."""
    proxy = route[0]
    if proxy is None:
        return True
    return [r.target for r in proxy.connects()] == [f"127.0.0.1:{upstream.port}"]


def prefer_server_ciphers(ctx: ssl.SSLContext, ciphers: str) -> ssl.SSLContext:
    ctx.set_ciphers(ciphers)
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    return ctx


# --- min_version ----------------------------------------------------------------------


def test_min_version_tls13_refuses_a_tls12_only_server(origin: Pki, route: Route) -> None:
    """min_version TLSv1.3 refuses a server that speaks TLS 1.2 at most, on every route."""
    tls = {"verify": str(origin.ca_file), "min_version": "TLSv1.3"}
    with serve(origin.server_context(max_version=TLS12)) as upstream:
        client = client_for(upstream.url, tls=tls, proxy=route[1])
        with pytest.raises(APIConnectionError, match="no TLS version in common"):
            client.models()
        assert went_through(route, upstream)
    assert upstream.requests == []


def test_default_min_version_reaches_a_tls12_only_server(origin: Pki, route: Route) -> None:
    """Without min_version the same TLS 1.2-only server is reached with TLS 1.2."""
    with serve(origin.server_context(max_version=TLS12)) as upstream:
        client_for(upstream.url, tls={"verify": str(origin.ca_file)}, proxy=route[1]).models()
    assert first_tls(upstream)[0] == "TLSv1.2"


def test_min_version_tls13_negotiates_tls13(origin: Pki, route: Route) -> None:
    """min_version TLSv1.3 with a TLS 1.3 server: the server records TLSv1.3."""
    tls = {"verify": str(origin.ca_file), "min_version": "TLSv1.3"}
    with serve(origin.server_context()) as upstream:
        client_for(upstream.url, tls=tls, proxy=route[1]).models()
        assert went_through(route, upstream)
    assert first_tls(upstream)[0] == "TLSv1.3"


# --- ciphers --------------------------------------------------------------------------


def test_ciphers_restrict_the_negotiated_cipher(origin: Pki, route: Route) -> None:
    """ciphers ['ECDHE+CHACHA20'] wins over the server's preferred AES-GCM suite."""
    ctx = prefer_server_ciphers(origin.server_context(max_version=TLS12), "AESGCM:CHACHA20")
    tls = {"verify": str(origin.ca_file), "ciphers": ["ECDHE+CHACHA20"]}
    with serve(ctx) as upstream:
        client_for(upstream.url, tls=tls, proxy=route[1]).models()
        assert went_through(route, upstream)
    assert "CHACHA20" in str(first_tls(upstream)[1])


def test_without_ciphers_the_server_preference_applies(origin: Pki, route: Route) -> None:
    """The control: without ciphers the same server negotiates AES-GCM."""
    ctx = prefer_server_ciphers(origin.server_context(max_version=TLS12), "AESGCM:CHACHA20")
    with serve(ctx) as upstream:
        client_for(upstream.url, tls={"verify": str(origin.ca_file)}, proxy=route[1]).models()
    assert "GCM" in str(first_tls(upstream)[1])


def test_ciphers_without_overlap_fail_the_handshake(origin: Pki, route: Route) -> None:
    """A server offering only AES-GCM and ciphers ['ECDHE+CHACHA20']: no handshake."""
    ctx = origin.server_context(max_version=TLS12, ciphers="ECDHE+AESGCM")
    tls = {"verify": str(origin.ca_file), "ciphers": ["ECDHE+CHACHA20"]}
    with serve(ctx) as upstream:
        with pytest.raises(APIConnectionError, match=r"handshake failure|no cipher in common"):
            client_for(upstream.url, tls=tls, proxy=route[1]).models()
        assert went_through(route, upstream)
    assert upstream.requests == []


# --- client certificates (mTLS) -------------------------------------------------------


def test_client_certificate_is_presented_to_the_service(
    origin: Pki, route: Route, pki_dir: Path
) -> None:
    """client_cert/client_key reach the service, which records the certificate's CN."""
    cert, key = origin.client_files("mtls-client")
    tls = {"verify": str(origin.ca_file), "client_cert": str(cert), "client_key": str(key)}
    ctx = origin.server_context(client_ca=origin, require_client_cert=True)
    with serve(ctx) as upstream:
        client_for(upstream.url, tls=tls, proxy=route[1]).models()
    assert "CN=mtls-client" in str(first_tls(upstream)[2])


def test_https_proxy_hop_presents_no_client_certificate(
    origin: Pki, proxy_pki: Pki, pki_dir: Path
) -> None:
    """The HTTPS proxy asks for a certificate; the client keeps its own for the service."""
    cert, key = origin.client_files("mtls-client")
    tls = {"verify": str(origin.ca_file), "client_cert": str(cert), "client_key": str(key)}
    ctx = origin.server_context(client_ca=origin, require_client_cert=True)
    with route_to_service("HTTPS proxy", proxy_pki, client_ca=origin) as (proxy, section):
        with serve(ctx) as upstream:
            client_for(upstream.url, tls=tls, proxy=section).models()
        assert proxy is not None
        assert [r.client_cert_subject for r in proxy.connects()] == [None]
    assert "CN=mtls-client" in str(first_tls(upstream)[2])


def test_missing_client_certificate_is_explained(origin: Pki, route: Route) -> None:
    """A server that requires a client certificate, none configured: the error says so."""
    ctx = origin.server_context(client_ca=origin, require_client_cert=True)
    with serve(ctx) as upstream:
        client = client_for(upstream.url, tls={"verify": str(origin.ca_file)}, proxy=route[1])
        with pytest.raises(APIConnectionError, match="client certificate"):
            client.models()
    assert upstream.requests == []


# --- verify ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["file", "hashed directory"])
def test_verify_trusts_exactly_the_given_ca(origin: Pki, route: Route, form: str) -> None:
    """verify as a CA file or a hashed CA directory is enough to reach the service."""
    verify = origin.ca_file if form == "file" else origin.ca_dir()
    with serve(origin.server_context()) as upstream:
        client_for(upstream.url, tls={"verify": str(verify)}, proxy=route[1]).models()
        assert went_through(route, upstream)
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("form", ["file", "hashed directory"])
def test_verify_with_another_ca_rejects_the_service(
    origin: Pki, stranger: Pki, route: Route, form: str
) -> None:
    """verify naming another CA (file or directory) fails and names what was used."""
    verify = stranger.ca_file if form == "file" else stranger.ca_dir()
    with serve(origin.server_context()) as upstream:
        client = client_for(upstream.url, tls={"verify": str(verify)}, proxy=route[1])
        with pytest.raises(APIConnectionError, match="certificate verify failed") as caught:
            client.models()
    assert str(verify) in str(caught.value)
    assert upstream.requests == []


def test_verify_true_does_not_trust_a_private_ca(origin: Pki, route: Route) -> None:
    """verify true means the default bundle only: a private CA's certificate fails."""
    with serve(origin.server_context()) as upstream:
        client = client_for(upstream.url, tls={"verify": True}, proxy=route[1])
        with pytest.raises(APIConnectionError, match="default CA bundle"):
            client.models()


def test_verify_false_accepts_an_untrusted_certificate(stranger: Pki, route: Route) -> None:
    """verify false reaches a service whose CA is trusted nowhere."""
    with serve(stranger.server_context()) as upstream:
        client_for(upstream.url, tls={"verify": False}, proxy=route[1]).models()
        assert went_through(route, upstream)
    assert len(upstream.requests) == 1


def test_verify_false_warns_exactly_once_per_client(
    stranger: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """One logged warning per client, none per request or connection (no urllib3 one)."""
    caplog.set_level(logging.WARNING)
    with serve(stranger.server_context()) as upstream, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(2):
            client = client_for(upstream.url, tls={"verify": False})
            for _ in range(3):
                client.models()
            client.close()
    messages = [r.getMessage() for r in caplog.records if "verif" in r.getMessage()]
    assert len(messages) == 2
    assert [str(w.message) for w in seen] == []


def test_proxy_hop_is_verified_even_when_verify_is_false(
    origin: Pki, proxy_pki: Pki, stranger: Pki
) -> None:
    """tls.verify false never reaches the HTTPS proxy hop: a wrong cacert still fails."""
    with RecordingProxy(ssl_context=proxy_pki.server_context()) as proxy:
        section = {"url": proxy.url(), "cacert": str(stranger.ca_file)}
        with serve(origin.server_context()) as upstream:
            client = client_for(upstream.url, tls={"verify": False}, proxy=section)
            with pytest.raises(APIConnectionError, match="TLS handshake with proxy") as caught:
                client.models()
    assert str(stranger.ca_file) in str(caught.value)
    assert (proxy.records, upstream.requests) == ([], [])


def test_proxy_hop_uses_min_version(origin: Pki, proxy_pki: Pki) -> None:
    """min_version applies to the HTTPS proxy hop: a TLS 1.2-only proxy is refused."""
    with RecordingProxy(ssl_context=proxy_pki.server_context(max_version=TLS12)) as proxy:
        section = {"url": proxy.url(), "cacert": str(proxy_pki.ca_file)}
        tls = {"verify": str(origin.ca_file), "min_version": "TLSv1.3"}
        with serve(origin.server_context()) as upstream:
            client = client_for(upstream.url, tls=tls, proxy=section)
            with pytest.raises(APIConnectionError, match=r"proxy .* no TLS version in common"):
                client.models()
    assert proxy.records == []


def test_plain_http_through_https_proxy_verifies_the_proxy(
    origin: Pki, proxy_pki: Pki, stranger: Pki
) -> None:
    """http:// forwarded through an HTTPS proxy: that hop is verified, verify false or not."""
    with RecordingProxy(ssl_context=proxy_pki.server_context()) as proxy, FakeUpstream() as up:
        section = {"url": proxy.url(), "cacert": str(stranger.ca_file)}
        with pytest.raises(APIConnectionError, match="TLS handshake with proxy"):
            client_for(up.url, tls={"verify": False}, proxy=section).models()
    assert (proxy.records, up.requests) == ([], [])


def test_plain_http_through_https_proxy_presents_no_client_certificate(
    origin: Pki, proxy_pki: Pki
) -> None:
    """http:// forwarded through an HTTPS proxy: the client certificate stays home."""
    cert, key = origin.client_files("mtls-client")
    tls = {"verify": str(origin.ca_file), "client_cert": str(cert), "client_key": str(key)}
    ctx = proxy_pki.server_context(client_ca=origin)
    with RecordingProxy(ssl_context=ctx) as proxy, FakeUpstream() as upstream:
        section = {"url": proxy.url(), "cacert": str(proxy_pki.ca_file)}
        client_for(upstream.url, tls=tls, proxy=section).models()
    assert [(r.method, r.client_cert_subject) for r in proxy.records] == [("GET", None)]
    assert len(upstream.requests) == 1
