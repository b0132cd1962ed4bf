"""Connection failures explained in words, per step, and retried only where DESIGN §4 says:
refused, DNS, proxy CONNECT refusals, TLS handshake failures, connect and read timeouts."""

from __future__ import annotations

import logging
import ssl
from typing import Any, Dict, List

import pytest
from netutil import Pki, RecordingProxy, SilentServer, client_for, closed_port

from passthrough_client import (
    APIConnectionError,
    APITimeoutError,
    ConfigError,
    InvalidResponseError,
    PassthroughClient,
    ProviderDataError,
)
from passthrough_client.testing import FakeUpstream, Reply

TLS12 = ssl.TLSVersion.TLSv1_2
FAST = 0.3  # seconds: a connect or read timeout that the tests let expire


def retries_logged(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]


# --- refused, DNS ---------------------------------------------------------------------


def test_refused_connection_is_explained() -> None:
    """Nothing listening: 'connection to host:port refused', the cause chained."""
    port = closed_port()
    with pytest.raises(APIConnectionError) as caught:
        client_for(f"http://127.0.0.1:{port}").models()
    assert str(caught.value) == f"connection to 127.0.0.1:{port} refused"
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.__cause__ is not None


def test_refused_connection_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    """A refused connection was never established: it is retried max_retries times."""
    caplog.set_level(logging.WARNING)
    with pytest.raises(APIConnectionError, match="refused"):
        client_for(f"http://127.0.0.1:{closed_port()}", max_retries=1).models()
    assert len(retries_logged(caplog)) == 1


def test_dns_failure_is_explained() -> None:
    """A name that never resolves (.invalid): the message says the DNS lookup failed."""
    client = client_for("http://no-such-host.invalid", connect=2.0)
    with pytest.raises(APIConnectionError, match="DNS lookup") as caught:
        client.models()
    assert "no-such-host.invalid:80" in str(caught.value)


def test_invalid_host_in_passthrough_url_is_refused_before_traffic() -> None:
    """A passthrough_url with an impossible host is a ProviderDataError, not a foreign error."""
    client = PassthroughClient({}, environ={}, max_retries=2)
    with pytest.raises(ProviderDataError) as caught:
        client.models(provider_data={"passthrough_url": "http://exa..mple.com"})
    assert caught.value.key == "passthrough_url"


@pytest.mark.parametrize("host", ["exa..mple.com", "a" * 64 + ".example.com"])
def test_invalid_host_in_base_url_is_a_config_error(host: str) -> None:
    """DESIGN §2: validation at construction, never at the first request."""
    with pytest.raises(ConfigError):
        PassthroughClient({"base_url": f"http://{host}"}, environ={})


# --- proxies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"), [(407, "Proxy Authentication Required"), (403, "Forbidden")]
)
def test_proxy_refusing_connect_is_explained(origin: Pki, status: int, words: str) -> None:
    """CONNECT answered with 407/403: the error names the proxy, target and status."""
    with (
        RecordingProxy(refuse=status) as proxy,
        FakeUpstream(ssl_context=origin.server_context()) as service,
    ):
        client = client_for(service.url, proxy={"url": proxy.url("bob:hunter2")})
        with pytest.raises(APIConnectionError) as caught:
            client.models()
        expected = (
            f"proxy http://bob:**********@127.0.0.1:{proxy.port} refused CONNECT to "
            f"127.0.0.1:{service.port} ({status} {words})"
        )
    assert expected == str(caught.value)


@pytest.mark.parametrize("status", [407, 403])
def test_proxy_refusing_connect_is_not_retried(origin: Pki, status: int) -> None:
    """CONNECT refused with 407/403: final, max_retries=2 sends one CONNECT (DESIGN §4:
    repeating refused credentials only locks accounts)."""
    with (
        RecordingProxy(refuse=status) as proxy,
        FakeUpstream(ssl_context=origin.server_context()) as service,
    ):
        client = client_for(service.url, proxy={"url": proxy.url()}, max_retries=2)
        with pytest.raises(APIConnectionError, match=rf"\({status}"):
            client.models()
    assert len(proxy.connects()) == 1


