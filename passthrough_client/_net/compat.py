"""Every difference between the supported urllib3 versions, in one place.

The package supports urllib3 1.26.x (still pinned by boto3's botocore on Python 3.9 and
by many corporate images) and 2.x (DESIGN §10). What differs, and what this module
does about it:

- **Reading what has arrived.** urllib3 < 2.2 has no ``HTTPResponse.read1``, and its
  ``read(n)`` waits for ``n`` bytes, or for the end of a close-delimited body. Both
  major versions wrap an ``http.client.HTTPResponse`` in ``raw._fp``, whose ``read1``
  removes the chunked framing and returns whatever has arrived:
  :func:`read_available` reads through it, under urllib3's own ``_error_catcher`` so
  failures surface as urllib3's exceptions on every version.
  :func:`read_rest` reads a whole ``Content-Length`` body the same way, in one read
  (Python 3.9's ``http.client`` would read it in pieces and join them).
- **Unblocking a read from another thread.** ``HTTPResponse.shutdown()`` exists only in
  urllib3 >= 2.3 (and ``SSLSocket.shutdown`` drops the TLS object under a reading
  thread). :func:`shutdown_response` shuts the plain socket down, on every version.
- **Short bodies.** urllib3 1.26 accepts a body cut short of its ``Content-Length``
  unless ``enforce_content_length`` is passed (2.x enforces it by default): the pools
  pass :data:`RESPONSE_OPTIONS`.
- **Failures on the hop to an HTTPS proxy.** urllib3 2.x raises them as
  ``ProxyError``; 1.26 as if the service had failed (:func:`proxy_hop_error`).
- **A reset while sending the request.** urllib3 2.x ignores it and reads the response,
  where the server's reason is (a TLS alert for a missing client certificate, an
  error reply); 1.26 raises it. The connections ignore :data:`SEND_ERRORS_LEFT_TO_READ`.
- **Has the connection a socket?** ``HTTPConnection.is_closed`` is 2.x only
  (:func:`connection_closed`).
- **DNS failures.** urllib3 2.x raises ``NameResolutionError``; 1.26 raises
  ``NewConnectionError`` wrapping ``socket.gaierror`` (:data:`NAME_RESOLUTION_ERRORS`).
- **IP-literal hosts with ``check_hostname``.** urllib3 1.26 leaves out
  ``server_hostname`` when wrapping a socket for an IP address (no SNI), so a context
  with ``check_hostname`` on refuses it. :func:`pin_hostname` hands 1.26 a context
  that fills the name in, so OpenSSL still verifies the address (for the service, inside
  a CONNECT tunnel, and on the hop to an HTTPS proxy). 2.x passes it itself.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
from typing import Any, Optional, Tuple, Type

from urllib3 import exceptions as _u3
from urllib3._version import __version__ as _URLLIB3_VERSION

from .chunked import read_frames

__all__ = [
    "NAME_RESOLUTION_ERRORS",
    "RESPONSE_OPTIONS",
    "SEND_ERRORS_LEFT_TO_READ",
    "URLLIB3_MAJOR",
    "connection_closed",
    "pin_hostname",
    "proxy_hop_error",
    "read_available",
    "read_decoded",
    "read_rest",
    "shutdown_response",
]

URLLIB3_MAJOR = int(_URLLIB3_VERSION.split(".")[0])

RESPONSE_OPTIONS = {"enforce_content_length": True}

SEND_ERRORS_LEFT_TO_READ = (BrokenPipeError, ConnectionResetError)

NAME_RESOLUTION_ERRORS: Tuple[Type[BaseException], ...] = (socket.gaierror,) + (
    (_u3.NameResolutionError,) if hasattr(_u3, "NameResolutionError") else ()
)


def connection_closed(conn: Any) -> bool:
    """Whether a urllib3 connection has no open socket (``is_closed`` is urllib3 2.x)."""
    closed = getattr(conn, "is_closed", None)
    if closed is not None:
        return bool(closed)
    return getattr(conn, "sock", None) is None


# ---------------------------------------------------------------- response bodies


def read_available(raw: Any, amount: int) -> bytes:
    """Up to ``amount`` undecoded body bytes as soon as any have arrived; ``b""`` at the end.

    ``raw`` is a urllib3 ``HTTPResponse`` opened with ``preload_content=False``. Handles
    chunked, ``Content-Length`` and close-delimited bodies; never waits for a whole
    HTTP chunk. Content-Encoding is not decoded (the caller decodes). A body cut short
    of its ``Content-Length`` raises urllib3's ``ProtocolError``, as a timeout raises
    ``ReadTimeoutError``.
    """
    fp = getattr(raw, "_fp", None)
    if fp is None or getattr(fp, "fp", None) is None or amount <= 0:
        return b""
    with raw._error_catcher():  # urllib3's exceptions; gives the connection back at the end
        expected = fp.length  # None when chunked or close-delimited
        try:
            data: bytes = read_frames(fp, amount) if fp.chunked else fp.read1(amount)
        except ValueError as exc:  # a negative chunk size passes http.client's own check
            raise http.client.IncompleteRead(b"") from exc
        if not data and expected:  # http.client ends a short body quietly
            raise http.client.IncompleteRead(b"", expected)
        if fp.length == 0:  # Python < 3.12 leaves a finished body open
            fp.close()
    return data


def read_rest(raw: Any, most: int) -> Optional[bytes]:
    """The rest of a ``Content-Length`` body of at most ``most`` bytes, in one read.

    ``None`` (nothing read) when the length is unknown (chunked, close-delimited),
    larger than ``most``, or nothing is left. The bytes are read straight into one
    object of the declared size (``BufferedReader.read``), not in pieces to be joined:
    Python 3.9's ``http.client`` reads in 1 MiB pieces and joins them, 3.10+ reads at
    once; read directly here on every version. Undecoded, like :func:`read_available`;
    a body cut short raises urllib3's ``ProtocolError``, a timeout ``ReadTimeoutError``.
    """
    fp: Any = getattr(raw, "_fp", None)
    reader = getattr(fp, "fp", None)
    if reader is None or fp.chunked or not fp.length or fp.length > most:
        return None
    with raw._error_catcher():  # urllib3's exceptions; gives the connection back at the end
        expected = fp.length
        data: bytes = reader.read(expected)  # short only at the end of the stream
        fp.length = expected - len(data)
        if fp.length:  # as read_available reports a short body
            raise http.client.IncompleteRead(b"", fp.length)
        fp.close()  # Python < 3.12 leaves a finished body open
    return data


def read_decoded(raw: Any, amount: int) -> bytes:
    """Like :func:`read_available`, with the body's Content-Encoding decoded.

    ``b""`` only at the end of the body (a decoder that holds back output while its
    input is incomplete makes this read more first).
    """
    read1 = getattr(raw, "read1", None)
    if read1 is not None:  # urllib3 >= 2.2
        return bytes(read1(amount, decode_content=True))
    raw._init_decoder()
    while True:
        data = read_available(raw, amount)
        decoded: bytes = raw._decode(data, True, not data)
        if decoded or not data:
            return decoded


def _plain_socket(sock: Any) -> Optional[socket.socket]:
    """The OS-level socket under a TLS socket or urllib3's TLS-in-TLS ``SSLTransport``."""
    for _ in range(4):
        if isinstance(sock, socket.socket):
            return sock
        sock = getattr(sock, "socket", None)
    return None


