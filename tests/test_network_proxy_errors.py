"""Proxy failures in words (DESIGN §6, §4): a 407 from a forwarding proxy reads like a
refused CONNECT and is not retried; a TLS failure on the hop to an HTTPS proxy names the
proxy, not the service; an interception proxy gets a hint; timeouts say their value."""

from __future__ import annotations

import socket
import ssl
import struct
import threading

import pytest
from netutil import Intercept, Pki, RecordingProxy, client_for
from scriptutil import ScriptServer, read_request

from passthrough_client import APIConnectionError, APIStatusError, APITimeoutError
from passthrough_client.testing import FakeUpstream, Reply

SQUID_407 = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">\n<html><head>'
    "<title>ERROR: Cache Access Denied</title></head><body>"
    + "<p>Sorry, you are not currently allowed to request this page.</p>" * 20
    + "</body></html>"
)
FAST = 0.3


# --- 407 from a forwarding proxy (an http:// service) ------------------------------------


def test_forwarding_proxy_407_is_a_connection_error_naming_the_proxy() -> None:
    """A squid-like 407 page to a forwarded request: APIConnectionError naming the proxy
    (password masked) and 407, not ``HTTP 407: <html...>``; sent once with max_retries=2."""
    with FakeUpstream() as squid:  # answers the absolute-form request like a proxy would
        squid.enqueue(Reply.text(407, SQUID_407, content_type="text/html"), times=3)
        proxy_url = f"http://bob:hunter2@127.0.0.1:{squid.port}"
        client = client_for("http://127.0.0.1:1", proxy={"url": proxy_url}, max_retries=2)
        with pytest.raises(APIConnectionError) as caught:
            client.models()
        expected = (
            f"proxy http://bob:**********@127.0.0.1:{squid.port} refused to forward the "
            "request to 127.0.0.1:1 (407 Proxy Authentication Required)"
        )
        assert (str(caught.value), len(squid.requests)) == (expected, 1)
    assert "<" not in str(caught.value) and "hunter2" not in repr(caught.value)


def test_forwarding_proxy_with_wrong_credentials_is_asked_once() -> None:
    """The recording proxy's own 407 for wrong credentials: one request, no retry."""
    with RecordingProxy(credentials="bob:right") as proxy:
        section = {"url": proxy.url("bob:wrong")}
        client = client_for("http://127.0.0.1:1", proxy=section, max_retries=2)
        with pytest.raises(APIConnectionError, match=r"refused to forward.*\(407"):
            client.models()
    assert len(proxy.records) == 1


def test_a_407_without_a_proxy_stays_a_status_error(upstream: FakeUpstream) -> None:
    """Directly from the service, a 407 is the service's answer: an APIStatusError."""
    upstream.enqueue(Reply.json(407, {"error": {"message": "odd"}}))
    with pytest.raises(APIStatusError) as caught:
        client_for(upstream.url).models()
    assert caught.value.status_code == 407


# --- TLS on the hop to an HTTPS proxy ------------------------------------------------------


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED], ids=["tls12", "max"]
)
def test_https_proxy_demanding_a_client_certificate_is_named(
    origin: Pki, proxy_pki: Pki, scheme: str, version: ssl.TLSVersion
) -> None:
    """An HTTPS proxy that requires a client certificate: the error names the TLS
    handshake with the proxy (password masked), never the service's client_cert."""
    ctx = proxy_pki.server_context(client_ca=proxy_pki, require_client_cert=True)
    ctx.maximum_version = version
    with (
        RecordingProxy(ssl_context=ctx) as proxy,
        FakeUpstream(ssl_context=origin.server_context()) as service,
    ):
        section = {"url": proxy.url("bob:hunter2"), "cacert": str(proxy_pki.ca_file)}
        url = service.url if scheme == "https" else "http://127.0.0.1:1"
        client = client_for(url, proxy=section, tls={"verify": str(origin.ca_file)})
        with pytest.raises(APIConnectionError) as caught:
            client.models()
    message = str(caught.value)
    assert message.startswith(
        f"TLS handshake with proxy https://bob:**********@127.0.0.1:{proxy.port}"
    )
    assert "the client presents none to a proxy" in message
    assert ("hunter2" in message, service.requests) == (False, [])


def test_https_proxy_resetting_after_the_handshake_is_named(proxy_pki: Pki) -> None:
    """A proxy that completes TLS 1.3, then resets the connection before answering CONNECT
    (how a proxy refuses a missing client certificate when its alert is lost): the error
    names the TLS hop to the proxy (password masked), not a reset at the service."""
    ctx = proxy_pki.server_context()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            raw = socket.socket(fileno=tls.detach())  # no close_notify: a bare reset
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        section = {"url": f"https://bob:hunter2@127.0.0.1:{port}", "cacert": str(proxy_pki.ca_file)}
        client = client_for("https://127.0.0.1:1", proxy=section, max_retries=0)
        with pytest.raises(APIConnectionError) as caught:
            client.models()
    finally:
        thread.join(5)
        listener.close()
    message = str(caught.value)
    assert message.startswith(f"TLS handshake with proxy https://bob:**********@127.0.0.1:{port}")
    assert "hunter2" not in message


