"""A fake OpenAI-compatible service for tests, demos and examples.

:class:`FakeUpstream` is a real HTTP/1.1 server on ``127.0.0.1`` (standard library
only, an ephemeral port, one daemon thread per connection, keep-alive). It records
every request and answers like an OpenAI-compatible service:

- ``GET /v1/models``: the configured models, in order.
- ``POST /v1/chat/completions``: echoes the last message's content; with
  ``"stream": true`` word by word as server-sent events over chunked transfer, a
  final chunk with ``finish_reason: "stop"``, a usage chunk when
  ``stream_options.include_usage`` is true, then ``data: [DONE]``.
- ``POST /v1/completions``: echoes the prompt (streamed the same way).
- ``POST /v1/embeddings``: deterministic 8-dimensional vectors (from SHA-256).
- Any other path: ``404`` with ``{"error": {"message": ..., "type": "not_found"}}``.

Token counts in ``usage`` are word counts. Tests can queue scripted replies
(:class:`Reply`: a status and body, delays, raw bytes, a dropped or hanging connection,
a trickled body, a redirect), which are used first-in first-out before the default
routes. Example (pytest)::

    import pytest
    from passthrough_client import PassthroughClient
    from passthrough_client.testing import FakeUpstream, Reply

    @pytest.fixture(name="upstream")
    def fixture_upstream():
        with FakeUpstream() as upstream:
            yield upstream

    def test_a_503_is_retried(upstream):
        upstream.enqueue(Reply.json(503, {"error": {"message": "busy"}}))
        with PassthroughClient(base_url=upstream.url, api_key="k") as client:
            reply = client.chat(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "hi"
        assert [r.path for r in upstream.requests] == ["/v1/chat/completions"] * 2
        assert upstream.requests[-1].headers.get("authorization") == "Bearer k"

From a shell, ``python -m passthrough_client.testing [--port N]`` serves it in the
foreground until Ctrl-C, printing the ``export PASSTHROUGH_URL=...`` line to use.

With ``ssl_context`` (a server-side context, e.g. ``trustme``'s
``ca.issue_cert("127.0.0.1").configure_cert(ctx)``) the server speaks TLS; each request
records the negotiated version and cipher and the client certificate's subject, and
failed handshakes are listed in :attr:`FakeUpstream.tls_failures`.

The package: ``server`` (sockets, HTTP/1.1 framing, TLS), ``routes`` (the OpenAI-like
endpoints), ``replies`` (scripted replies and faults), ``serve`` and ``__main__``
(``python -m passthrough_client.testing``). Standard library only.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from .replies import Reply
from .routes import default_reply
from .server import Hooks, Incoming, Server

__all__ = ["FakeUpstream", "RecordedHeaders", "RecordedRequest", "Reply"]


class RecordedHeaders:
    """Request headers as sent: case-insensitive look-up, iteration over ``(name, value)``.

    ``dict(headers)`` gives a plain dict with the names as they were sent.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Iterable[Tuple[str, str]]) -> None:
        """Keep ``pairs`` in the order they were sent."""
        self._pairs = tuple((str(k), str(v)) for k, v in pairs)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of header ``name`` (any case), else ``default``."""
        values = self.get_all(name)
        return values[0] if values else default

    def get_all(self, name: str) -> List[str]:
        """Every value of header ``name`` (any case), in the order sent."""
        lowered = name.lower()
        return [v for k, v in self._pairs if k.lower() == lowered]

    def items(self) -> List[Tuple[str, str]]:
        """The ``(name, value)`` pairs as sent."""
        return list(self._pairs)

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordedHeaders) and other._pairs == self._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        return f"RecordedHeaders({list(self._pairs)!r})"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake service received it.

    ``path`` includes the query string; ``json`` is the parsed body (``None`` when the
    body is empty or not JSON); ``connection_id`` is the same for requests that came
    over the same TCP connection. The TLS fields are ``None`` without TLS;
    ``client_cert_subject`` is ``None`` without a client certificate and otherwise reads
    like ``"O=trustme,OU=Testing,CN=client"`` (the certificate's order).
    """

    method: str
    path: str
    headers: RecordedHeaders
    body: bytes
    json: Any
    connection_id: int
    tls_version: Optional[str] = None
    tls_cipher: Optional[str] = None
    client_cert_subject: Optional[str] = None


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _recorded(incoming: Incoming) -> RecordedRequest:
    method, path, headers, body, connection_id, tls = incoming
    return RecordedRequest(
        method, path, RecordedHeaders(headers), body, _parse_json(body), connection_id, *tls
    )


@dataclass
class _Queued:
    reply: Reply
    path: Optional[str]
    times: int


