"""Scripted replies of :class:`passthrough_client.testing.FakeUpstream`, and how they are sent.

A :class:`Reply` is a frozen description of what the server does with one request:
answer with JSON or text, stream server-sent events, write raw bytes, drop or hang
the connection, trickle a body, or redirect. Build one with its class methods and
queue it with ``FakeUpstream.enqueue``; the default routes are built from the same
replies. :func:`send_reply` carries a reply out on a :class:`Wire` (one connection).

Standard library only: importing this module must stay cheap.
"""

from __future__ import annotations

import dataclasses
import gzip as _gzip
import hashlib
import http
import json as _json
import re
import select
import socket
import ssl
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "ClientGone",
    "Outcome",
    "Reply",
    "ServerStopping",
    "StreamEnd",
    "Wire",
    "default_reply",
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
_Obj = Dict[str, Any]


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


# -- default routes --------------------------------------------------------------------


def _error(status: int, message: str, kind: str) -> Reply:
    return Reply.json(status, {"error": {"message": message, "type": kind}})


def _words(text: str) -> List[str]:
    """``text`` cut before each run of spaces; ``"".join(_words(t)) == t``."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces = [*pieces[:-1], pieces[-1] + tail] if pieces else [tail]
    return pieces


def _usage(prompt: Sequence[str], completion: Sequence[str]) -> Dict[str, int]:
    p, c = (sum(len(t.split()) for t in texts) for texts in (prompt, completion))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _stream(envelope: _Obj, bodies: List[_Obj], delay: float) -> Reply:
    events = [f"data: {_json.dumps({**envelope, **b})}\n\n" for b in bodies]
    reply = Reply.sse([*events, "data: [DONE]\n\n"], delay=delay)
    return dataclasses.replace(reply, delay_first=False)  # ``delay`` between events


def _include_usage(payload: _Obj) -> bool:
    options = payload.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _chat(payload: _Obj, seq: int, delay: float) -> Reply:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "'messages' must be a non-empty list", "invalid_request_error")
    texts = [_content_text(m.get("content")) if isinstance(m, dict) else "" for m in messages]
    usage = _usage(texts, texts[-1:])
    base = _envelope(f"chatcmpl-fake-{seq}", "chat.completion", payload)
    if not payload.get("stream"):
        message = {"role": "assistant", "content": texts[-1]}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        body = {**base, "choices": [choice], "usage": usage}
        return Reply.json(200, body)
    deltas: List[_Obj] = [{"content": w} for w in _words(texts[-1]) or [""]]
    deltas[0] = {"role": "assistant", **deltas[0]}
    bodies: List[_Obj] = [
        {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    bodies.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if _include_usage(payload):
        bodies.append({"choices": [], "usage": usage})
    return _stream({**base, "object": "chat.completion.chunk"}, bodies, delay)


def _envelope(id_: str, kind: str, payload: _Obj) -> _Obj:
    return {"id": id_, "object": kind, "created": 0, "model": payload.get("model")}


def _texts(value: Any) -> Optional[List[str]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _completions(payload: _Obj, seq: int, delay: float) -> Reply:
    prompts = _texts(payload.get("prompt"))
    if prompts is None:
        return _error(
            400, "'prompt' must be a string or a list of strings", "invalid_request_error"
        )
    usage = _usage(prompts, prompts)
    base = _envelope(f"cmpl-fake-{seq}", "text_completion", payload)

    def choice(i: int, text: str, finish: Optional[str]) -> _Obj:
        return {"index": i, "text": text, "logprobs": None, "finish_reason": finish}

    if not payload.get("stream"):
        choices = [choice(i, p, "stop") for i, p in enumerate(prompts)]
        return Reply.json(200, {**base, "choices": choices, "usage": usage})
    bodies: List[_Obj] = [
        {"choices": [choice(i, w, None)]} for i, p in enumerate(prompts) for w in _words(p)
    ]
    bodies += [{"choices": [choice(i, "", "stop")]} for i in range(len(prompts))]
    if _include_usage(payload):
        bodies.append({"choices": [], "usage": usage})
    return _stream(base, bodies, delay)


def _vector(text: str) -> List[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    ints = struct.unpack(">8I", digest)
    return [round(n / 2**31 - 1.0, 6) for n in ints]


def _embeddings(payload: _Obj, seq: int, delay: float) -> Reply:
    texts = _texts(payload.get("input"))
    if texts is None:
        return _error(400, "'input' must be a string or a list of strings", "invalid_request_error")
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)
    ]
    usage = _usage(texts, [])
    del usage["completion_tokens"]
    return Reply.json(
        200, {"object": "list", "data": data, "model": payload.get("model"), "usage": usage}
    )


def _models(models: Sequence[str]) -> Reply:
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake-upstream"} for m in models]
    return Reply.json(200, {"object": "list", "data": data})


_POSTS: Mapping[str, Callable[[_Obj, int, float], Reply]] = {
    "/v1/chat/completions": _chat,
    "/v1/completions": _completions,
    "/v1/embeddings": _embeddings,
}


def default_reply(
    method: str, path: Optional[str], payload: Any, seq: int, models: Sequence[str], delay: float
) -> Reply:
    """The default route's reply to ``method path`` (``path`` without prefix and query).

    ``seq`` numbers the response ids; ``delay`` is the wait before each streamed event.
    Unknown paths get ``404``, a wrong method ``405``, a body that is not a JSON object
    ``400``, all with an OpenAI-style error body.
    """
    if path is not None and (path == "/v1/models" or path in _POSTS):
        wanted = "GET" if path == "/v1/models" else "POST"
        if method != wanted:
            return _error(405, f"use {wanted} for {path}", "method_not_allowed")
        if path == "/v1/models":
            return _models(models)
        if not isinstance(payload, dict):
            return _error(400, "the body must be a JSON object", "invalid_request_error")
        return _POSTS[path](payload, seq, delay)
    return _error(404, f"no route for {method} {path}", "not_found")
