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
import socket
import ssl
from typing import Optional

import attrs
import requests
from urllib3 import exceptions as u3

from ._adapter import StaleConnectionError
from .exceptions import APIConnectionError, APITimeoutError

__all__ = ["Route", "is_connect_failure", "is_stale", "is_tls_failure", "translate"]


@attrs.frozen
class Route:
    """Where a request went, for error messages: ``host:port`` and the masked proxy."""

    address: str
    proxy: Optional[str]  # masked proxy URL, or None for a direct connection
    trust: str  # which CA bundle verified the service


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


def _find(exc: BaseException, kind: type[BaseException]) -> Optional[BaseException]:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def is_stale(exc: BaseException) -> bool:
    """Whether a reused keep-alive connection failed before any response byte."""
    return _find(exc, StaleConnectionError) is not None


def is_tls_failure(exc: BaseException) -> bool:
    """Whether the TLS handshake failed (never retried)."""
    return isinstance(exc, requests.exceptions.SSLError) or (
        _find(exc, ssl.SSLError) is not None and not isinstance(exc, requests.ReadTimeout)
    )


def is_connect_failure(exc: BaseException) -> bool:
    """Whether the connection was never established (refused, DNS, connect timeout, proxy)."""
    if is_tls_failure(exc):
        return False
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        return True
    return _find(exc, u3.NewConnectionError) is not None


_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})(?: ([^'\")]*))?")


def translate(exc: BaseException, route: Route) -> APIConnectionError:
    """Our exception for a transport failure, with a message that names the step."""
    where = f"{route.address} via proxy {route.proxy}" if route.proxy else route.address
    if isinstance(exc, requests.exceptions.ConnectTimeout) or _find(exc, u3.ConnectTimeoutError):
        return APITimeoutError(f"connecting to {where} timed out (connect timeout)")
    if isinstance(exc, requests.exceptions.ReadTimeout) or _find(exc, u3.ReadTimeoutError):
        return APITimeoutError(f"{route.address} sent no data within the read timeout")
    if isinstance(exc, requests.exceptions.ProxyError) and route.proxy:
        return APIConnectionError(_proxy_message(exc, route.proxy, route.address))
    if is_tls_failure(exc):
        return APIConnectionError(_tls_message(exc, where, route.trust))
    return APIConnectionError(_connection_message(exc, where))


def _proxy_message(exc: BaseException, proxy: str, address: str) -> str:
    for item in _chain(exc):
        match = _TUNNEL_STATUS.search(str(item))
        if match:
            status = match.group(1)
            words = (match.group(2) or "").strip()
            detail = f"{status} {words}".strip()
            return f"proxy {proxy} refused CONNECT to {address} ({detail})"
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
        "handshake failure (no common TLS version or cipher, or a client certificate is required)",
    ),
    ("UNKNOWN_CA", "the server rejected the client certificate (unknown CA)"),
    ("BAD_CERTIFICATE", "the server rejected the client certificate"),
)


def _tls_message(exc: BaseException, where: str, trust: str) -> str:
    error = _find(exc, ssl.SSLError)
    reason = ""
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or "verification failed"
        return (
            f"TLS handshake with {where} failed: certificate verify failed: {detail}; "
            f"CA bundle used: {trust}"
        )
    text = f"{getattr(error, 'reason', '') or ''} {error}" if error else str(exc)
    for needle, words in _TLS_REASONS:
        if needle in text.upper():
            reason = words
            break
    if not reason and (isinstance(error, ssl.SSLEOFError) or "EOF" in text):
        reason = (
            "the server closed the connection during the handshake "
            "(it may require a client certificate)"
        )
    if not reason:
        reason = getattr(error, "reason", None) or "handshake failed"
    suffix = f"; CA bundle used: {trust}" if "verify" in reason else ""
    return f"TLS handshake with {where} failed: {reason}{suffix}"


def _connection_reason(exc: BaseException) -> str:
    if _find(exc, u3.NameResolutionError) or _find(exc, socket.gaierror):
        return "DNS lookup failed"
    if _find(exc, ConnectionRefusedError):
        return "connection refused"
    if _find(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without a response"
    if _find(exc, ConnectionResetError):
        return "connection reset by the server"
    if _find(exc, u3.IncompleteRead) or _find(exc, u3.ProtocolError):
        return "the connection broke while reading the response"
    error = _find(exc, OSError)
    strerror = getattr(error, "strerror", None)
    if strerror:
        return str(strerror).lower()
    return type(exc).__name__


def _connection_message(exc: BaseException, where: str) -> str:
    reason = _connection_reason(exc)
    if reason == "DNS lookup failed":
        return f"DNS lookup of {where} failed"
    if reason == "connection refused":
        return f"connection to {where} refused"
    return f"connection to {where} failed: {reason}"
