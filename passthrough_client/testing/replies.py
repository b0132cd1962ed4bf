"""Scripted replies of :class:`passthrough_client.testing.FakeUpstream`, and how they are sent.

A :class:`Reply` is a frozen description of what the server does with one request:
answer with JSON or text, stream server-sent events, write raw bytes, drop or hang
the connection, trickle a body, or redirect. Build one with its class methods and
queue it with ``FakeUpstream.enqueue``; the default routes (``_fake_routes``) are built
from the same replies. :func:`send_reply` carries a reply out on a :class:`Wire` (one
connection).

Standard library only: importing this module must stay cheap.
"""

from __future__ import annotations

import dataclasses
import gzip as _gzip
import http
import json as _json
import select
import socket
import ssl
import threading
import time
from typing import Callable, Literal, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "ClientGone",
    "Outcome",
    "Reply",
    "ServerStopping",
    "StreamEnd",
    "Wire",
    "send_reply",
]

#: How a streamed reply ends: ``"complete"`` (the terminating chunk, or the close that
#: ends a close-delimited body), ``"drop"`` (close without the terminating chunk),
#: ``"reset"`` (abort the connection with a TCP RST), ``"hang"`` (send nothing more and
#: keep the connection open until the client goes away or the server stops).
StreamEnd = Literal["complete", "drop", "reset", "hang"]

#: What happens to the connection after a reply: kept alive, closed, or reset.
Outcome = Literal["keep", "close", "reset"]

_Headers = Tuple[Tuple[str, str], ...]


def _header_pairs(headers: Optional[Mapping[str, str]]) -> _Headers:
    return tuple((str(k), str(v)) for k, v in (headers or {}).items())


