"""``network.proxy`` end to end: credentials, per-scheme proxies, no_proxy, interception,
masking, and the adapter's SSL contexts serving every request unchanged."""

from __future__ import annotations

import base64
import logging
import ssl
import traceback
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
from netutil import Intercept, Pki, RecordingProxy, client_for, closed_port

from passthrough_client import APIConnectionError, PassthroughClient, dump_config
from passthrough_client.testing import FakeUpstream

PASSWORD = "s3cr@t:pw"
CREDENTIALS = "bob:s3cr%40t%3Apw"  # as written in the URL (percent-encoded)


def targets(proxy: RecordingProxy) -> List[str]:
    return [f"{r.method} {r.target}" for r in proxy.records]


# --- credentials ----------------------------------------------------------------------


def test_credentials_are_sent_on_connect(
    proxy: RecordingProxy, secure: FakeUpstream, origin: Pki
) -> None:
    """userinfo in the proxy URL becomes Proxy-Authorization (decoded) on CONNECT."""
    tls = {"verify": str(origin.ca_file)}
    client_for(secure.url, tls=tls, proxy={"url": proxy.url(CREDENTIALS)}).models()
    expected = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert [expected] == [r.header("Proxy-Authorization") for r in proxy.connects()]


def test_credentials_never_reach_the_service_through_a_tunnel(
    proxy: RecordingProxy, secure: FakeUpstream, origin: Pki
) -> None:
    """Inside the CONNECT tunnel the service sees no Proxy-Authorization."""
    tls = {"verify": str(origin.ca_file)}
    client_for(secure.url, tls=tls, proxy={"url": proxy.url(CREDENTIALS)}).models()
    assert [r.headers.get("Proxy-Authorization") for r in secure.requests] == [None]


def test_credentials_are_sent_with_forwarded_http(
    proxy: RecordingProxy, upstream: FakeUpstream
) -> None:
    """Plain http:// through the proxy carries Proxy-Authorization in absolute form."""
    client_for(upstream.url, proxy={"url": proxy.url(CREDENTIALS)}).models()
    record = proxy.records[0]
    assert (record.method, record.target) == ("GET", f"{upstream.url}/v1/models")
    assert f"bob:{PASSWORD}".encode() == base64.b64decode(
        str(record.header("Proxy-Authorization")).split()[1]
    )


def test_proxy_requiring_credentials_accepts_them(secure: FakeUpstream, origin: Pki) -> None:
    """A proxy that demands credentials lets the configured ones through."""
    with RecordingProxy(credentials=f"bob:{PASSWORD}") as proxy:
        proxy_section = {"url": proxy.url(CREDENTIALS)}
        client_for(secure.url, tls={"verify": str(origin.ca_file)}, proxy=proxy_section).models()
    assert len(secure.requests) == 1


def test_password_is_masked_in_reprs_dumps_logs_and_errors(
    secure: FakeUpstream, origin: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """The proxy password shows nowhere: reprs, dump, logs, the error and its causes."""
    caplog.set_level(logging.DEBUG)
    with RecordingProxy(refuse=407) as proxy:
        client = client_for(secure.url, proxy={"url": proxy.url(CREDENTIALS)}, max_retries=1)
        with pytest.raises(APIConnectionError) as caught:
            client.models()
    shown = [repr(client.config), repr(client), str(dump_config(client.config))]
    chained = traceback.format_exception(caught.type, caught.value, caught.tb)
    shown += [str(caught.value), repr(caught.value), caplog.text, "".join(chained)]
    assert "**********" in str(caught.value)
    assert [text for text in shown if "s3cr" in text] == []


# --- which requests take the proxy ----------------------------------------------------


def test_loopback_is_proxied_like_any_host(proxy: RecordingProxy, upstream: FakeUpstream) -> None:
    """127.0.0.1 goes through the proxy unless no_proxy says otherwise."""
    client_for(upstream.url, proxy={"url": proxy.url()}).models()
    assert [f"GET {upstream.url}/v1/models"] == targets(proxy)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"http": "PROXY"}, ["http"]),
        ({"https": "PROXY"}, ["https"]),
        ({"http": "PROXY", "https": "PROXY"}, ["http", "https"]),
        ({"url": "PROXY"}, ["http", "https"]),
    ],
)
def test_per_scheme_proxies(
    proxy: RecordingProxy,
    upstream: FakeUpstream,
    secure: FakeUpstream,
    origin: Pki,
    section: Dict[str, str],
    expected: List[str],
) -> None:
    """http/https proxy only their own scheme; a scheme without one goes direct."""
    filled = {k: proxy.url() for k in section}
    tls = {"verify": str(origin.ca_file)}
    for service in (upstream, secure):
        client_for(service.url, tls=tls, proxy=filled).models()
    seen = ["https" if r.method == "CONNECT" else "http" for r in proxy.records]
    assert expected == seen
    assert (len(upstream.requests), len(secure.requests)) == (1, 1)


