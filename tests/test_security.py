"""Security guarantees over real sockets: header injection, redirects, TLS downgrade, verify.

Every refused input must raise one of the package's typed errors before anything is
sent (the fake service records every request, so "nothing sent" is checked, not
assumed). Redirects never carry a request to another origin; a TLS 1.3 minimum is
never negotiated down.
"""

from __future__ import annotations

import logging
import ssl
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import trustme

from passthrough_client import (
    APIConnectionError,
    APIStatusError,
    ConfigError,
    PassthroughClient,
    PassthroughError,
    ProviderDataError,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]
FORWARD = {"token": "Authorization", "tenant": "X-Tenant"}

# Values that must never become (part of) a header: each would split, smuggle or
# silently alter a header on the wire.
BAD_VALUES = {
    "CR": "ok\rX-Injected: 1",
    "LF": "ok\nX-Injected: 1",
    "CRLF": "ok\r\nX-Injected: 1",
    "CRLF CRLF": "ok\r\n\r\nGET / HTTP/1.1",
    "NUL": "ok\x00more",
    "TAB": "ok\tmore",
    "DEL": "ok\x7fmore",
    "NEL": "ok\x85more",
    "LINE SEPARATOR": "ok\u2028more",
    "PARAGRAPH SEPARATOR": "ok\u2029more",
    "leading space": " ok",
    "trailing space": "ok ",
    "oversize": "a" * 8193,
    "oversize in UTF-8": "é" * 4097,
    "outside Latin-1": "ok\u0100",
    "emoji": "ok\U0001f600",
}
BAD_NAMES = ["X-A\r\nX-B", "X-A:", "X A", "X-A\x00", "", "X-\u00e9"]
# The subset that no header value can carry at all (API keys have no length rule).
UNSENDABLE = {
    name: value
    for name, value in BAD_VALUES.items()
    if not name.startswith(("oversize", "leading", "trailing"))
}


@pytest.fixture(name="upstream", scope="module")
def fixture_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(name="client", scope="module")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    config = {"base_url": upstream.url, "api_key": "k", "forward_headers": FORWARD}
    with PassthroughClient(config, max_retries=0, environ={}) as client:
        yield client


@pytest.fixture(name="quiet", autouse=True)
def fixture_quiet(upstream: FakeUpstream) -> None:
    """Each test starts with no recorded requests and no scripted replies."""
    upstream.clear()
    assert upstream.pending_replies == 0


def chat(client: PassthroughClient, **options: Any) -> Any:
    """One chat call with ``options``."""
    return client.chat(model="fake-model", messages=MESSAGES, **options)


# -- header injection ------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=list(BAD_VALUES))
@pytest.mark.parametrize("key", ["token", "tenant"])
def test_forwarded_value_that_could_inject_is_refused_and_nothing_sent(
    client: PassthroughClient, upstream: FakeUpstream, key: str, value: str
) -> None:
    """A forwarded provider-data value with a dangerous character raises; nothing is sent."""
    with pytest.raises(ProviderDataError) as info:
        chat(client, provider_data={key: value})
    assert key == info.value.key
    assert value not in str(info.value)
    assert upstream.requests == []


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=list(BAD_VALUES))
@pytest.mark.parametrize("key", ["passthrough_api_key", "passthrough_url"])
def test_special_provider_data_key_that_could_inject_is_refused(
    upstream: FakeUpstream, key: str, value: str
) -> None:
    """``passthrough_url`` or ``passthrough_api_key`` with a dangerous character: nothing sent."""
    url = value.replace("ok", upstream.url, 1) if "ok" in value else f"{upstream.url}/{value}"
    data = {"passthrough_url": upstream.url, key: url if key == "passthrough_url" else value}
    client = PassthroughClient({}, max_retries=0, environ={})
    with client, pytest.raises(ProviderDataError) as info:
        chat(client, provider_data=data)
    assert key == info.value.key
    assert upstream.requests == []


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=list(BAD_VALUES))
def test_extra_header_value_that_could_inject_is_refused(
    client: PassthroughClient, upstream: FakeUpstream, value: str
) -> None:
    """An ``extra_headers`` value with a dangerous character raises a typed error; nothing sent."""
    with pytest.raises(PassthroughError):
        chat(client, extra_headers={"X-Extra": value})
    assert upstream.requests == []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_extra_header_name_that_could_inject_is_refused(
    client: PassthroughClient, upstream: FakeUpstream, name: str
) -> None:
    """An ``extra_headers`` name that is not an HTTP token raises a typed error; nothing sent."""
    with pytest.raises(PassthroughError):
        chat(client, extra_headers={name: "v"})
    assert upstream.requests == []


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=list(BAD_VALUES))
def test_network_header_value_that_could_inject_is_a_config_error(
    upstream: FakeUpstream, value: str
) -> None:
    """A ``network.headers`` value with a dangerous character is refused at construction."""
    config = {"base_url": upstream.url, "network": {"headers": {"X-Static": value}}}
    with pytest.raises(ConfigError) as info:
        PassthroughClient(config, environ={})
    assert value not in str(info.value)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_network_header_name_that_could_inject_is_a_config_error(
    upstream: FakeUpstream, name: str
) -> None:
    """A ``network.headers`` name that is not an HTTP token is refused when the client is built."""
    with pytest.raises(ConfigError):
        PassthroughClient({"base_url": upstream.url, "network": {"headers": {name: "v"}}})


