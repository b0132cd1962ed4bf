"""The socket side of :class:`passthrough_client.testing.FakeUpstream`.

:class:`Server` listens on an ephemeral port, accepts in one thread and serves each
connection in a daemon thread of its own: the TLS handshake first (with a context),
then HTTP/1.1 requests with keep-alive, each handed to the owner through :class:`Hooks`
and answered with the :class:`Reply` it returns. The accepting thread sleeps in
``select`` on the listening socket and on one end of a socket pair, so :meth:`Server.stop`
wakes it at once instead of waiting out a polling interval.

Standard library only: importing this module must stay cheap.
"""

from __future__ import annotations

import contextlib
import http.server
import selectors
import socket
import socketserver
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from .replies import ClientGone, Outcome, Reply, ServerStopping, Wire, send_reply

__all__ = ["Hooks", "Incoming", "Server", "TLSInfo"]

#: ``(version, cipher, client certificate subject)`` of a TLS connection, else ``None``s.
TLSInfo = Tuple[Optional[str], Optional[str], Optional[str]]


class Incoming(NamedTuple):
    """One request as read off the wire, before the owner records it."""

    method: str
    path: str
    headers: Tuple[Tuple[str, str], ...]
    body: bytes
    connection_id: int
    tls: TLSInfo


@dataclass(frozen=True)
class Hooks:
    """What the server tells its owner; each is called from a connection thread.

    ``opened`` counts a new connection and returns its id; ``tls_failed`` gets the error
    text of a failed handshake; ``reply_for`` records a request and chooses its reply;
    ``event_sent`` counts a streamed piece; ``disconnected`` counts a client that left
    before its reply was fully sent.
    """

    opened: Callable[[], int]
    tls_failed: Callable[[str], None]
    reply_for: Callable[[Incoming], Reply]
    event_sent: Callable[[], None]
    disconnected: Callable[[], None]


_SHORT_NAMES = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "stateOrProvinceName": "ST",
}


def _tls_info(sock: socket.socket) -> TLSInfo:
    if not isinstance(sock, ssl.SSLSocket):
        return None, None, None
    cipher = sock.cipher()
    cert = sock.getpeercert()
    subject = None
    if cert and cert.get("subject"):
        rdns: Any = cert["subject"]
        subject = ",".join(f"{_SHORT_NAMES.get(k, k)}={v}" for rdn in rdns for k, v in rdn)
    return sock.version(), cipher[0] if cipher else None, subject


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

    def __init__(self, sock: socket.socket, address: Any, server: Server, conn_id: int):
        self.owner = server
        self.conn_id = conn_id
        self.outcome: Outcome = "keep"
        self.tls = _tls_info(sock)
        super().__init__(sock, address, server)

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
        headers = tuple(self.headers.items())
        hooks = self.owner.hooks
        reply = hooks.reply_for(
            Incoming(self.command, self.path, headers, body, self.conn_id, self.tls)
        )
        wire = Wire(self.connection, self.owner.stopping, hooks.event_sent)
        try:
            self.outcome = send_reply(reply, wire)
        except ClientGone:
            hooks.disconnected()
            self.outcome = "close"
        except ServerStopping:
            self.outcome = "close"
        if self.outcome != "keep":
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class Server(socketserver.TCPServer):
    """A threaded HTTP/1.1 server on ``(host, port)``: call :meth:`start`, then :meth:`stop`.

    ``stopping`` is set by :meth:`stop`; replies in progress watch it (see ``Wire``).
    """

    request_queue_size = 128
    allow_reuse_address = True  # as http.server does: a fixed port is free again at once

    def __init__(
        self,
        host: str,
        *,
        port: int = 0,
        ssl_context: Optional[ssl.SSLContext],
        hooks: Hooks,
        stopping: threading.Event,
    ) -> None:
        """Create the listening socket; nothing is bound until :meth:`start`."""
        self.hooks = hooks
        self.ssl_context = ssl_context
        self.stopping = stopping
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._conns: Dict[int, Tuple[socket.socket, threading.Thread]] = {}
        self._thread: Optional[threading.Thread] = None
        super().__init__((host, port), http.server.BaseHTTPRequestHandler, bind_and_activate=False)

    def start(self) -> None:
        """Bind, listen and accept in a daemon thread; an ``OSError`` closes everything."""
        try:
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            raise
        self.socket.setblocking(False)  # select() may wake for a client already gone
        self._thread = threading.Thread(target=self._accept_loop, name="FakeUpstream")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop accepting, close every connection and join the threads within ``timeout``."""
        deadline = time.monotonic() + timeout
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._thread is not None:
            self._thread.join(timeout)
        self.server_close()
        with self._lock:
            conns = list(self._conns.values())
        for sock, _ in conns:
            _shutdown(sock)
        for _, thread in conns:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def server_close(self) -> None:
        """Close the listening socket and the wake-up pair."""
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Count the connection and serve it in a daemon thread of its own."""
        request.setblocking(True)
        conn_id = self.hooks.opened()
        thread = threading.Thread(target=self._serve, args=(request, client_address, conn_id))
        thread.daemon = True
        with self._lock:
            self._conns[conn_id] = (request, thread)
        thread.start()

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self.stopping.is_set():
                ready = [key.fileobj for key, _ in selector.select()]
                if self.socket in ready and not self.stopping.is_set():
                    self._accept()

    def _accept(self) -> None:
        try:
            request, client_address = self.get_request()
        except OSError:  # the client left before accept(), or nothing was pending
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)

    def _serve(self, request: socket.socket, client_address: Any, conn_id: int) -> None:
        try:
            self._serve_connection(request, client_address, conn_id)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def _serve_connection(self, request: socket.socket, address: Any, conn_id: int) -> None:
        sock = request
        try:
            if self.ssl_context is not None:
                sock = self._wrap(request, conn_id)
                if not self._handshake(sock):
                    return
            if not self.stopping.is_set():
                _Handler(sock, address, self, conn_id)
        except (OSError, ValueError):
            pass  # the client went away before the first request
        finally:
            with self._lock:
                self._conns.pop(conn_id, None)
            if sock is not request:
                sock.close()

    def _wrap(self, request: socket.socket, conn_id: int) -> ssl.SSLSocket:
        assert self.ssl_context is not None
        sock = self.ssl_context.wrap_socket(
            request, server_side=True, do_handshake_on_connect=False
        )
        with self._lock:  # ``request`` is detached now: stop() must shut ``sock`` down
            self._conns[conn_id] = (sock, threading.current_thread())
        return sock

    def _handshake(self, sock: ssl.SSLSocket) -> bool:
        try:
            if self.stopping.is_set():
                return False
            sock.do_handshake()
            return True
        except (OSError, ValueError) as exc:
            if not self.stopping.is_set():
                self.hooks.tls_failed(str(exc) or type(exc).__name__)
            return False