@pytest.mark.parametrize(
    ("no_proxy", "proxied"),
    [
        (["127.0.0.1"], False),
        (["127.0.0.0/8"], False),
        (["*"], False),
        (["127.0.0.1:PORT"], False),
        (["localhost"], True),
        (["127.0.0.1:1"], True),
        (["127.0.0.2", ".example.com"], True),
    ],
)
def test_no_proxy_decides_per_request(
    proxy: RecordingProxy, upstream: FakeUpstream, no_proxy: List[str], proxied: bool
) -> None:
    """no_proxy entries bypass the proxy exactly for the hosts (and ports) they match."""
    entries = [e.replace("PORT", str(upstream.port)) for e in no_proxy]
    client_for(upstream.url, proxy={"url": proxy.url(), "no_proxy": entries}).models()
    assert proxied == bool(proxy.records)
    assert len(upstream.requests) == 1


# --- a TLS-intercepting proxy ---------------------------------------------------------


@pytest.fixture(name="interceptor")
def fixture_interceptor(proxy_pki: Pki, origin: Pki) -> Iterator[RecordingProxy]:
    with RecordingProxy(intercept=Intercept(proxy_pki, origin.client_context())) as proxy:
        yield proxy


def test_interception_works_with_the_proxy_cacert(
    interceptor: RecordingProxy, secure: FakeUpstream, origin: Pki, proxy_pki: Pki
) -> None:
    """cacert is trusted for the re-signed service certificate on proxied connections."""
    section = {"url": interceptor.url(), "cacert": str(proxy_pki.ca_file)}
    client_for(secure.url, tls={"verify": str(origin.ca_file)}, proxy=section).models()
    assert interceptor.intercept is not None and len(interceptor.intercept.handshakes) == 1
    assert len(secure.requests) == 1


def test_interception_without_cacert_fails_verification(
    interceptor: RecordingProxy, secure: FakeUpstream, origin: Pki
) -> None:
    """Without cacert the re-signed certificate is refused, naming the CA bundle used."""
    tls = {"verify": str(origin.ca_file)}
    with pytest.raises(APIConnectionError, match="certificate verify failed") as caught:
        client_for(secure.url, tls=tls, proxy={"url": interceptor.url()}).models()
    assert str(origin.ca_file) in str(caught.value)
    assert secure.requests == []


def test_interception_applies_min_version_to_the_intercepted_hop(
    interceptor: RecordingProxy, secure: FakeUpstream, origin: Pki, proxy_pki: Pki
) -> None:
    """The service TLS settings govern the client's side of an intercepted tunnel."""
    section = {"url": interceptor.url(), "cacert": str(proxy_pki.ca_file)}
    tls = {"verify": str(origin.ca_file), "min_version": "TLSv1.3"}
    client_for(secure.url, tls=tls, proxy=section).models()
    assert interceptor.intercept is not None
    assert interceptor.intercept.handshakes == ["TLSv1.3"]


def test_proxy_cacert_is_not_trusted_on_direct_connections(
    proxy: RecordingProxy, proxy_pki: Pki, origin: Pki
) -> None:
    """A service signed by the proxy CA, reached directly (no_proxy): refused."""
    with FakeUpstream(ssl_context=proxy_pki.server_context()) as service:
        section = {"url": proxy.url(), "cacert": str(proxy_pki.ca_file), "no_proxy": ["*"]}
        client = client_for(service.url, tls={"verify": str(origin.ca_file)}, proxy=section)
        with pytest.raises(APIConnectionError, match="certificate verify failed"):
            client.models()
    assert proxy.records == []


