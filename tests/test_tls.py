"""Tests for passthrough_client._rules.tls: contexts checked by TLS handshakes on 127.0.0.1."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from tlsutil import (
    CLIENT_CN,
    TIMEOUT,
    OneShotTLSServer,
    Pki,
    handshake,
    server_context,
    subject_cn,
    tls_connect,
)

from passthrough_client._rules.tls import (
    build_proxy_ssl_context,
    build_ssl_context,
    default_ca_bundle,
)

Make = Callable[[Pki], ssl.SSLContext]

TLS12 = ssl.TLSVersion.TLSv1_2

TLS13 = ssl.TLSVersion.TLSv1_3

CHACHA = "ECDHE-ECDSA-CHACHA20-POLY1305"

UNTRUSTED = ssl.SSLCertVerificationError


def ca_client(*, with_proxy_ca: bool = False, **settings: Any) -> Make:
    """A maker of client contexts trusting the CA file (and the proxy's CA) with settings."""

    def make(pki: Pki) -> ssl.SSLContext:
        extra = pki.proxy_ca_file if with_proxy_ca else None
        return build_ssl_context(verify=pki.ca_file, extra_ca=extra, **settings)

    return make


@pytest.fixture(name="hashed_dir")
def _hashed_dir(pki: Pki, tmp_path: Path) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to name a hashed CA directory")
    out = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(pki.ca_file)],
        check=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    shutil.copy(pki.ca_file, tmp_path / f"{out.stdout.strip()}.0")
    return tmp_path


# Servers for the handshake tables, by name.
SERVERS: dict[str, Make] = {
    "signed-by-ca": lambda p: server_context(p.server),
    "tls12-only": lambda p: server_context(p.server, maximum=TLS12),
    "other-host": lambda p: server_context(p.other_host),
    "signed-by-proxy-ca": lambda p: server_context(p.proxied),
    "chacha-only": lambda p: server_context(p.server, maximum=TLS12, ciphers=CHACHA),
}


# id -> (client context maker, server name): the handshake succeeds.
ACCEPTED: dict[str, tuple[Make, str]] = {
    "verify-ca-file-trusts-its-ca": (ca_client(), "signed-by-ca"),
    "verify-false-accepts-an-untrusted-server": (
        lambda p: build_ssl_context(verify=False),
        "signed-by-ca",
    ),
    "extra-ca-keeps-the-verify-ca": (ca_client(with_proxy_ca=True), "signed-by-ca"),
    "extra-ca-adds-the-proxy-ca": (ca_client(with_proxy_ca=True), "signed-by-proxy-ca"),
    "default-min-version-accepts-tls12": (ca_client(), "tls12-only"),
    "proxy-context-trusts-its-cacert": (
        lambda p: build_proxy_ssl_context(cacert=p.ca_file),
        "signed-by-ca",
    ),
}


# id -> (client context maker, server name, error): the handshake fails.
REFUSED: dict[str, tuple[Make, str, type[Exception]]] = {
    "default-bundle-does-not-trust-an-unknown-ca": (
        lambda p: build_ssl_context(),
        "signed-by-ca",
        UNTRUSTED,
    ),
    "verify-checks-the-host-name": (ca_client(), "other-host", UNTRUSTED),
    "proxy-ca-is-not-trusted-without-extra-ca": (ca_client(), "signed-by-proxy-ca", UNTRUSTED),
    "min-tls13-refuses-a-tls12-only-server": (
        ca_client(min_version="TLSv1.3"),
        "tls12-only",
        ssl.SSLError,
    ),
    "cipher-list-refuses-other-ciphers": (
        ca_client(ciphers=["ECDHE+AESGCM"]),
        "chacha-only",
        ssl.SSLError,
    ),
    "proxy-context-verifies-against-the-default-bundle": (
        lambda p: build_proxy_ssl_context(cacert=None),
        "signed-by-ca",
        UNTRUSTED,
    ),
    "proxy-context-applies-min-version": (
        lambda p: build_proxy_ssl_context(cacert=p.ca_file, min_version="TLSv1.3"),
        "tls12-only",
        ssl.SSLError,
    ),
}


