"""Servers and proxies on 127.0.0.1 for the network tests (threads, bounded, closed at stop).

- :class:`Pki` (from :mod:`netpki`): a trustme CA written to disk (PEM file, hashed
  directory, leaf and client certificates) and server-side ``ssl.SSLContext`` objects
  for ``FakeUpstream``.
- :class:`RecordingProxy`: a CONNECT and forwarding HTTP proxy that records every request
  (method, target, headers). With ``ssl_context`` it is an HTTPS proxy; with
  ``intercept`` it terminates the client's TLS inside the tunnel with a certificate for
  the origin signed by its own CA and opens its own TLS to the origin; ``refuse`` answers
  every request with that status; ``stall`` never answers.
- :class:`SilentServer`: accepts TCP connections and never sends a byte.
- :class:`ByteSink`: an "attacker" that records every byte it receives, never answers.
- :func:`closed_port`: a port on 127.0.0.1 that refuses connections.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from netpki import Pki, subject_hash

from passthrough_client import PassthroughClient

__all__ = [
    "IO_TIMEOUT",
    "JOIN",
    "ByteSink",
    "Intercept",
    "Pki",
    "ProxyRecord",
    "RecordingProxy",
    "SilentServer",
    "client_for",
    "closed_port",
    "subject_hash",
]

JOIN = 2.0  # seconds any thread may take to finish at stop()
IO_TIMEOUT = 5.0  # seconds any socket operation in these helpers may block
_REASONS = {200: "Connection established", 403: "Forbidden", 407: "Proxy Authentication Required"}


def client_for(
    base_url: str,
    *,
    tls: Optional[Dict[str, Any]] = None,
    proxy: Optional[Dict[str, Any]] = None,
    max_retries: int = 0,
    connect: float = 5.0,
    read: float = 10.0,
    environ: Optional[Dict[str, str]] = None,
) -> PassthroughClient:
    """A client for ``base_url`` with these ``network.tls``/``network.proxy`` sections."""
    network: Dict[str, Any] = {"timeout": {"connect": connect, "read": read}}
    if tls is not None:
        network["tls"] = tls
    if proxy is not None:
        network["proxy"] = proxy
    config = {"base_url": base_url, "network": network}
    return PassthroughClient(
        config, environ={} if environ is None else environ, max_retries=max_retries
    )


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- a small threaded TCP server ------------------------------------------------------


class _Server:
    """Accepts on 127.0.0.1 in a thread; ``handle`` runs in one thread per connection.

    The accepting thread sleeps in ``select`` on the listener and on a socket pair that
    :meth:`stop` writes to, so stopping wakes it at once instead of after a poll.
    """

    def __init__(self) -> None:
        self._listener: Optional[socket.socket] = None
        self._wake: Optional[Tuple[socket.socket, socket.socket]] = None
        self._port = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._socks: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self.accepted = 0  # TCP connections accepted so far

    @property
    def port(self) -> int:
        """The bound port (also after :meth:`stop`)."""
        assert self._port, "not started"
        return self._port

    def start(self) -> Any:
        """Bind and start accepting; returns ``self``."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._wake = socket.socketpair()
        self._port = int(self._listener.getsockname()[1])
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, join the threads (bounded)."""
        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"\0")
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for sock in socks:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        for thread in threads:
            thread.join(JOIN)
        for sock in self._wake or ():
            sock.close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def track(self, sock: socket.socket) -> socket.socket:
        """Remember ``sock`` so that :meth:`stop` shuts it down."""
        with self._lock:
            self._socks.append(sock)
        return sock

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake is not None
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self._listener, self._wake[0]], [], [], IO_TIMEOUT)
                if self._listener not in ready or self._stopping.is_set():
                    continue
                sock, _ = self._listener.accept()
            except (OSError, ValueError):  # stop() closed the listener
                return
            sock.settimeout(IO_TIMEOUT)
            with self._lock:
                self.accepted += 1
            self._spawn(self._serve, self.track(sock))

    def _serve(self, sock: socket.socket) -> None:
        try:
            self.handle(sock)
        except (OSError, ValueError):
            pass  # the peer went away, or stop() shut the socket down
        finally:
            sock.close()

    def handle(self, sock: socket.socket) -> None:
        """Serve one connection (override)."""
        self._stopping.wait(IO_TIMEOUT)


class SilentServer(_Server):
    """Accepts TCP connections and never sends anything (a stalled handshake or proxy)."""


class ByteSink(_Server):
    """Records every byte any connection sends it (``received``), answers nothing and
    closes at once: a host that must never be contacted (``accepted`` counts TCP
    connections)."""

    def __init__(self) -> None:
        super().__init__()
        self.received = bytearray()

    def handle(self, sock: socket.socket) -> None:
        """Take what arrives within a short while, then close."""
        sock.settimeout(0.5)
        with contextlib.suppress(OSError):
            data = sock.recv(65536)
            with self._lock:
                self.received += data


# --- the proxy ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyRecord:
    """One request the proxy received: ``CONNECT host:port`` or an absolute-form request.

    ``client_cert_subject`` is the ``CN`` a client presented on the TLS hop to an HTTPS
    proxy (``None``: none presented, or not an HTTPS proxy).
    """

    method: str
    target: str
    headers: Tuple[Tuple[str, str], ...]
    client_cert_subject: Optional[str] = None

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), else ``None``."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Intercept:
    """Interception: re-sign with ``pki``'s CA; trust ``origin_trust`` towards the origin."""

    pki: Pki
    origin_trust: ssl.SSLContext
    handshakes: List[str] = field(default_factory=list)  # client TLS versions seen