@dataclasses.dataclass(frozen=True)
class Reply:
    """One scripted reply; build it with the class methods, not the constructor.

    Every field has a safe default, so the class methods only set what they need.
    Headers given to a class method replace the generated header of the same name
    (any case), so a test can also send a wrong ``Content-Type`` or ``Content-Length``.
    """

    kind: str
    status: int = 200
    headers: _Headers = ()
    body: bytes = b""
    pieces: Tuple[bytes, ...] = ()
    chunked: bool = True
    delay: float = 0.0
    delay_first: bool = True
    end: StreamEnd = "complete"
    close: bool = True
    reset: bool = False
    seconds: float = 0.0
    interval: float = 0.0

    @classmethod
    def json(
        cls,
        status: int = 200,
        body: object = None,
        *,
        headers: Optional[Mapping[str, str]] = None,
        delay: float = 0.0,
        gzip: bool = False,
    ) -> Reply:
        """A JSON body (``None`` means ``{}``) with ``Content-Length``.

        ``delay`` seconds pass before anything is sent; ``gzip=True`` compresses the
        body and adds ``Content-Encoding: gzip``.
        """
        data = _json.dumps({} if body is None else body).encode("utf-8")
        return cls.text(
            status, data, headers=headers, content_type="application/json", delay=delay, gzip=gzip
        )

    @classmethod
    def text(
        cls,
        status: int,
        text: Union[str, bytes],
        *,
        headers: Optional[Mapping[str, str]] = None,
        content_type: str = "text/plain; charset=utf-8",
        delay: float = 0.0,
        gzip: bool = False,
    ) -> Reply:
        """A body of any type (``str`` is encoded as UTF-8) with ``Content-Length``."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        own = [("Content-Type", content_type)]
        if gzip:
            data = _gzip.compress(data, mtime=0)
            own.append(("Content-Encoding", "gzip"))
        return cls("body", status, _merge(own, _header_pairs(headers)), data, delay=delay)

    @classmethod
    def sse(
        cls,
        events: Sequence[Union[str, bytes]],
        *,
        status: int = 200,
        chunked: bool = True,
        delay: float = 0.0,
        headers: Optional[Mapping[str, str]] = None,
        end: StreamEnd = "complete",
    ) -> Reply:
        """A ``text/event-stream`` body made of ``events``, each written raw as given.

        Each element is sent as its own write (its own HTTP chunk when ``chunked``),
        after ``delay`` seconds; give the exact SSE text, e.g. ``"data: {...}\\n\\n"``.
        ``chunked=False`` sends a close-delimited body (no ``Content-Length``,
        ``Connection: close``). Empty elements are skipped. ``end`` is a
        :data:`StreamEnd`.
        """
        own = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        own.append(("Transfer-Encoding", "chunked") if chunked else ("Connection", "close"))
        data = tuple(e.encode("utf-8") if isinstance(e, str) else bytes(e) for e in events)
        return cls(
            "sse",
            status,
            _merge(own, _header_pairs(headers)),
            pieces=tuple(p for p in data if p),
            chunked=chunked,
            delay=delay,
            end=end,
        )

    @classmethod
    def raw(cls, data: bytes, *, close: bool = True, reset: bool = False) -> Reply:
        """Write exactly ``data`` instead of an HTTP response, then close the connection.

        With ``close=False`` the connection stays open for the next request; with
        ``reset=True`` it is aborted with a TCP RST instead of a clean close.
        """
        return cls("raw", body=bytes(data), close=close or reset, reset=reset)

    @classmethod
    def drop(cls, *, reset: bool = False) -> Reply:
        """Read the request, then close the connection without answering (RST if ``reset``)."""
        return cls("raw", close=True, reset=reset)

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        """Read the request, send nothing for ``seconds`` (or until the client leaves), close."""
        return cls("hang", seconds=seconds)

    @classmethod
    def trickle(
        cls,
        data: bytes,
        interval: float,
        *,
        status: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        content_type: str = "application/json",
    ) -> Reply:
        """A response head with ``Content-Length``, then the body one byte per ``interval``.

        Sending stops as soon as the client goes away.
        """
        own = [("Content-Type", content_type)]
        return cls(
            "trickle", status, _merge(own, _header_pairs(headers)), bytes(data), interval=interval
        )

    @classmethod
    def redirect(
        cls, status: int, location: str, *, headers: Optional[Mapping[str, str]] = None
    ) -> Reply:
        """A ``3xx`` response with a ``Location`` header and an empty body."""
        own = [("Location", location)]
        return cls("body", status, _merge(own, _header_pairs(headers)))


def _merge(own: Sequence[Tuple[str, str]], given: _Headers) -> _Headers:
    names = {k.lower() for k, _ in given}
    return tuple(p for p in own if p[0].lower() not in names) + given


class ClientGone(Exception):
    """The client closed (or reset) the connection while a reply was in progress."""


class ServerStopping(Exception):
    """The server is stopping; the reply is abandoned."""


class Wire:
    """The server side of one connection, as a reply sees it.

    ``write`` and ``wait`` raise :class:`ClientGone` when the client has gone away and
    :class:`ServerStopping` when the server stops. On a plain TCP socket ``wait``
    notices a client's close at once; on TLS only the next write does.
    """

    def __init__(
        self, sock: socket.socket, stopping: threading.Event, on_event: Callable[[], None]
    ) -> None:
        """Wrap ``sock``; ``on_event`` is called as each streamed piece is written."""
        self.sock = sock
        self.on_event = on_event
        self._stopping = stopping
        self._watch = not isinstance(sock, ssl.SSLSocket)

    def _gone(self) -> Exception:
        return ServerStopping() if self._stopping.is_set() else ClientGone()

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        try:
            self.sock.sendall(data)
        except (OSError, ValueError) as exc:
            raise self._gone() from exc

    def wait(self, seconds: Optional[float]) -> None:
        """Wait ``seconds`` (``None``: until the client leaves or the server stops)."""
        if seconds is not None and seconds <= 0:
            return
        deadline = None if seconds is None else time.monotonic() + seconds
        while self._watch:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            if self._readable(remaining):
                self._check_peer()
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if self._stopping.wait(remaining):
            raise ServerStopping()

    def _readable(self, timeout: Optional[float]) -> bool:
        try:
            readable = select.select([self.sock], [], [], timeout)[0]
        except (OSError, ValueError) as exc:
            raise self._gone() from exc
        if self._stopping.is_set():
            raise ServerStopping()
        return bool(readable)

    def _check_peer(self) -> None:
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
        except OSError as exc:
            raise self._gone() from exc
        if not data:
            raise self._gone()
        self._watch = False  # the client sent more (pipelining): stop watching


def _head(status: int, headers: _Headers) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _with_length(reply: Reply) -> _Headers:
    return _merge([("Content-Length", str(len(reply.body)))], reply.headers)


def _send_body(reply: Reply, wire: Wire) -> Outcome:
    wire.wait(reply.delay)
    wire.write(_head(reply.status, _with_length(reply)) + reply.body)
    return "keep"


def _send_sse(reply: Reply, wire: Wire) -> Outcome:
    wire.write(_head(reply.status, reply.headers))
    for i, piece in enumerate(reply.pieces):
        if i or reply.delay_first:
            wire.wait(reply.delay)
        wire.on_event()  # before the write: the client may read it before write() returns
        wire.write(b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece)
    if reply.end == "hang":
        wire.wait(None)
        return "close"
    if reply.end == "complete" and reply.chunked:
        wire.write(b"0\r\n\r\n")
        return "keep"
    return "reset" if reply.end == "reset" else "close"


def _send_raw(reply: Reply, wire: Wire) -> Outcome:
    if reply.body:
        wire.write(reply.body)
    if reply.reset:
        return "reset"
    return "close" if reply.close else "keep"


def _send_hang(reply: Reply, wire: Wire) -> Outcome:
    wire.wait(reply.seconds)
    return "close"


def _send_trickle(reply: Reply, wire: Wire) -> Outcome:
    wire.write(_head(reply.status, _with_length(reply)))
    for i in range(len(reply.body)):
        wire.wait(reply.interval)
        wire.write(reply.body[i : i + 1])
    return "keep"


_SENDERS: Mapping[str, Callable[[Reply, Wire], Outcome]] = {
    "body": _send_body,
    "sse": _send_sse,
    "raw": _send_raw,
    "hang": _send_hang,
    "trickle": _send_trickle,
}


def send_reply(reply: Reply, wire: Wire) -> Outcome:
    """Carry ``reply`` out on ``wire``; tell what happens to the connection next.

    Raises :class:`ClientGone` or :class:`ServerStopping` (see :class:`Wire`).
    """
    return _SENDERS[reply.kind](reply, wire)
