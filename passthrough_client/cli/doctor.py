"""``passthrough-client doctor``: check the way to the service, step by step.

Steps, in order, each printed as ``ok``, ``FAILED`` or ``skipped`` with details:

1. ``configuration``: load it and build the client (no traffic);
2. ``route``: direct or through which proxy, and why (the setting that chose the proxy,
   or the ``no_proxy`` entry that matched);
3. ``TCP connect``: to the proxy or the service, within the connect timeout;
4. ``proxy TLS`` (HTTPS proxies only), ``CONNECT`` (proxied ``https://`` only) and
   ``TLS`` (``https://`` only): the handshakes done here with the client's own
   ``ssl.SSLContext`` objects, showing version, cipher, certificate subject, issuer
   and expiry;
5. ``GET .../v1/models``: status, latency and model count, sent by the client's session
   (not retried).

The first failed step ends the run: exit status 1, and a line on stderr naming it.
Nothing printed contains an API key, a proxy password or a credential header.
"""

from __future__ import annotations

import base64
import socket
import ssl
import sys
import time
from typing import Any, Callable, List, Mapping, Optional, TextIO, Tuple, TypeVar
from urllib.parse import unquote, urlsplit

from .._client import PassthroughClient
from .._net.errors import translate
from .._net.transport import Outgoing, Timeout, Transport
from .._responses import decode_json, snippet, status_error
from .._rules.proxy import mask_url
from .._version import __version__
from ..exceptions import APIConnectionError, InvalidResponseError, PassthroughError
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    describe_error,
    mask_header,
    open_client,
    source_of,
)

__all__ = ["run_doctor"]

_T = TypeVar("_T")
_Address = Tuple[str, int]
_READ_CAP = 30.0  # the doctor's GET waits at most this long for an answer
_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}
_NAMES.update({"countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"})


class _Failed(Exception):
    """A step failed; the message says why (never a secret)."""