class RecordingProxy(_Server):
    """An HTTP proxy (CONNECT tunnels and absolute-form forwarding) that records requests.

    ``ssl_context``: a server context making it an HTTPS proxy (failed handshakes are
    listed in :attr:`tls_failures`). ``credentials`` (``"user:pass"``): anything without
    the matching ``Proxy-Authorization`` gets ``407``. ``refuse``: answer every request
    with that status. ``stall``: read the request, never answer.
    """

    def __init__(
        self,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
        credentials: Optional[str] = None,
        refuse: Optional[int] = None,
        stall: bool = False,
        intercept: Optional[Intercept] = None,
    ) -> None:
        super().__init__()
        self.ssl_context = ssl_context
        self.credentials = credentials
        self.refuse = refuse
        self.stall = stall
        self.intercept = intercept
        self.records: List[ProxyRecord] = []
        self.tls_failures: List[str] = []

    def url(self, credentials: str = "") -> str:
        """``http(s)://[credentials@]127.0.0.1:port``."""
        scheme = "https" if self.ssl_context is not None else "http"
        userinfo = f"{credentials}@" if credentials else ""
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}"

    def connects(self) -> List[ProxyRecord]:
        """The CONNECT requests received so far."""
        with self._lock:
            return [r for r in self.records if r.method == "CONNECT"]

    def handle(self, sock: socket.socket) -> None:
        """Serve one client connection: TLS (if HTTPS), one request, then a tunnel."""
        subject = None
        if self.ssl_context is not None:
            tls = self._server_tls(sock, self.ssl_context, self.tls_failures)
            if tls is None:
                return
            with tls:  # the wrapped socket owns the descriptor now: close it when done
                self._handle_request(tls, _common_name(tls))
            return
        self._handle_request(sock, subject)

    def _handle_request(self, sock: socket.socket, subject: Optional[str]) -> None:
        method, target, headers, rest = _read_head(sock)
        with self._lock:
            self.records.append(ProxyRecord(method, target, tuple(headers), subject))
        if self.stall:
            self._stopping.wait(IO_TIMEOUT)
        elif self.refuse is not None:
            _answer(sock, self.refuse)
        elif self.credentials is not None and not _authorized(headers, self.credentials):
            _answer(sock, 407)
        elif method == "CONNECT":
            self._tunnel(sock, target)
        else:
            self._forward(sock, method, target, headers, rest)

    def _server_tls(
        self, sock: socket.socket, ctx: ssl.SSLContext, failures: List[str]
    ) -> Optional[ssl.SSLSocket]:
        try:
            tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            tls.do_handshake()
        except (OSError, ValueError) as exc:
            with self._lock:
                failures.append(str(exc) or type(exc).__name__)
            return None
        return self.track(tls)  # type: ignore[return-value]

    def _tunnel(self, sock: socket.socket, target: str) -> None:
        host, _, port = target.rpartition(":")
        try:
            upstream = self.track(socket.create_connection((host, int(port)), IO_TIMEOUT))
        except OSError:
            _answer(sock, 502)
            return
        with upstream:
            _answer(sock, 200, close=False)
            if self.intercept is None:
                _relay(sock, upstream, self._stopping)
                return
            server_ctx = self.intercept.pki.server_context(host=host)
            inner = self._server_tls(sock, server_ctx, self.tls_failures)
            if inner is None:
                return
            with self.intercept.origin_trust.wrap_socket(upstream, server_hostname=host) as tls:
                self.track(tls)
                self.intercept.handshakes.append(inner.version() or "")
                _relay(inner, tls, self._stopping)

    def _forward(
        self, sock: socket.socket, method: str, target: str, headers: List[Any], rest: bytes
    ) -> None:
        parts = urlsplit(target)
        drop = {"proxy-authorization", "proxy-connection", "connection"}
        kept = [f"{k}: {v}" for k, v in headers if k.lower() not in drop]
        path = parts.path or "/"
        path += f"?{parts.query}" if parts.query else ""
        head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
        try:
            upstream = self.track(socket.create_connection((parts.hostname, parts.port or 80)))
        except OSError:
            _answer(sock, 502)
            return
        with upstream:
            upstream.sendall(head.encode("latin-1") + b"\r\n\r\n" + rest)
            _relay(sock, upstream, self._stopping, close_response=True)


def _common_name(sock: ssl.SSLSocket) -> Optional[str]:
    cert: Any = sock.getpeercert()
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def _read_head(sock: socket.socket) -> Tuple[str, str, List[Tuple[str, str]], bytes]:
    """``(method, target, headers, bytes after the head)`` of one request."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk or len(data) > 65536:
            raise ValueError("no request head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return method, target, headers, rest


def _authorized(headers: List[Tuple[str, str]], credentials: str) -> bool:
    expected = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return any(k.lower() == "proxy-authorization" and v == expected for k, v in headers)


def _answer(sock: socket.socket, status: int, *, close: bool = True) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Proxy Error')}"]
    if status == 407:
        lines.append('Proxy-Authenticate: Basic realm="test"')
    if close:
        lines += ["Content-Length: 0", "Connection: close"]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _relay(
    client: socket.socket,
    upstream: socket.socket,
    stopping: threading.Event,
    *,
    close_response: bool = False,
) -> None:
    """Copy bytes both ways until one side closes; optionally mark the response close."""
    peers = {client: upstream, upstream: client}
    pending_head = close_response
    while not stopping.is_set():
        ready = [s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(list(peers), [], [], 0.05)
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            if sock is upstream and pending_head:
                data, pending_head = data.replace(b"\r\n", b"\r\nConnection: close\r\n", 1), False
            peers[sock].sendall(data)