def test_proxy_failing_connect_with_5xx_is_retried(origin: Pki) -> None:
    """CONNECT answered 502 (the proxy could not reach the service): retried, one CONNECT
    per attempt."""
    with (
        RecordingProxy(refuse=502) as proxy,
        FakeUpstream(ssl_context=origin.server_context()) as service,
    ):
        client = client_for(service.url, proxy={"url": proxy.url()}, max_retries=2)
        with pytest.raises(APIConnectionError, match=r"\(502"):
            client.models()
    assert len(proxy.connects()) == 3


# --- TLS handshakes -------------------------------------------------------------------

# name -> (server context maker, network.tls maker, expected words in the error)
TLS_FAILURES: Dict[str, Any] = {
    "verification": (
        lambda o, s: o.server_context(),
        lambda o, s: {"verify": str(s.ca_file)},
        "certificate verify failed",
    ),
    "version": (
        lambda o, s: o.server_context(max_version=TLS12),
        lambda o, s: {"verify": str(o.ca_file), "min_version": "TLSv1.3"},
        "no TLS version in common",
    ),
    "cipher": (
        lambda o, s: o.server_context(max_version=TLS12, ciphers="ECDHE+AESGCM"),
        lambda o, s: {"verify": str(o.ca_file), "ciphers": ["ECDHE+CHACHA20"]},
        "network.tls.ciphers",
    ),
    "client certificate": (
        lambda o, s: o.server_context(client_ca=o, require_client_cert=True),
        lambda o, s: {"verify": str(o.ca_file)},
        "client certificate",
    ),
}


@pytest.mark.parametrize("case", sorted(TLS_FAILURES))
def test_tls_handshake_failure_is_explained(origin: Pki, stranger: Pki, case: str) -> None:
    """Each TLS failure names the step, the host and the reason in words."""
    server, tls, words = TLS_FAILURES[case]
    server_ctx = server(origin, stranger)
    with (
        FakeUpstream(ssl_context=server_ctx) as service,
        pytest.raises(APIConnectionError) as caught,
    ):
        client_for(service.url, tls=tls(origin, stranger)).models()
    message = str(caught.value)
    assert message.startswith(f"TLS handshake with 127.0.0.1:{service.port} failed: ")
    assert words in message


@pytest.mark.parametrize("via_proxy", [False, True])
@pytest.mark.parametrize("case", sorted(TLS_FAILURES))
def test_tls_handshake_failure_is_not_retried(
    origin: Pki, stranger: Pki, case: str, via_proxy: bool
) -> None:
    """max_retries=2, yet one connection reaches the server (and one CONNECT the proxy)."""
    server, tls, _ = TLS_FAILURES[case]
    with RecordingProxy() as proxy, FakeUpstream(ssl_context=server(origin, stranger)) as svc:
        section = {"url": proxy.url()} if via_proxy else None
        client = client_for(svc.url, tls=tls(origin, stranger), proxy=section, max_retries=2)
        with pytest.raises(APIConnectionError):
            client.models()
    assert (1, int(via_proxy)) == (svc.connections_opened, len(proxy.connects()))


def test_https_proxy_verification_failure_is_not_retried(origin: Pki, stranger: Pki) -> None:
    """The TLS hop to an HTTPS proxy fails verification: one attempt, named as the proxy's."""
    with RecordingProxy(ssl_context=origin.server_context()) as proxy:
        section = {"url": proxy.url(), "cacert": str(stranger.ca_file)}
        client = client_for("https://127.0.0.1:1", proxy=section, max_retries=2)
        with pytest.raises(APIConnectionError) as caught:
            client.models()
        expected = (
            f"TLS handshake with proxy https://127.0.0.1:{proxy.port} failed: certificate verify"
            f" failed: unable to get local issuer certificate; CA bundle used: proxy CA file"
            f" {stranger.ca_file}"
        )
    assert (expected, 1) == (str(caught.value), proxy.accepted)