class _Report:
    """Prints one aligned block per step."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed: Optional[str] = None

    def line(self, name: str, status: str, details: List[str]) -> None:
        first, *rest = details or [""]
        self.out.write(f"{name:<16}{status:<8}{first}".rstrip() + "\n")
        self.out.writelines(f"{'':<24}{more}\n" for more in rest)
        self.out.flush()

    def step(self, name: str, check: Callable[[], Tuple[_T, List[str]]]) -> _T:
        """Run ``check``; print ``ok`` and its details, or ``FAILED`` and re-raise."""
        try:
            value, details = check()
        except _Failed as exc:
            self.failed = f"the {name!r} step failed: {' '.join(str(exc).split())}"
            self.line(name, "FAILED", str(exc).splitlines())
            raise
        self.line(name, "ok", details)
        return value


# ------------------------------------------------------------------ steps


def _configuration(
    path: Optional[str],
    provider_data: Optional[str],
    environ: Optional[Mapping[str, str]],
    provider_id: Optional[str] = None,
) -> Tuple[Tuple[PassthroughClient, str, dict[str, str]], List[str]]:
    try:
        client = open_client(path, max_retries=0, environ=environ, provider_id=provider_id)
        url, headers = client._requests.build("/models", provider_data, None)
    except PassthroughError as exc:
        raise _Failed(describe_error(exc)[1]) from None
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    details = [
        source_of(path, provider_id),
        f"service: {mask_url(url.rpartition('/models')[0])}",
        f"Authorization: {mask_header('Authorization', auth) if auth else 'none (no API key)'}",
    ]
    return (client, url, headers), details


def _address(url: str) -> _Address:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def _route(transport: Transport, url: str) -> Tuple[Optional[str], List[str]]:
    route = transport.proxy_plan.route(url)
    host, port = _address(url)
    if route.proxy_url:
        details = [f"{host}:{port} via proxy {mask_url(route.proxy_url)} ({route.reason})"]
    else:
        details = [f"{host}:{port} direct ({route.reason})"]
    ignored = transport.proxy_plan.no_proxy.ignored
    if ignored:
        details.append(f"ignored malformed no_proxy entries: {', '.join(ignored)}")
    return route.proxy_url, details


def _why(exc: OSError, seconds: float) -> str:
    if isinstance(exc, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(exc, socket.timeout):
        return f"no answer within {seconds:g} s (connect timeout)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return (exc.strerror or type(exc).__name__).lower()


def _connect(address: _Address, what: str, seconds: float) -> Tuple[socket.socket, List[str]]:
    started = time.monotonic()
    try:
        sock = socket.create_connection(address, timeout=seconds)
    except OSError as exc:
        raise _Failed(f"{what} {address[0]}:{address[1]}: {_why(exc, seconds)}") from None
    peer = sock.getpeername()[0]
    elapsed = (time.monotonic() - started) * 1000
    return sock, [f"{what} {address[0]}:{address[1]} ({peer}) in {elapsed:.1f} ms"]


def _rdns(name: Any) -> str:
    return ", ".join(f"{_NAMES.get(k, k)}={v}" for rdn in name for k, v in rdn)


def _tls_details(tls: Any) -> List[str]:
    cipher = tls.cipher()
    details = [f"{tls.version()}, cipher {cipher[0] if cipher else '?'}"]
    cert = tls.getpeercert()
    if not cert:
        return [*details, "certificate not verified (network.tls.verify: false): no details"]
    left = (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400
    details += [f"subject: {_rdns(cert.get('subject', ()))}"]
    names = [f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ())]
    details += [f"names: {', '.join(names)}"] if names else []
    details += [f"issuer: {_rdns(cert.get('issuer', ()))}"]
    soon = " - renew soon" if left < 14 else ""
    return [*details, f"expires: {cert['notAfter']} ({left:.0f} days left{soon})"]


def _handshake(
    sock: Any, ctx: ssl.SSLContext, host: str, fail: Callable[[Exception], str]
) -> Tuple[Any, List[str]]:
    try:
        if isinstance(sock, ssl.SSLSocket):  # TLS inside the TLS of an HTTPS proxy
            from urllib3.util.ssltransport import SSLTransport

            tls: Any = SSLTransport(sock, ctx, server_hostname=host)
        else:
            tls = ctx.wrap_socket(sock, server_hostname=host)
    except (OSError, ValueError) as exc:
        raise _Failed(fail(exc)) from None
    return tls, _tls_details(tls)


def _connect_request(proxy_url: str, address: _Address) -> bytes:
    target = f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    lines.append(f"User-Agent: passthrough-client/{__version__} doctor")
    parts = urlsplit(proxy_url)
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(pair.encode("latin-1")).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _tunnel(sock: Any, proxy_url: str, address: _Address) -> Tuple[None, List[str]]:
    where = f"proxy {mask_url(proxy_url)}"
    try:
        sock.sendall(_connect_request(proxy_url, address))
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            data = sock.recv(4096)
            if not data:
                raise _Failed(f"{where} closed the connection without answering CONNECT")
            head += data
    except OSError as exc:
        raise _Failed(f"{where} did not answer CONNECT: {_why(exc, sock.gettimeout())}") from None
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].startswith("2"):
        answer = " ".join(parts[1:]) or repr(status_line)
        raise _Failed(f"{where} refused CONNECT to {address[0]}:{address[1]} ({answer})")
    return None, [f"{where}: {' '.join(parts[1:])}"]


def _get_models(
    client: PassthroughClient, url: str, headers: dict[str, str]
) -> Tuple[None, List[str]]:
    transport: Transport = client._transport
    timeout = Timeout(transport.timeout.connect, min(transport.timeout.read, _READ_CAP))
    started = time.monotonic()
    try:
        response = transport.send(Outgoing("GET", url, headers), timeout=timeout, stream=False)
    except APIConnectionError as exc:
        raise _Failed(str(exc)) from None
    elapsed = f"HTTP {response.status_code} in {(time.monotonic() - started) * 1000:.1f} ms"
    # the service may quote the key or a forwarded value: every sent value is masked
    masker = transport.masker(None, tuple(v for k, v in headers.items() if k.lower() != "accept"))
    if response.status_code >= 300:
        error = status_error(response.status_code, response.headers, response.content, None, masker)
        raise _Failed(f"{elapsed}: {error.message}")
    try:
        data = decode_json(response.content).get("data")
    except (InvalidResponseError, AttributeError):
        data = None
    if not isinstance(data, list):
        shown = snippet(response.content, masker=masker)
        raise _Failed(f"{elapsed}, but not a model list: {shown}")
    ids = [str(m.get("id")) for m in data if isinstance(m, dict)]
    return None, [f"{elapsed}, {len(ids)} models{_allowed(client, ids)}", *_shown(ids)]


def _allowed(client: PassthroughClient, ids: List[str]) -> str:
    allowed = client.config.allowed_models
    if allowed is None:
        return ""
    return f" ({sum(i in allowed for i in ids)} allowed by allowed_models)"


def _shown(ids: List[str]) -> List[str]:
    if not ids:
        return []
    more = f", ... ({len(ids) - 10} more)" if len(ids) > 10 else ""
    return [", ".join(ids[:10]) + more]


# ------------------------------------------------------------------ the run


def _contexts(client: PassthroughClient) -> Tuple[ssl.SSLContext, ssl.SSLContext, Any]:
    """The adapter's contexts: direct, proxied (service inside a tunnel), proxy hop."""
    adapter: Any = client._transport.session.get_adapter("https://")
    return adapter.ssl_context, adapter.proxied_ssl_context, adapter.proxy_ssl_context