def shutdown_response(raw: Any) -> None:
    """Unblock a read pending on the response's socket; called from another thread.

    Shuts the socket down for reading and writing at the OS level
    (``socket.socket.shutdown``, not ``SSLSocket.shutdown``, which would drop the TLS
    state under the reading thread); the reader then sees the end of the stream or an
    error. Does nothing once the response gave its connection back to the pool (the
    socket may already serve another request) or the socket is gone. Never raises.
    """
    conn = getattr(raw, "_connection", None)
    if conn is None:
        return
    # The response's own file object: http.client drops ``conn.sock`` when the body is
    # close-delimited (the response then owns the socket).
    reader = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = _plain_socket(getattr(getattr(reader, "raw", None), "_sock", None) or conn.sock)
    if sock is None:
        return
    # OSError only: the socket was already closed, so nothing waits on it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# ---------------------------------------------------------------- TLS


def proxy_hop_error(exc: Exception) -> Exception:
    """The error for a failed TLS handshake with an HTTPS proxy, as urllib3 2.x reports it.

    urllib3 2.x wraps it in ``ProxyError`` itself: ``exc`` is returned unchanged. On
    1.26 it would look like a failure at the service, so it is wrapped here (requests
    turns ``ProxyError`` into ``requests.exceptions.ProxyError`` on both).
    """
    if URLLIB3_MAJOR >= 2:
        return exc
    return _u3.ProxyError("Unable to connect to proxy", exc)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class _PinnedHostnameContext:
    """An ``SSLContext`` stand-in whose wraps verify ``hostname`` when none is given.

    Every attribute read or set goes to the real context; only ``wrap_socket`` and
    ``wrap_bio`` (urllib3 1.26 calls them without ``server_hostname`` for IP
    addresses) get the name filled in.
    """

    def __init__(self, context: ssl.SSLContext, hostname: str) -> None:
        object.__setattr__(self, "_context", context)
        object.__setattr__(self, "_hostname", hostname.strip("[]").split("%", 1)[0])

    @property
    def wrapped(self) -> ssl.SSLContext:
        return self._context  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._context, name, value)

    def wrap_socket(self, sock: Any, *args: Any, server_hostname: Any = None, **kw: Any) -> Any:
        return self._context.wrap_socket(
            sock, *args, server_hostname=server_hostname or self._hostname, **kw
        )

    def wrap_bio(
        self, incoming: Any, outgoing: Any, *args: Any, server_hostname: Any = None, **kw: Any
    ) -> Any:
        return self._context.wrap_bio(
            incoming, outgoing, *args, server_hostname=server_hostname or self._hostname, **kw
        )


def unpin(context: Any) -> Any:
    """The real context under a :func:`pin_hostname` result (or ``context`` itself)."""
    return context.wrapped if isinstance(context, _PinnedHostnameContext) else context


def pin_hostname(context: Any, hostname: Optional[str]) -> Any:
    """``context``, made to verify ``hostname`` on urllib3 1.26 when it is an IP literal.

    Returns ``context`` unchanged on urllib3 2.x, for DNS names and when the context
    does not check host names.
    """
    context = unpin(context)
    if (
        URLLIB3_MAJOR >= 2
        or context is None
        or not hostname
        or not getattr(context, "check_hostname", False)
        or not _is_ip(hostname)
    ):
        return context
    return _PinnedHostnameContext(context, hostname)