# --- the adapter's contexts -----------------------------------------------------------


def snapshot(ctx: ssl.SSLContext) -> Any:
    return (ctx.verify_mode, ctx.check_hostname, ctx.cert_store_stats(), ctx.minimum_version)


@pytest.mark.parametrize("proxied", [False, True])
def test_contexts_serve_many_requests_unchanged(
    proxy: RecordingProxy, secure: FakeUpstream, origin: Pki, proxy_pki: Pki, proxied: bool
) -> None:
    """20 requests: the same contexts do every handshake and are never modified."""
    section = {"url": proxy.url(), "cacert": str(proxy_pki.ca_file)} if proxied else None
    tls = {"verify": str(origin.ca_file), "min_version": "TLSv1.2"}
    client = client_for(secure.url, tls=tls, proxy=section)
    adapter = client.session.get_adapter("https://")
    used = adapter.proxied_ssl_context if proxied else adapter.ssl_context
    # a plain-HTTP proxy needs no context for the proxy hop: only the two service ones
    contexts = [adapter.ssl_context, adapter.proxied_ssl_context]
    assert adapter.proxy_ssl_context is None
    before = [snapshot(c) for c in contexts]
    handshakes = used.session_stats()["connect"]
    for _ in range(20):
        client.models(refresh=True)
        client.session.close()  # a new connection, so a new handshake, every time
    assert used.session_stats()["connect"] - handshakes == 20
    assert before == [snapshot(c) for c in contexts]
    assert contexts == [adapter.ssl_context, adapter.proxied_ssl_context]


def test_two_clients_with_one_configuration_share_the_contexts(
    secure: FakeUpstream, origin: Pki
) -> None:
    """Contexts are built once per configuration, not per client or request."""
    first, second = (client_for(secure.url, tls={"verify": str(origin.ca_file)}) for _ in "ab")
    one, two = (c.session.get_adapter("https://") for c in (first, second))
    assert one.ssl_context is two.ssl_context


def test_per_request_verify_false_cannot_reach_the_pool(secure: FakeUpstream, origin: Pki) -> None:
    """session.get(verify=False) to an untrusted service still fails verification."""
    client = client_for(secure.url, tls={"verify": True})
    with pytest.raises(requests.exceptions.SSLError):
        client.session.get(f"{secure.url}/v1/models", verify=False, timeout=5)
    assert secure.requests == []


def test_per_request_cert_cannot_reach_the_pool(origin: Pki, pki_dir: Path) -> None:
    """session.get(cert=...) presents no certificate: the adapter's context decides."""
    cert, key = origin.client_files("per-request")
    ctx = origin.server_context(client_ca=origin)
    with FakeUpstream(ssl_context=ctx) as service:
        client = client_for(service.url, tls={"verify": str(origin.ca_file)})
        client.session.get(f"{service.url}/v1/models", cert=(str(cert), str(key)), timeout=5)
    assert [r.client_cert_subject for r in service.requests] == [None]


def test_session_ignores_the_environment(
    upstream: FakeUpstream,
) -> None:
    """The session ignores the environment (trust_env is False)."""
    client = PassthroughClient({"base_url": upstream.url}, environ={})
    assert client.session.trust_env is False


def test_dead_proxy_is_explained(upstream: FakeUpstream) -> None:
    """A proxy that refuses TCP: the error names the proxy and the reason."""
    dead = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(APIConnectionError, match=r"could not reach proxy .* connection refused"):
        client_for(upstream.url, proxy={"url": dead}).models()
    assert upstream.requests == []


def test_only_an_https_proxy_gets_a_proxy_hop_context(proxy: RecordingProxy) -> None:
    """The proxy-hop context (a trust store load) is built only when a proxy is HTTPS."""
    plain = client_for("http://127.0.0.1:9", proxy={"url": proxy.url()})
    tls_proxy = client_for("http://127.0.0.1:9", proxy={"url": "https://127.0.0.1:9"})
    hops = [c.session.get_adapter("https://").proxy_ssl_context for c in (plain, tls_proxy)]
    assert [h is None for h in hops] == [True, False]