@pytest.mark.parametrize("value", UNSENDABLE.values(), ids=list(UNSENDABLE))
def test_api_key_that_could_inject_is_a_config_error(upstream: FakeUpstream, value: str) -> None:
    """An API key that cannot be sent verbatim is refused when the client is built, unquoted."""
    with pytest.raises(ConfigError) as info:
        PassthroughClient(base_url=upstream.url, api_key="sk-" + value, environ={})
    assert value not in str(info.value)


@pytest.mark.parametrize("value", UNSENDABLE.values(), ids=list(UNSENDABLE))
def test_api_key_that_could_inject_never_reaches_the_wire(
    upstream: FakeUpstream, value: str
) -> None:
    """An API key that cannot be a header value gives a typed error and is never sent."""
    try:
        client = PassthroughClient(base_url=upstream.url, api_key="sk-" + value, environ={})
    except ConfigError:
        return  # refused up front: the better outcome
    with client, pytest.raises(PassthroughError):
        chat(client)
    assert upstream.requests == []


@pytest.mark.parametrize("suffix", ["/\r\nX-Injected: 1", "/\nX", "/\x00", "/ x", "/\t"])
def test_base_url_with_control_characters_is_a_config_error(
    upstream: FakeUpstream, suffix: str
) -> None:
    """A ``base_url`` with whitespace or control characters is refused, not silently altered."""
    with pytest.raises(ConfigError):
        PassthroughClient(base_url=upstream.url + suffix, environ={})


# -- redirects -------------------------------------------------------------------------


@pytest.fixture(name="elsewhere", scope="module")
def fixture_elsewhere() -> Iterator[FakeUpstream]:
    """A second service: another origin (another port)."""
    with FakeUpstream() as elsewhere:
        yield elsewhere


def other_origins(elsewhere: FakeUpstream, upstream: FakeUpstream) -> Dict[str, str]:
    """Redirect targets that are another origin than ``upstream``'s, by kind."""
    path = "/v1/chat/completions"
    return {
        "another port": f"{elsewhere.url}{path}",
        "scheme-relative, another port": f"//127.0.0.1:{elsewhere.port}{path}",
        "another host name": f"http://localhost:{upstream.port}{path}",
        "another scheme": f"https://127.0.0.1:{upstream.port}{path}",
        "with credentials": f"http://user:pw@127.0.0.1:{elsewhere.port}{path}",
    }


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize(
    "target",
    [
        "another port",
        "scheme-relative, another port",
        "another host name",
        "another scheme",
        "with credentials",
    ],
)
def test_cross_origin_redirect_is_an_error_and_sends_nothing_there(
    client: PassthroughClient,
    upstream: FakeUpstream,
    elsewhere: FakeUpstream,
    status: int,
    target: str,
) -> None:
    """A 307/308 to another origin raises ``APIStatusError``; the other origin gets nothing."""
    elsewhere.clear()
    upstream.enqueue(Reply.redirect(status, other_origins(elsewhere, upstream)[target]))
    with pytest.raises(APIStatusError) as info:
        chat(client, provider_data={"token": "Bearer forwarded", "tenant": "acme"})
    assert status == info.value.status_code
    assert (elsewhere.requests, len(upstream.requests)) == ([], 1)


