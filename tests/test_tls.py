"""Tests for passthrough_client._tls: contexts checked with real TLS on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from passthrough_client._tls import (
    build_proxy_ssl_context,
    build_ssl_context,
    cipher_error,
    default_ca_bundle,
    describe_trust,
)
from passthrough_client.exceptions import ConfigError

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


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)  # urllib3 would log keys there


@pytest.fixture(name="pki", scope="module")
def _pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


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


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ("ECDHE+AESGCM", True),
        ("HIGH:!aNULL", True),
        ("ECDHE-RSA-AES128-GCM-SHA256", True),
        ("NOT-A-CIPHER", False),
        ("", False),
        ("!ALL", False),
        ("TLS_AES_128_GCM_SHA256", False),
        ("a\x00b", False),
    ],
)
def test_cipher_error_table(entry: str, valid: bool) -> None:
    """cipher_error is None for strings OpenSSL accepts and a message otherwise."""
    assert valid == (cipher_error(entry) is None)


@given(st.text(max_size=40))
def test_cipher_error_never_raises(entry: str) -> None:
    """Any text gives None or a message quoting the entry."""
    message = cipher_error(entry)
    assert message is None or repr(entry) in message


def test_bad_cipher_entry_raises_config_error_naming_it(pki: Pki) -> None:
    """A cipher entry OpenSSL rejects is reported with its index, even beside valid ones."""
    with pytest.raises(ConfigError) as info:
        build_ssl_context(verify=pki.ca_file, ciphers=["ECDHE+AESGCM", "NOT-A-CIPHER"])
    assert info.value.errors == [f"network.tls.ciphers[1]: {cipher_error('NOT-A-CIPHER')}"]


def test_unknown_min_version_raises_config_error() -> None:
    """min_version outside TLSv1.2/TLSv1.3 is a ConfigError."""
    with pytest.raises(ConfigError, match=r"^network\.tls\.min_version: 'TLSv1\.1'"):
        build_ssl_context(min_version="TLSv1.1")


def test_mismatched_client_key_raises_config_error(pki: Pki, tmp_path: Path) -> None:
    """A key that does not belong to the certificate is a ConfigError about client_key."""
    other_key = pki.client_ca.issue_cert("x.example").private_key_pem
    other = write_pem(tmp_path / "other-key.pem", other_key)
    with pytest.raises(ConfigError) as info:
        build_ssl_context(client_cert=pki.client_cert, client_key=other)
    assert info.value.errors[0].startswith("network.tls.client_key: ")
    assert "does not match" in info.value.errors[0]


def test_encrypted_client_key_raises_config_error(pki: Pki, tmp_path: Path) -> None:
    """An encrypted key is refused with a ConfigError instead of a password prompt."""
    loaded = serialization.load_pem_private_key(pki.client_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ConfigError, match=r"^network\.tls\.client_key: .* is encrypted"):
        build_ssl_context(client_cert=pki.client_cert, client_key=encrypted)


def test_client_key_without_client_cert_raises_config_error(pki: Pki) -> None:
    """client_key alone is a ConfigError."""
    with pytest.raises(ConfigError, match=r"^network\.tls\.client_key: "):
        build_ssl_context(client_key=pki.client_key)


def test_missing_ca_file_names_the_setting_and_path(tmp_path: Path) -> None:
    """A CA file that cannot be read is a ConfigError naming network.tls.verify and the path."""
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError) as info:
        build_ssl_context(verify=missing)
    assert info.value.errors[0].startswith(
        f"network.tls.verify: cannot load CA certificates from {missing}"
    )


@pytest.mark.parametrize(
    ("setting", "build"),
    [
        ("network.tls.verify", lambda j, p: build_ssl_context(verify=j)),
        ("network.tls.client_cert", lambda j, p: build_ssl_context(client_cert=j)),
        (
            "network.tls.client_key",
            lambda j, p: build_ssl_context(client_cert=p.client_cert, client_key=j),
        ),
        ("network.proxy.cacert", lambda j, p: build_ssl_context(extra_ca=j)),
        ("network.proxy.cacert", lambda j, p: build_proxy_ssl_context(cacert=j)),
    ],
    ids=["verify", "client_cert", "client_key", "extra_ca", "proxy-cacert"],
)
def test_unusable_file_is_named_without_its_content(
    setting: str, build: Callable[[Path, Pki], ssl.SSLContext], pki: Pki, tmp_path: Path
) -> None:
    """A file that is not PEM gives a ConfigError naming setting and path, not content."""
    junk = tmp_path / "junk.pem"
    junk.write_text("SECRET-CONTENT-1234\n")
    with pytest.raises(ConfigError) as info:
        build(junk, pki)
    assert [f"{setting}: ", True, False] == [
        info.value.errors[0][: len(setting) + 2],
        str(junk) in str(info.value),
        "SECRET-CONTENT" in str(info.value),
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """A bad cipher, min_version and CA file are reported together."""
    with pytest.raises(ConfigError) as info:
        build_ssl_context(verify=tmp_path / "missing.pem", min_version="SSLv3", ciphers=["NOPE"])
    prefixes = [error.split(":", 1)[0] for error in info.value.errors]
    assert prefixes == ["network.tls.min_version", "network.tls.ciphers[0]", "network.tls.verify"]


def test_describe_trust_default_bundle() -> None:
    """verify=True is described with the bundle's path."""
    assert f"the default CA bundle ({default_ca_bundle()})" == describe_trust(True)


@pytest.mark.parametrize(
    ("verify", "extra_ca", "expected"),
    [
        ("ca.pem", None, "CA file {tmp}/ca.pem"),
        ("certs", None, "CA directory {tmp}/certs"),
        (False, None, "verification disabled"),
        ("ca.pem", "proxy-ca.pem", "CA file {tmp}/ca.pem and proxy CA {tmp}/proxy-ca.pem"),
        (False, "proxy-ca.pem", "verification disabled"),
    ],
)
def test_describe_trust_words(
    verify: object, extra_ca: str | None, expected: str, tmp_path: Path
) -> None:
    """CA files, CA directories, disabled verification and the proxy CA are named."""
    (tmp_path / "certs").mkdir()
    where = tmp_path / verify if isinstance(verify, str) else False
    extra = None if extra_ca is None else tmp_path / extra_ca
    assert expected.format(tmp=tmp_path) == describe_trust(where, extra)
