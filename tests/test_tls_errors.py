"""Tests for passthrough_client._rules.tls: ConfigError reports, cipher_error and describe_trust."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st
from tlsutil import Pki, write_pem

from passthrough_client._rules.tls import (
    build_proxy_ssl_context,
    build_ssl_context,
    cipher_error,
    default_ca_bundle,
    describe_trust,
)
from passthrough_client.exceptions import ConfigError


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
