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

With ``ssl_context`` (a server-side context, e.g. ``trustme``'s
``ca.issue_cert("127.0.0.1").configure_cert(ctx)``) the server speaks TLS; each request
records the negotiated version and cipher and the client certificate's subject, and
failed handshakes are listed in :attr:`FakeUpstream.tls_failures`.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from ._fake_replies import (
    ClientGone,
    Outcome,
    Reply,
    ServerStopping,
    Wire,
    default_reply,
    send_reply,
)

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


_SHORT_NAMES = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "stateOrProvinceName": "ST",
}


def _tls_info(sock: socket.socket) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    if not isinstance(sock, ssl.SSLSocket):
        return None, None, None
    cipher = sock.cipher()
    cert = sock.getpeercert()
    subject = None
    if cert and cert.get("subject"):
        rdns: Any = cert["subject"]
        subject = ",".join(f"{_SHORT_NAMES.get(k, k)}={v}" for rdn in rdns for k, v in rdn)
    return sock.version(), cipher[0] if cipher else None, subject


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _abort(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: safe while another thread reads.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Reads requests off one connection (keep-alive) and answers each."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def __init__(self, sock: socket.socket, address: Any, owner: FakeUpstream, conn_id: int):
        self.owner = owner
        self.conn_id = conn_id
        self.outcome: Outcome = "keep"
        self.tls = _tls_info(sock)
        assert owner._server is not None
        super().__init__(sock, address, owner._server)

    def handle(self) -> None:
        # The client reset the connection, sent garbage, or the server stopped.
        with contextlib.suppress(OSError, ValueError):
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()
        if self.outcome == "reset":
            _abort(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``FakeUpstream.requests`` instead."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _dispatch(self) -> None:
        body = self._read_body()
        request = RecordedRequest(
            self.command, self.path, RecordedHeaders(self.headers.items()), body,
            _parse_json(body), self.conn_id, *self.tls,
        )  # fmt: skip
        reply = self.owner._reply_for(request)
        wire = Wire(self.connection, self.owner._stopping, self.owner._count_event)
        try:
            self.outcome = send_reply(reply, wire)
        except ClientGone:
            self.owner._count_disconnect()
            self.outcome = "close"
        except ServerStopping:
            self.outcome = "close"
        if self.outcome != "keep":
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, owner: FakeUpstream, host: str) -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), http.server.BaseHTTPRequestHandler, bind_and_activate=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.owner._serve_connection(request, client_address)


@dataclass
class _Queued:
    reply: Reply
    path: Optional[str]
    times: int


class FakeUpstream:
    """A real OpenAI-compatible HTTP server on an ephemeral local port; see the module doc.

    ``models`` are listed by ``GET /v1/models``; ``prefix`` (e.g. ``"/openai"``) moves
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
        prefix: str = "",
        stream_delay: float = 0.0,
    ) -> None:
        """Configure the server; nothing is bound until :meth:`start`."""
        self.ssl_context = ssl_context
        self.models = tuple(models)
        self.host = host
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.stream_delay = stream_delay
        self.connections_opened = 0
        self.disconnects_mid_response = 0
        self.events_sent = 0
        self._cond = threading.Condition()
        self._requests: List[RecordedRequest] = []
        self._tls_failures: List[str] = []
        self._queue: List[_Queued] = []
        self._conns: dict[int, Tuple[socket.socket, threading.Thread]] = {}
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
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
        self._server = _Server(self, self.host)
        try:
            self._server.server_bind()
            self._server.server_activate()
        except OSError:
            self._server.server_close()
            self._server = None
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="FakeUpstream", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; returns within about a second."""
        if self._server is None or self._stopping.is_set():
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            conns = list(self._conns.values())
        for sock, _ in conns:
            _shutdown(sock)
        deadline = time.monotonic() + 1.0
        for _, thread in conns:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))

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

    def _serve_connection(self, request: socket.socket, address: Any) -> None:
        with self._cond:
            self.connections_opened += 1
            conn_id = self.connections_opened
            self._conns[conn_id] = (request, threading.current_thread())
        sock = request
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=False
                )
                with self._cond:
                    self._conns[conn_id] = (sock, threading.current_thread())
                if not self._handshake(sock):
                    return
            if not self._stopping.is_set():
                _Handler(sock, address, self, conn_id)
        except (OSError, ValueError):
            pass  # the client went away before the first request
        finally:
            with self._cond:
                self._conns.pop(conn_id, None)
            if sock is not request:
                sock.close()

    def _handshake(self, sock: ssl.SSLSocket) -> bool:
        try:
            sock.do_handshake()
            return True
        except (OSError, ValueError) as exc:
            if not self._stopping.is_set():
                with self._cond:
                    self._tls_failures.append(str(exc) or type(exc).__name__)
            return False

    def _reply_for(self, request: RecordedRequest) -> Reply:
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