def test_service_demanding_a_client_certificate_through_a_proxy_names_the_service(
    origin: Pki, proxy_pki: Pki
) -> None:
    """The service (not the HTTPS proxy) wants a certificate: the service is named."""
    service_ctx = origin.server_context(client_ca=origin, require_client_cert=True)
    with (
        RecordingProxy(ssl_context=proxy_pki.server_context()) as proxy,
        FakeUpstream(ssl_context=service_ctx) as service,
    ):
        section = {"url": proxy.url(), "cacert": str(proxy_pki.ca_file)}
        client = client_for(service.url, proxy=section, tls={"verify": str(origin.ca_file)})
        with pytest.raises(APIConnectionError) as caught:
            client.models()
    assert str(caught.value).startswith(f"TLS handshake with 127.0.0.1:{service.port} via proxy")
    assert "network.tls.client_cert" in str(caught.value)


# --- an intercepting proxy -----------------------------------------------------------------


def test_interception_failure_without_cacert_hints_at_the_setting(
    origin: Pki, proxy_pki: Pki
) -> None:
    """A re-signed certificate fails verification and no cacert is set: the error says
    to set network.proxy.cacert."""
    intercept = Intercept(proxy_pki, origin.client_context())
    with (
        RecordingProxy(intercept=intercept) as proxy,
        FakeUpstream(ssl_context=origin.server_context()) as service,
    ):
        client = client_for(
            service.url, proxy={"url": proxy.url()}, tls={"verify": str(origin.ca_file)}
        )
        with pytest.raises(APIConnectionError) as caught:
            client.models()
    assert "certificate verify failed" in str(caught.value)
    assert f"if proxy http://127.0.0.1:{proxy.port} intercepts TLS" in str(caught.value)
    assert "network.proxy.cacert" in str(caught.value)


def test_direct_verification_failure_has_no_proxy_hint(origin: Pki, stranger: Pki) -> None:
    """Without a proxy the hint would mislead: it is not given."""
    with FakeUpstream(ssl_context=origin.server_context()) as service:
        client = client_for(service.url, tls={"verify": str(stranger.ca_file)})
        with pytest.raises(APIConnectionError) as caught:
            client.models()
    assert "certificate verify failed" in str(caught.value)
    assert "network.proxy.cacert" not in str(caught.value)


# --- timeout values ------------------------------------------------------------------------


def test_read_timeout_message_says_its_value(upstream: FakeUpstream) -> None:
    """``127.0.0.1:PORT sent no data within the read timeout (0.3 s)``."""
    upstream.enqueue(Reply.hang(10.0))  # it ends when the client gives up
    with pytest.raises(APITimeoutError) as caught:
        client_for(upstream.url, read=FAST).models()
    expected = f"127.0.0.1:{upstream.port} sent no data within the read timeout (0.3 s)"
    assert str(caught.value) == expected


def test_body_stall_message_says_the_read_timeout_value() -> None:
    """Head at once, then half the body and silence: the read timeout and its value."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b'Content-Length: 40\r\n\r\n{"data": [')
        conn.recv(1)  # silence until the client gives up and closes

    with ScriptServer(script) as server, pytest.raises(APITimeoutError) as caught:
        client_for(server.url, read=FAST).models()
    expected = f"127.0.0.1:{server.port} sent no data within the read timeout (0.3 s)"
    assert str(caught.value) == expected


def test_stream_read_timeout_message_says_its_value(upstream: FakeUpstream) -> None:
    """A stream that stalls after its first event: the read timeout and its value."""
    event = 'data: {"choices": []}\n\n'
    upstream.enqueue(Reply.sse([event], end="hang"), path="/v1/chat/completions")
    messages = [{"role": "user", "content": "hi"}]
    client = client_for(upstream.url)
    with pytest.raises(APITimeoutError) as caught:
        list(client.chat(model="m", messages=messages, stream=True, timeout=(5, FAST)))
    assert "within the read timeout (0.3 s)" in str(caught.value)


def test_connect_timeout_message_names_the_step_and_value() -> None:
    """A proxy that never answers CONNECT: the step and the connect timeout's value."""
    with RecordingProxy(stall=True) as proxy:
        client = client_for("https://127.0.0.1:1", proxy={"url": proxy.url()}, connect=FAST)
        with pytest.raises(APITimeoutError) as caught:
            client.models()
    expected = "the proxy's answer to CONNECT did not finish within the connect timeout (0.3 s)"
    assert expected in str(caught.value)