@pytest.mark.parametrize("status", [301, 302, 303])
def test_redirect_that_would_change_the_method_is_an_error(
    client: PassthroughClient, upstream: FakeUpstream, status: int
) -> None:
    """A 301/302/303, even to the same origin, raises with that status and is not followed."""
    upstream.enqueue(Reply.redirect(status, "/v1/chat/completions"))
    with pytest.raises(APIStatusError) as info:
        chat(client)
    assert (status, 1) == (info.value.status_code, len(upstream.requests))


def test_same_origin_redirect_keeps_method_body_and_headers(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A same-origin 307 is followed with the same method, body and headers."""
    upstream.enqueue(Reply.redirect(307, "/v1/chat/completions?moved=1"))
    reply = chat(client, provider_data={"tenant": "acme"})
    first, second = upstream.requests
    assert reply.choices[0].message.content == "hi"
    assert ("POST", first.body) == (second.method, second.body)
    assert [second.headers["x-tenant"], second.headers["authorization"]] == ["acme", "Bearer k"]


def test_a_sixth_redirect_is_an_error(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Five same-origin redirects are followed; the sixth raises."""
    upstream.enqueue(Reply.redirect(307, "/v1/chat/completions"), times=6)
    with pytest.raises(APIStatusError) as info:
        chat(client)
    assert (info.value.status_code, len(upstream.requests)) == (307, 6)


def test_cookies_set_by_the_service_are_never_sent_back(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A ``Set-Cookie`` from one call never reaches the next (one client, many tenants)."""
    body = {"object": "list", "data": []}
    upstream.enqueue(Reply.json(200, body, headers={"Set-Cookie": "session=tenant-a; Path=/"}))
    client.models(refresh=True)
    chat(client)
    assert [r.headers.get("cookie") for r in upstream.requests] == [None, None]


# -- TLS -------------------------------------------------------------------------------


@pytest.fixture(name="ca", scope="module")
def fixture_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="ca_file", scope="module")
def fixture_ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    """A server context for 127.0.0.1 that speaks TLS up to ``maximum``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = maximum
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_tls13_minimum_refuses_a_tls12_only_server(ca: trustme.CA, ca_file: Path) -> None:
    """``min_version: TLSv1.3`` against a TLS 1.2-only server fails; no request gets through."""
    with FakeUpstream(ssl_context=server_context(ca, ssl.TLSVersion.TLSv1_2)) as server:
        tls = {"verify": str(ca_file), "min_version": "TLSv1.3"}
        config = {"base_url": server.url, "api_key": "k", "network": {"tls": tls}}
        client = PassthroughClient(config, environ={})
        with client, pytest.raises(APIConnectionError) as info:
            chat(client)
        assert "TLS" in str(info.value)
        # not retried: one connection, and the server records its failure after its alert
        deadline = time.monotonic() + 5
        while not server.tls_failures and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (server.requests, server.connections_opened) == ([], 1)


def test_tls12_only_server_is_reached_without_a_minimum(ca: trustme.CA, ca_file: Path) -> None:
    """The same server is reachable without the minimum (so the refusal above is the policy)."""
    with FakeUpstream(ssl_context=server_context(ca, ssl.TLSVersion.TLSv1_2)) as server:
        config = {"base_url": server.url, "network": {"tls": {"verify": str(ca_file)}}}
        with PassthroughClient(config, environ={}) as client:
            chat(client)
        assert [r.tls_version for r in server.requests] == ["TLSv1.2"]


def verify_warnings(caplog: pytest.LogCaptureFixture) -> int:
    """How many ``verify: false`` warnings were logged so far."""
    return sum("verification is disabled" in r.getMessage() for r in caplog.records)


def test_verify_false_warns_exactly_once_per_client(
    ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    """Each client with ``verify: false`` logs one warning, however many calls it makes."""
    caplog.set_level(logging.DEBUG)
    with FakeUpstream(ssl_context=server_context(ca, ssl.TLSVersion.TLSv1_3)) as server:
        config = {"base_url": server.url, "network": {"tls": {"verify": False}}}
        counts = []
        for _ in range(2):
            with PassthroughClient(config, environ={}) as client:
                for _ in range(3):
                    chat(client)
                client.models()
            counts.append(verify_warnings(caplog))
    assert counts == [1, 2]
