"""Foreign exceptions -> this package's, in words, in exactly one place.

requests, urllib3, ``ssl`` and ``socket`` exceptions never leave the package: they are
translated by :func:`translate` into :class:`APIConnectionError` /
:class:`APITimeoutError` (the original is chained as ``__cause__``) with a message
that says which step failed and why. Messages are built from host names, ports,
masked proxy URLs and reasons, never from header values or secrets.
"""

from __future__ import annotations

import http.client
import re
import ssl
import traceback
from typing import Optional, Tuple, Type, Union

import attrs
import requests
from urllib3 import exceptions as u3

from .._rules.retry import should_retry_connect_status
from ..exceptions import APIConnectionError, APITimeoutError
from .adapter import ConnectStepTimeout, StaleConnectionError
from .compat import NAME_RESOLUTION_ERRORS

__all__ = ["Route", "is_connect_failure", "is_stale", "is_tls_failure", "translate"]


@attrs.frozen
class Route:
    """Where a request went, for error messages.

    ``address`` is the service's ``host:port``, ``proxy`` the masked proxy URL (``None``
    for a direct connection), ``trust`` says which CA bundle verified the service and
    ``proxy_trust`` which one verified an HTTPS proxy. ``proxy_tls_only``: the only TLS
    on the route is the hop to an HTTPS proxy (an ``http://`` service); ``proxy_cacert``:
    ``network.proxy.cacert`` is set. ``connect_timeout``/``read_timeout``: the call's
    timeouts in seconds, for messages (``None``: not known here).
    """

    address: str
    proxy: Optional[str]
    trust: str
    proxy_trust: str = "the default CA bundle"
    proxy_tls_only: bool = False
    proxy_cacert: bool = False
    connect_timeout: Optional[float] = None
    read_timeout: Optional[float] = None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (args, reason, cause, context)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        nested = [a for a in current.args if isinstance(a, BaseException)]
        for item in (reason, *nested, current.__cause__, current.__context__):
            if isinstance(item, BaseException):
                todo.append(item)
    return seen


def _find(
    exc: BaseException, kind: Union[Type[BaseException], Tuple[Type[BaseException], ...]]
) -> Optional[BaseException]:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def is_stale(exc: BaseException) -> bool:
    """Whether a reused keep-alive connection failed before any response byte."""
    return _find(exc, StaleConnectionError) is not None


def is_tls_failure(exc: BaseException) -> bool:
    """Whether a TLS handshake failed (never retried)."""
    if _timed_out_connecting(exc):
        return False
    return isinstance(exc, requests.exceptions.SSLError) or (
        _find(exc, ssl.SSLError) is not None and not isinstance(exc, requests.ReadTimeout)
    )


def is_connect_failure(exc: BaseException) -> bool:
    """Whether the connection was never established: refused, DNS, connect timeout, a
    proxy that could not be reached or answered CONNECT with 5xx. A failed TLS handshake
    is not one (it is never retried), nor a CONNECT refused with 407, 403 or another 4xx:
    repeating credentials the proxy refused only locks accounts."""
    if _timed_out_connecting(exc) or _find(exc, u3.NewConnectionError) is not None:
        return True
    if is_tls_failure(exc):
        return False
    status = tunnel_status(exc)
    if status is not None:
        return should_retry_connect_status(status)
    return isinstance(exc, requests.exceptions.ProxyError)


def tunnel_status(exc: BaseException) -> Optional[int]:
    """The status a proxy answered CONNECT with, when that is what failed."""
    for item in _chain(exc):
        match = _TUNNEL_STATUS.search(str(item))
        if match:
            return int(match.group(1))
    return None


def _timed_out_connecting(exc: BaseException) -> bool:
    """A connect timeout (urllib3's ``NewConnectionError`` is one too, by inheritance)."""
    found = _find(exc, u3.ConnectTimeoutError)
    return found is not None and not isinstance(found, u3.NewConnectionError)