class FakeUpstream:
    """A real OpenAI-compatible HTTP server on a local port; see the module doc.

    ``port`` is the port to listen on (``0``, the default: a free one the system
    picks). ``models`` are listed by ``GET /v1/models``; ``prefix`` (e.g. ``"/openai"``) moves
    every route under it (``/openai/v1/...``, and :attr:`url` ends in it); ``stream_delay``
    is the wait in seconds between the events of a default streamed reply (for latency
    and cancellation tests). Use it as a context manager, or call :meth:`start` and
    :meth:`stop` (a stopped server cannot be started again).

    Counters, for observing pooling and cancellation: ``connections_opened`` (TCP
    connections accepted; also the last ``connection_id``), ``disconnects_mid_response``
    (see :meth:`wait_for_disconnect`) and ``events_sent`` (streamed pieces written, by
    default routes and scripted :meth:`Reply.sse` alike).
    """

    def __init__(
        self,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
        models: Sequence[str] = ("fake-model", "fake-embedder"),
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        stream_delay: float = 0.0,
    ) -> None:
        """Configure the server; nothing is bound until :meth:`start`."""
        self.ssl_context = ssl_context
        self.models = tuple(models)
        self.host = host
        self._port = port
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.stream_delay = stream_delay
        self.connections_opened = 0
        self.disconnects_mid_response = 0
        self.events_sent = 0
        self._cond = threading.Condition()
        self._requests: List[RecordedRequest] = []
        self._tls_failures: List[str] = []
        self._queue: List[_Queued] = []
        self._stopping = threading.Event()
        self._server: Optional[Server] = None
        self._seq = 0

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("FakeUpstream is not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``scheme://host:port`` without the prefix."""
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL for a client: the origin plus ``prefix``, without ``/v1``."""
        return self.origin + self.prefix

    @property
    def requests(self) -> List[RecordedRequest]:
        """A copy of the recorded requests, oldest first."""
        with self._cond:
            return list(self._requests)

    @property
    def tls_failures(self) -> List[str]:
        """The error text of each failed TLS handshake, oldest first."""
        with self._cond:
            return list(self._tls_failures)

    @property
    def pending_replies(self) -> int:
        """How many scripted replies are still queued (counting ``times``)."""
        with self._cond:
            return sum(q.times for q in self._queue)

    def start(self) -> FakeUpstream:
        """Bind the port and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("FakeUpstream was already started")
        hooks = Hooks(
            opened=self._connection_opened,
            tls_failed=self._tls_failed,
            reply_for=self._reply_for,
            event_sent=self._count_event,
            disconnected=self._count_disconnect,
        )
        server = Server(
            self.host,
            port=self._port,
            ssl_context=self.ssl_context,
            hooks=hooks,
            stopping=self._stopping,
        )
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; returns within about a second."""
        if self._server is None or self._stopping.is_set():
            return
        self._server.stop(timeout=1.0)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"<FakeUpstream {where}>"

    def enqueue(self, reply: Reply, *, path: Optional[str] = None, times: int = 1) -> None:
        """Queue ``reply`` for the next ``times`` requests (to ``path``, when given).

        ``path`` is compared with the request path without its query, either whole or
        with ``prefix`` removed (``"/v1/chat/completions"``).
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._cond:
            self._queue.append(_Queued(reply, path, times))

    def clear(self) -> None:
        """Forget the recorded requests (counters and queued replies are kept)."""
        with self._cond:
            self._requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` requests are recorded; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= count, timeout)

    def wait_for_disconnect(self, timeout: float = 5.0, count: int = 1) -> bool:
        """Wait until :attr:`disconnects_mid_response` reaches ``count``; ``False`` on timeout.

        A disconnect is counted when the client goes away before its reply was fully
        sent: during a stream, a delay, a hang or a trickle. On a plain connection a
        close is noticed while the server waits; on TLS, at the next write. A reply that
        was already written in full is not counted, so to observe a cancelled stream use
        ``stream_delay`` or a long :meth:`Reply.sse` with a ``delay``.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self.disconnects_mid_response >= count, timeout)

    # -- called from connection threads ------------------------------------------------

    def _connection_opened(self) -> int:
        with self._cond:
            self.connections_opened += 1
            return self.connections_opened

    def _tls_failed(self, error: str) -> None:
        with self._cond:
            self._tls_failures.append(error)

    def _reply_for(self, incoming: Incoming) -> Reply:
        request = _recorded(incoming)
        path = request.path.split("?", 1)[0]
        local = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        with self._cond:
            self._requests.append(request)
            self._seq += 1
            seq = self._seq
            self._cond.notify_all()
            for queued in self._queue:
                if queued.path is None or queued.path in (path, local):
                    queued.times -= 1
                    if not queued.times:
                        self._queue.remove(queued)
                    return queued.reply
        return default_reply(
            request.method, local, request.json, seq, self.models, self.stream_delay
        )

    def _count_event(self) -> None:
        with self._cond:
            self.events_sent += 1

    def _count_disconnect(self) -> None:
        with self._cond:
            self.disconnects_mid_response += 1
            self._cond.notify_all()
