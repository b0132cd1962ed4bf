"""Differences between the supported urllib3 versions, in one place.

Both urllib3 1.26 and 2.x wrap an ``http.client.HTTPResponse`` in ``raw._fp``. Its
``read1()`` undoes chunked framing and returns what has arrived (at most one socket
read), so reading through it delivers every byte as soon as it is in, whatever the
transfer encoding, on every urllib3 version. urllib3's own ``read_chunked`` waits for
whole HTTP chunks, and its ``read1`` (2.2+) does not exist on 1.26.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from typing import Any

__all__ = ["read_available", "shutdown_response"]


def read_available(raw: Any, amount: int) -> bytes:
    """Up to ``amount`` undecoded body bytes, returned as soon as any have arrived.

    Returns ``b""`` at the end of the body. Chunked, ``Content-Length`` and
    close-delimited bodies are handled by ``http.client``; a body that ends before its
    framing says it should raises ``http.client.IncompleteRead``, and a malformed
    chunk size never escapes as a bare ``ValueError``.
    """
    fp = raw._fp
    if fp is None:
        return b""
    expected = None if fp.chunked else fp.length
    if expected == 0:  # http.client's read1 leaves a complete body open: close it so
        fp.read()  # the connection can serve its next request
        return b""
    try:
        data: bytes = fp.read1(amount)
    except ValueError as exc:  # a garbage or negative chunk size on some Pythons
        raise http.client.IncompleteRead(b"") from exc
    if not data and expected:  # the connection closed before Content-Length was reached
        raise http.client.IncompleteRead(b"", expected)
    return data


def _socket_of(raw: Any) -> Any:
    """The socket a response is read from, or ``None`` once it is gone."""
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    return getattr(getattr(fp, "raw", None), "_sock", None)


def shutdown_response(raw: Any) -> None:
    """Unblock a read pending on ``raw`` in another thread; never raises.

    The socket is shut down in both directions (urllib3's own ``shutdown()`` exists
    only from 2.3 and shuts down reading only), so the read sees the end of the
    stream at once and the connection is never reused.
    """
    with contextlib.suppress(Exception):  # the socket may already be closed or gone
        sock = _socket_of(raw)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