def _through(report: _Report, client: PassthroughClient, url: str, proxy: Optional[str]) -> None:
    """TCP connect, then the TLS hops and the tunnel (closed before the GET)."""
    connect = client._transport.timeout.connect
    service = _address(url)
    target = _address(proxy) if proxy else service
    what = "proxy" if proxy else "service"
    sock: Any = report.step("TCP connect", lambda: _connect(target, what, connect))
    direct, proxied, proxy_ctx = _contexts(client)
    route = client._transport.route(url)
    try:
        if proxy and proxy.lower().startswith("https:"):
            proxy_host = target[0]

            def proxy_fail(exc: Exception) -> str:
                return f"TLS handshake with proxy {mask_url(proxy)} failed: {exc}"

            sock = report.step(
                "proxy TLS", lambda: _handshake(sock, proxy_ctx, proxy_host, proxy_fail)
            )
        if urlsplit(url).scheme != "https":
            report.line("TLS", "skipped", ["plain http:// (no TLS)"])
            return
        if proxy:
            report.step("CONNECT", lambda: _tunnel(sock, proxy, service))

        def tls_fail(exc: Exception) -> str:
            if isinstance(exc, socket.timeout):
                return f"no TLS answer from {route.address} within {connect:g} s (connect timeout)"
            return str(translate(exc, route))

        ctx = proxied if proxy else direct
        sock = report.step("TLS", lambda: _handshake(sock, ctx, service[0], tls_fail))
    finally:
        sock.close()


def _check(
    report: _Report,
    path: Optional[str],
    provider_data: Optional[str],
    environ: Optional[Mapping[str, str]],
    provider_id: Optional[str] = None,
) -> None:
    client, url, headers = report.step(
        "configuration", lambda: _configuration(path, provider_data, environ, provider_id)
    )
    with client:
        proxy = report.step("route", lambda: _route(client._transport, url))
        _through(report, client, url, proxy)
        report.step(f"GET {urlsplit(url).path}", lambda: _get_models(client, url, headers))


def run_doctor(
    config_path: Optional[str],
    provider_data: Optional[str],
    out: TextIO,
    *,
    err: Optional[TextIO] = None,
    environ: Optional[Mapping[str, str]] = None,
    provider_id: Optional[str] = None,
) -> int:
    """Check each step on the way to the service; 0 when all pass, 1 when one fails.

    A failed configuration step exits 2, like a configuration error in any command.

    ``config_path`` ``None`` means the sample configuration (``PASSTHROUGH_URL``);
    ``provider_data`` is JSON text, used as a call would use it (e.g. for a
    ``passthrough_url``). ``provider_id`` picks a provider of a run configuration.
    The failing step is named on ``err`` (default stderr).
    """
    report = _Report(out)
    try:
        _check(report, config_path, provider_data, environ, provider_id)
    except _Failed:
        (err or sys.stderr).write(f"error: doctor: {report.failed}\n")
        if report.failed and report.failed.startswith("the 'configuration' step"):
            return EXIT_USAGE
        return EXIT_FAILURE
    out.write("all checks passed\n")
    return EXIT_OK