def test_verification_failure_names_the_ca_bundle(origin: Pki, stranger: Pki) -> None:
    """The verification error says which CA bundle was used."""
    ctx = origin.server_context()
    with FakeUpstream(ssl_context=ctx) as service, pytest.raises(APIConnectionError) as caught:
        client_for(service.url, tls={"verify": str(stranger.ca_file)}).models()
    assert str(caught.value).endswith(f"; CA bundle used: CA file {stranger.ca_file}")


# --- timeouts -------------------------------------------------------------------------


def test_stalled_tls_handshake_is_a_connect_timeout() -> None:
    """A server that accepts TCP but never answers the ClientHello: connect timeout."""
    with SilentServer() as silent, pytest.raises(APITimeoutError) as caught:
        client_for(f"https://127.0.0.1:{silent.port}", connect=FAST).models()
    expected = "the TLS handshake did not finish within the connect timeout (0.3 s)"
    assert expected in str(caught.value)


def test_stalled_connect_answer_is_a_connect_timeout(upstream: FakeUpstream) -> None:
    """A proxy that never answers CONNECT: connect timeout naming that step."""
    with RecordingProxy(stall=True) as proxy:
        client = client_for("https://127.0.0.1:1", proxy={"url": proxy.url()}, connect=FAST)
        with pytest.raises(APITimeoutError, match="the proxy's answer to CONNECT"):
            client.models()
    assert [r.target for r in proxy.connects()] == ["127.0.0.1:1"]


def test_stalled_https_proxy_handshake_is_a_connect_timeout(origin: Pki) -> None:
    """An HTTPS proxy that never answers the ClientHello: connect timeout naming it."""
    with SilentServer() as silent:
        section = {"url": f"https://127.0.0.1:{silent.port}", "cacert": str(origin.ca_file)}
        client = client_for("https://127.0.0.1:1", proxy=section, connect=FAST)
        with pytest.raises(APITimeoutError, match="the TLS handshake with the proxy"):
            client.models()


def test_connect_timeouts_are_retried() -> None:
    """A stalled handshake never established the connection: retried (2 connections)."""
    with SilentServer() as silent:
        client = client_for(f"https://127.0.0.1:{silent.port}", connect=FAST, max_retries=1)
        with pytest.raises(APITimeoutError):
            client.models()
        assert silent.accepted == 2


def test_read_timeout_is_explained_and_not_retried(upstream: FakeUpstream) -> None:
    """A service that accepts the request and stays silent: read timeout, one attempt."""
    upstream.enqueue(Reply.hang(10.0), times=3)  # each ends when the client gives up
    client = client_for(upstream.url, read=FAST, max_retries=2)
    with pytest.raises(APITimeoutError, match="read timeout"):
        client.models()
    assert len(upstream.requests) == 1


# --- broken responses -------------------------------------------------------------------

BODY = b'{"object": "list", "data": []}'
BROKEN = {
    "conflicting Content-Length": (
        Reply.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\n" + BODY),
        "the response headers are invalid or contradict each other",
    ),
    "not HTTP": (Reply.raw(b"SSH-2.0-OpenSSH\r\n\r\n"), "the server did not answer with HTTP"),
    "endless header": (
        Reply.raw(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n"),
        "a line of the response head is too long",
    ),
    "body cut short": (
        Reply.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + BODY),
        "the connection broke while reading the response",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_response_is_explained_in_words(upstream: FakeUpstream, case: str) -> None:
    """A response that cannot be read says what broke, never just an exception's name."""
    reply, words = BROKEN[case]
    upstream.enqueue(reply)
    with pytest.raises(APIConnectionError) as caught:
        client_for(upstream.url).models()
    assert f"connection to 127.0.0.1:{upstream.port} failed: " in str(caught.value)
    assert words in str(caught.value)


def test_a_body_that_does_not_match_its_encoding_is_an_invalid_response(
    upstream: FakeUpstream,
) -> None:
    """Corrupt gzip is a malformed response (the connection itself was fine)."""
    upstream.enqueue(Reply.text(200, b"not gzip", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(InvalidResponseError, match="does not match its Content-Encoding"):
        client_for(upstream.url).models()