_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})(?: ([^'\")]*))?")


def translate(exc: BaseException, route: Route) -> APIConnectionError:
    """Our exception for a transport failure, with a message that names the step."""
    where = f"{route.address} via proxy {route.proxy}" if route.proxy else route.address
    if _timed_out_connecting(exc):
        return APITimeoutError(_connect_timeout_message(exc, where, route))
    if isinstance(exc, requests.exceptions.ReadTimeout) or _find(exc, u3.ReadTimeoutError):
        within = _within("read", exc, route.read_timeout)
        return APITimeoutError(f"{route.address} sent no data within {within}")
    if route.proxy and is_tls_failure(exc) and _on_proxy_hop(exc, route):
        step = f"TLS handshake with proxy {route.proxy}"
        return APIConnectionError(_tls_message(exc, step, route.proxy_trust, proxy_hop=True))
    if _dropped_after_proxy_handshake(exc, route):
        return APIConnectionError(
            f"TLS handshake with proxy {route.proxy} failed: {_DROPPED_AFTER_HANDSHAKE}"
        )
    if isinstance(exc, requests.exceptions.ProxyError) and route.proxy:
        return APIConnectionError(_proxy_message(exc, route))
    if is_tls_failure(exc):
        message = _tls_message(exc, f"TLS handshake with {where}", route.trust)
        return APIConnectionError(message + _interception_hint(exc, route))
    return APIConnectionError(_connection_message(exc, where))


_TIMEOUT_VALUE = re.compile(r"\((connect|read) timeout=([0-9.]+)\)")


def _within(kind: str, exc: BaseException, known: Optional[float]) -> str:
    """``the read timeout (30 s)``: the value urllib3 reports, else the call's."""
    seconds: Optional[float] = known
    for item in _chain(exc):
        match = _TIMEOUT_VALUE.search(str(item))
        if match and match.group(1) == kind:
            seconds = float(match.group(2))
            break
    return f"the {kind} timeout ({seconds:g} s)" if seconds is not None else f"the {kind} timeout"


def _on_proxy_hop(exc: BaseException, route: Route) -> bool:
    """Whether a TLS failure happened on the hop to an HTTPS proxy, not with the service.

    Under TLS 1.3 a proxy that demands a client certificate says so only when the client
    first reads from it, i.e. while reading the answer to CONNECT: the failure then
    surfaces inside ``_tunnel`` (not as a ``ProxyError``), so the frames tell.
    """
    if not route.proxy or not route.proxy.lower().startswith("https:"):
        return False
    if route.proxy_tls_only or isinstance(exc, requests.exceptions.ProxyError):
        return True
    error = _find(exc, ssl.SSLError)
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    return any(frame.name in ("_tunnel", "_connect_tls_proxy") for frame in frames)


_DROPPED_AFTER_HANDSHAKE = (
    "the proxy closed the connection right after the handshake, before answering CONNECT"
    " (under TLS 1.3 this is how a proxy that requires a client certificate refuses it;"
    " the client presents none to a proxy)"
)


def _dropped_after_proxy_handshake(exc: BaseException, route: Route) -> bool:
    """A reset or broken pipe inside the CONNECT exchange with an HTTPS proxy.

    Under TLS 1.3 the client's handshake is over before the proxy checks the client
    certificate; the proxy's refusal then arrives as an alert (handled as a TLS failure)
    or, when the connection is torn down first, as a reset while CONNECT is sent or read.
    """
    if not route.proxy or not route.proxy.lower().startswith("https:"):
        return False
    error = _find(exc, (ConnectionResetError, BrokenPipeError))
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    return any(frame.name == "_tunnel" for frame in frames)


def _interception_hint(exc: BaseException, route: Route) -> str:
    """A verification failure through a proxy without ``network.proxy.cacert``: the proxy
    may intercept TLS and re-sign the service's certificate with its own CA."""
    if not route.proxy or route.proxy_cacert:
        return ""
    if not isinstance(_find(exc, ssl.SSLError), ssl.SSLCertVerificationError):
        return ""
    return (
        f"; if proxy {route.proxy} intercepts TLS, set network.proxy.cacert to the CA "
        "it re-signs certificates with"
    )


def _connect_timeout_message(exc: BaseException, where: str, route: Route) -> str:
    found = _find(exc, ConnectStepTimeout)
    if isinstance(found, ConnectStepTimeout):
        step = found.step
    elif route.proxy:
        step = f"the TCP connect to proxy {route.proxy}"
    else:
        step = "the TCP connect"
    within = _within("connect", exc, route.connect_timeout)
    return f"connecting to {where} timed out: {step} did not finish within {within}"


def _proxy_message(exc: BaseException, route: Route) -> str:
    proxy, address = route.proxy, route.address
    for item in _chain(exc):
        match = _TUNNEL_STATUS.search(str(item))
        if match:
            status = match.group(1)
            words = (match.group(2) or "").strip()
            detail = f"{status} {words}".strip()
            return f"proxy {proxy} refused CONNECT to {address} ({detail})"
    if _find(exc, ssl.SSLError) is not None:
        step = f"TLS handshake with proxy {proxy}"
        return _tls_message(exc, step, route.proxy_trust, proxy_hop=True)
    reason = _connection_reason(exc)
    return f"could not reach proxy {proxy} for {address}: {reason}"


_TLS_REASONS = (
    ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"),
    ("WRONG_VERSION_NUMBER", "the server did not answer with TLS (plain HTTP on this port?)"),
    ("UNSUPPORTED_PROTOCOL", "no TLS version in common (check network.tls.min_version)"),
    ("PROTOCOL_VERSION", "no TLS version in common (check network.tls.min_version)"),
    ("NO_PROTOCOLS_AVAILABLE", "no TLS version in common (check network.tls.min_version)"),
    ("NO_SHARED_CIPHER", "no cipher in common (check network.tls.ciphers)"),
    ("NO_CIPHERS_AVAILABLE", "no cipher in common (check network.tls.ciphers)"),
    ("CERTIFICATE_REQUIRED", "the server requires a client certificate (network.tls.client_cert)"),
    (
        "HANDSHAKE_FAILURE",
        "handshake failure (no cipher in common, or the server requires a client certificate;"
        " check network.tls.ciphers and network.tls.client_cert)",
    ),
    ("UNKNOWN_CA", "the server rejected the client certificate (unknown CA)"),
    ("BAD_CERTIFICATE", "the server rejected the client certificate"),
)


_NO_CERT_TO_PROXY = (
    "the proxy requires a client certificate, and the client presents none to a proxy"
    " (network.tls.client_cert is for the service only)"
)
_PROXY_TLS_REASONS = (
    ("CERTIFICATE_REQUIRED", _NO_CERT_TO_PROXY),
    (
        "HANDSHAKE_FAILURE",
        "handshake failure (no cipher in common, check network.tls.ciphers; or the proxy"
        " requires a client certificate, and the client presents none to a proxy)",
    ),
    ("UNKNOWN_CA", _NO_CERT_TO_PROXY),
    ("BAD_CERTIFICATE", _NO_CERT_TO_PROXY),
)


def _tls_message(exc: BaseException, step: str, trust: str, *, proxy_hop: bool = False) -> str:
    error = _find(exc, ssl.SSLError)
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or "verification failed"
        return f"{step} failed: certificate verify failed: {detail}; CA bundle used: {trust}"
    text = f"{getattr(error, 'reason', '') or ''} {error}" if error else str(exc)
    reasons = (*_PROXY_TLS_REASONS, *_TLS_REASONS) if proxy_hop else _TLS_REASONS
    reason = next((words for needle, words in reasons if needle in text.upper()), "")
    if not reason and (isinstance(error, ssl.SSLEOFError) or "EOF" in text):
        reason = (
            "the proxy closed the connection during the handshake (it may require a client"
            " certificate, and the client presents none to a proxy)"
            if proxy_hop
            else "the server closed the connection during the handshake "
            "(it may require a client certificate: network.tls.client_cert)"
        )
    if not reason:
        reason = str(getattr(error, "reason", None) or "handshake failed").lower()
    suffix = f"; CA bundle used: {trust}" if "verify" in reason else ""
    return f"{step} failed: {reason}{suffix}"


_BROKE = "the connection broke while reading the response"
_BROKEN_RESPONSES = (
    (
        u3.DecodeError,
        "the response body could not be decoded (it does not match its Content-Encoding)",
    ),
    (http.client.BadStatusLine, f"{_BROKE} (the server did not answer with HTTP)"),
    (http.client.LineTooLong, f"{_BROKE} (a line of the response head is too long)"),
    (u3.InvalidHeader, "the response headers are invalid or contradict each other"),
    (http.client.HTTPException, f"{_BROKE} (the response is not valid HTTP)"),
)


def _connection_reason(exc: BaseException) -> str:
    if _find(exc, NAME_RESOLUTION_ERRORS):
        return "DNS lookup failed"
    if _find(exc, ConnectionRefusedError):
        return "connection refused"
    if _find(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without a response"
    if _find(exc, ConnectionResetError):
        return "connection reset by the server"
    if _find(exc, u3.InvalidChunkLength):  # an IncompleteRead too
        return "the chunked response body is malformed"
    if _find(exc, http.client.IncompleteRead):  # before HTTPException, its base class
        return _BROKE
    for kind, words in _BROKEN_RESPONSES:
        if _find(exc, kind) is not None:
            return words
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return _BROKEN_RESPONSES[3][1]
    if _find(exc, u3.ProtocolError):
        return _BROKE
    error = _find(exc, OSError)
    strerror = getattr(error, "strerror", None)
    if strerror:
        return str(strerror).lower()
    return f"an unexpected transport failure ({type(exc).__name__}) occurred"


def _connection_message(exc: BaseException, where: str) -> str:
    reason = _connection_reason(exc)
    if reason == "DNS lookup failed":
        return f"connection to {where} failed: DNS lookup of the host name failed"
    if reason == "connection refused":
        return f"connection to {where} refused"
    return f"connection to {where} failed: {reason}"