@pytest.mark.parametrize(("client", "server"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_handshake_succeeds(client: Make, server: str, pki: Pki) -> None:
    """The client context completes a handshake with this server."""
    srv = handshake(client(pki), SERVERS[server](pki))
    assert (srv.error, srv.version is not None) == (None, True)


@pytest.mark.parametrize(("client", "server", "error"), REFUSED.values(), ids=REFUSED.keys())
def test_handshake_is_refused(client: Make, server: str, error: type[Exception], pki: Pki) -> None:
    """The handshake between the client context and this server fails."""
    with pytest.raises(error):
        handshake(client(pki), SERVERS[server](pki))


def test_verify_hashed_directory_trusts_its_ca(pki: Pki, hashed_dir: Path) -> None:
    """verify=<hashed directory> accepts a server signed by a CA in it."""
    srv = handshake(build_ssl_context(verify=hashed_dir), server_context(pki.server))
    assert srv.error is None


def test_ssl_cert_file_does_not_leak_into_default_trust(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSL_CERT_FILE naming the server's CA does not make verify=True trust it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(build_ssl_context(), server_context(pki.server))


def test_default_bundle_is_exactly_requests_bundle() -> None:
    """verify=True loads requests' bundle and nothing more."""
    bundle = Path(default_ca_bundle()).read_text(encoding="ascii")
    expected = bundle.count("-----BEGIN CERTIFICATE-----")
    assert len(build_ssl_context().get_ca_certs()) == expected


def test_verify_ca_file_trusts_nothing_else(pki: Pki) -> None:
    """verify=<CA file> loads only that file, not the default bundle."""
    assert len(build_ssl_context(verify=pki.ca_file).get_ca_certs()) == 1


def test_extra_ca_changes_nothing_when_verification_is_disabled(pki: Pki) -> None:
    """verify=False with extra_ca loads no trust and still verifies nothing."""
    ctx = build_ssl_context(verify=False, extra_ca=pki.proxy_ca_file)
    assert (ctx.get_ca_certs(), ctx.verify_mode, ctx.check_hostname) == ([], ssl.CERT_NONE, False)


def test_min_tls13_negotiates_tls13(pki: Pki) -> None:
    """min_version TLSv1.3 negotiates TLS 1.3 with a TLS 1.3 server."""
    client = build_ssl_context(verify=pki.ca_file, min_version="TLSv1.3")
    assert handshake(client, server_context(pki.server, minimum=TLS13)).version == "TLSv1.3"


def test_cipher_list_negotiates_a_listed_cipher(pki: Pki) -> None:
    """With min TLSv1.2 and a cipher list, the server picks a cipher from that list."""
    client = build_ssl_context(verify=pki.ca_file, min_version="TLSv1.2", ciphers=["ECDHE+AESGCM"])
    server = server_context(
        pki.server,
        maximum=TLS12,
        ciphers=f"{CHACHA}:ECDHE-ECDSA-AES256-GCM-SHA384",
    )
    assert handshake(client, server).cipher == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_cipher_string_as_a_bare_str_is_one_entry(pki: Pki) -> None:
    """ciphers='ECDHE+AESGCM' is read as one entry, not split into characters."""
    ctx = build_ssl_context(verify=pki.ca_file, ciphers="ECDHE+AESGCM")
    listed = build_ssl_context(verify=pki.ca_file, ciphers=["ECDHE+AESGCM"])
    assert [c["name"] for c in ctx.get_ciphers()] == [c["name"] for c in listed.get_ciphers()]


def test_alpn_offers_http11_only(pki: Pki) -> None:
    """A server offering h2 and http/1.1 selects http/1.1."""
    server = server_context(pki.server, alpn=["h2", "http/1.1"])
    assert handshake(build_ssl_context(verify=pki.ca_file), server).alpn == "http/1.1"


@pytest.mark.parametrize("combined", [False, True], ids=["cert-and-key", "key-in-cert-file"])
def test_client_certificate_is_presented(combined: bool, pki: Pki) -> None:
    """With client_cert (and client_key) the server sees the client's certificate."""
    files = (pki.combined, None) if combined else (pki.client_cert, pki.client_key)
    client = build_ssl_context(verify=pki.ca_file, client_cert=files[0], client_key=files[1])
    srv = handshake(client, server_context(pki.server, client_ca=pki.client_ca))
    assert subject_cn(srv.peer_cert) == CLIENT_CN


def test_missing_client_certificate_fails_the_handshake(pki: Pki) -> None:
    """A server that requires a client certificate rejects a client without one."""
    server = server_context(pki.server, client_ca=pki.client_ca)
    expected = (ssl.SSLError, ConnectionError)  # TLS 1.3: an alert or EOF, by timing
    with OneShotTLSServer(server) as srv, pytest.raises(expected):
        tls_connect(build_ssl_context(verify=pki.ca_file), srv.port)
    assert (srv.error is not None, srv.peer_cert) == (True, None)
