"""A one-shot TLS server and trustme certificates for the tests of ``_rules.tls``.

The ``pki`` fixture (``conftest.py``) builds one :class:`Pki` per test module.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Sequence

import trustme

__all__ = [
    "CLIENT_CN",
    "TIMEOUT",
    "OneShotTLSServer",
    "Pki",
    "handshake",
    "server_context",
    "subject_cn",
    "tls_connect",
    "write_pem",
]


TIMEOUT = 5.0

CLIENT_CN = "passthrough-test-client"


class OneShotTLSServer:
    """Accepts one TLS connection on 127.0.0.1, records the handshake, sends ``ok``."""

    def __init__(self, context: ssl.SSLContext) -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(TIMEOUT)
        self._listener = context.wrap_socket(
            listener, server_side=True, do_handshake_on_connect=False
        )
        self.port: int = self._listener.getsockname()[1]
        self.version: str | None = None
        self.cipher: str | None = None
        self.alpn: str | None = None
        self.peer_cert: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> OneShotTLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join(TIMEOUT)
        self._listener.close()
        assert not self._thread.is_alive(), "TLS server thread did not finish"

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError as exc:
            self.error = exc
            return
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                conn.do_handshake()
                self.version, self.alpn = conn.version(), conn.selected_alpn_protocol()
                self.cipher = conn.cipher()[0]  # type: ignore[index]
                self.peer_cert = conn.getpeercert() or None
                conn.sendall(b"ok")
            except OSError as exc:  # ssl.SSLError and timeouts are OSErrors
                self.error = exc


def tls_connect(context: ssl.SSLContext, port: int) -> str | None:
    """Connect with ``context`` as a client of ``localhost``; return the TLS version."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
        greeting = b""
        while len(greeting) < 2:
            data = tls.recv(2 - len(greeting))
            if not data:
                raise ConnectionError("server closed the connection after the handshake")
            greeting += data
        return tls.version()


def server_context(
    cert: trustme.LeafCert,
    *,
    minimum: ssl.TLSVersion | None = None,
    maximum: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    client_ca: trustme.CA | None = None,
    alpn: Sequence[str] | None = None,
) -> ssl.SSLContext:
    """A server context with the given restrictions."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if client_ca is not None:
        client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if alpn is not None:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> OneShotTLSServer:
    """Run one handshake; return the server with what it recorded."""
    with OneShotTLSServer(server) as srv:
        tls_connect(client, srv.port)
    return srv


def write_pem(path: Path, blob: trustme.Blob) -> Path:
    blob.write_to_path(str(path))
    return path


def subject_cn(cert: dict[str, Any] | None) -> str | None:
    assert cert is not None
    return dict(pair for rdn in cert["subject"] for pair in rdn).get("commonName")


class Pki:
    """trustme CAs and certificates, with PEM files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.ca, self.proxy_ca, self.client_ca = trustme.CA(), trustme.CA(), trustme.CA()
        self.server = self.ca.issue_cert("localhost", "127.0.0.1")
        self.other_host = self.ca.issue_cert("other.example")
        self.proxied = self.proxy_ca.issue_cert("localhost")  # re-signed by the proxy
        self.ca_file = write_pem(root / "ca.pem", self.ca.cert_pem)
        self.proxy_ca_file = write_pem(root / "proxy-ca.pem", self.proxy_ca.cert_pem)
        client = self.client_ca.issue_cert("client.example", common_name=CLIENT_CN)
        self.client_cert = write_pem(root / "client.pem", client.cert_chain_pems[0])
        self.client_key = write_pem(root / "client-key.pem", client.private_key_pem)
        self.combined = write_pem(root / "combined.pem", client.private_key_and_cert_chain_pem)
