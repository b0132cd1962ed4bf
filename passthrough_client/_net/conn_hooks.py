"""Connection hooks for the adapter's connection classes: the call's watchdog, interim 1xx.

- Every socket a connection opens, and a pooled connection's socket when it is reused,
  is handed to the running call's watchdog (:mod:`._watchdog`), so the call's deadline
  can end a stalled connect, upload or response head.
- The request head and a body of up to :data:`MERGED_BODY_LIMIT` bytes go out in one
  send: ``http.client`` sends them separately when urllib3 1.26 hands it the body, and
  urllib3 2.x sends the body itself after the head (here the head is held until the
  body's first send, or the end of ``request()`` when there is no body).
- Interim responses (``100 Continue``, ``102 Processing``, ``103 Early Hints``, any
  other ``1xx`` but ``101``) are skipped, as RFC 9110 says: ``http.client`` skips only
  ``100`` and would hand out a ``103`` as the answer (with an empty body), leaving the
  real answer unread on the socket.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any, Optional

from . import watchdog as _watchdog

__all__ = ["MERGED_BODY_LIMIT", "CallHooks", "FinalResponse"]

#: The largest body sent in one piece with the request head (copying it costs less than
#: the send it saves).
MERGED_BODY_LIMIT = 65536
MAX_INTERIM = 32  # interim responses skipped before the answer must come
_MAX_LINE = 65536
_MAX_HEADERS = 100


class FinalResponse(http.client.HTTPResponse):
    """An ``http.client`` response that skips interim ``1xx`` responses before its own."""

    def _read_status(self) -> Any:
        for _ in range(MAX_INTERIM):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            _skip_headers(self.fp)
        raise http.client.HTTPException(f"more than {MAX_INTERIM} interim 1xx responses")


def _skip_headers(fp: Any) -> None:
    """Read the header block of an interim response, up to its blank line."""
    for _ in range(_MAX_HEADERS + 1):
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("interim response header line")
        if line in (b"\r\n", b"\n", b""):
            return
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


class CallHooks:
    """Mixin for urllib3 connection classes: register sockets, skip interim responses."""

    response_class: type[http.client.HTTPResponse] = FinalResponse
    sock: Any
    _buffer: list[bytes]  # http.client's request head, line by line
    _held: Optional[bytes] = None  # urllib3 2.x: the head, waiting for the body's first send
    _holding = False  # inside request(): a head without body may wait

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        _watchdog.register(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _watchdog.register(self.sock)  # a reused connection: the call now waits on it
        self._holding = True
        try:
            result = super().request(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._holding = False
            held, self._held = self._held, None
        if held is not None:  # no body came: the head goes alone
            super().send(held)  # type: ignore[misc]
        return result

    def send(self, data: Any) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if type(data) is bytes and len(data) <= MERGED_BODY_LIMIT:
                data = held + data
            else:
                super().send(held)  # type: ignore[misc]
        super().send(data)  # type: ignore[misc]

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        # One send for head and body instead of two: one syscall less per call, and on a
        # socket with a timeout one poll less too (CPython polls before every send), so
        # one GIL release less per call for threads sharing a client, and one segment
        # on the wire. urllib3 2.x sends the body itself: message_body is None there,
        # and the head waits for it in send() (measured on urllib3 2.8: 1 sendall per
        # chat() instead of 2).
        # measured (strace, Python 3.9, urllib3 1.26): 3 polls and 1 send per chat()
        # instead of 4 and 2; 16 threads sharing a client: +1% and +9% calls/s in two
        # sets of alternating runs (medians; a busy 2-core machine, noisy).
        if (
            type(message_body) is bytes
            and not encode_chunked
            and len(message_body) <= MERGED_BODY_LIMIT
        ):
            self.send(self._take_head(message_body))
            return
        if message_body is None and self._holding and self._held is None:
            self._held = self._take_head(b"")
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]

    def _take_head(self, body: bytes) -> bytes:
        """The buffered request head, its blank line and ``body``; the buffer is emptied."""
        self._buffer.extend((b"", body))
        message = b"\r\n".join(self._buffer)
        del self._buffer[:]
        return message
