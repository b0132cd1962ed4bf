"""Validation rules of the ``network`` section: TLS, proxy and URLs, headers, timeouts.

Written black-box from DESIGN.md section 2 and provider-config.md. Rules are exercised through
``load_config`` on mappings, so that the reported paths can be checked.
"""

from __future__ import annotations

import pathlib
from typing import Any, Dict, List, NamedTuple

import pytest
import trustme
from configutil import entries_at, load_error, nest

from passthrough_client import TimeoutConfig, TLSConfig, load_config

FRAMING = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "TE", "Trailer", "Upgrade"]


class Files(NamedTuple):
    """Real certificate files for path-valued fields."""

    folder: pathlib.Path
    ca: pathlib.Path
    cert: pathlib.Path
    key: pathlib.Path


@pytest.fixture(name="files", scope="module")
def fixture_files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """A CA file, a client certificate and its key, made once per module."""
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("client.example")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    leaf.private_key_pem.write_to_path(str(folder / "client.key"))
    return Files(folder, folder / "ca.pem", folder / "client.pem", folder / "client.key")


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["client_cert", "client_key"])
def test_client_cert_and_key_must_come_together(files: Files, missing: str) -> None:
    """``client_cert`` without ``client_key`` (or the reverse) is an error."""
    tls = {"client_cert": str(files.cert), "client_key": str(files.key)}
    del tls[missing]
    err = load_error(nest("network.tls", tls))
    assert [e for e in err.errors if e.startswith("network.tls")]


def test_client_cert_and_key_together_are_accepted(files: Files) -> None:
    """A certificate and key given together are stored as paths."""
    tls = {"client_cert": str(files.cert), "client_key": str(files.key)}
    loaded = load_config(nest("network.tls", tls), environ={}).network
    assert loaded is not None and loaded.tls is not None
    assert (files.cert, files.key) == (loaded.tls.client_cert, loaded.tls.client_key)


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("network.tls.verify", {}),
        ("network.tls.client_cert", {"network.tls.client_key": "KEY"}),
        ("network.tls.client_key", {"network.tls.client_cert": "CERT"}),
        ("network.proxy.cacert", {"network.proxy.url": "http://proxy:3128"}),
    ],
)
def test_missing_file_is_reported_with_the_path_as_written(
    files: Files, path: str, extra: Dict[str, str]
) -> None:
    """A path field naming a missing file is an error naming the field and the path."""
    written = str(files.folder / "no-such-file.pem")
    section, _, field = path.rpartition(".")
    block = {field: written}
    for other, value in extra.items():
        block[other.rpartition(".")[2]] = str(files.key if value == "KEY" else files.cert)
    err = load_error(nest(section, block))
    [entry] = entries_at(err, path)
    assert written in entry
    assert "not found" in entry.lower() or "does not exist" in entry.lower()


@pytest.mark.parametrize("which", ["ca", "folder"])
def test_existing_ca_file_or_directory_is_accepted_for_verify(files: Files, which: str) -> None:
    """``verify`` accepts an existing CA file or directory and stores a ``Path``."""
    target = getattr(files, which)
    tls = load_config(nest("network.tls.verify", str(target)), environ={}).network.tls  # type: ignore[union-attr]
    assert target == tls.verify


def test_relative_path_in_direct_construction_is_made_absolute(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative ``verify`` path given to ``TLSConfig`` is resolved against the cwd."""
    monkeypatch.chdir(files.folder)
    verify = TLSConfig(verify=pathlib.Path("ca.pem")).verify
    assert isinstance(verify, pathlib.Path)
    assert (True, files.ca.resolve()) == (verify.is_absolute(), verify.resolve())


def test_home_is_expanded_in_direct_construction(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``~`` in a path given to ``TLSConfig`` is the home directory."""
    monkeypatch.setenv("HOME", str(files.folder))
    assert files.ca == TLSConfig(verify=pathlib.Path("~/ca.pem")).verify


@pytest.mark.parametrize("value", ["TLSv1.1", "TLSv1", "SSLv3", "TLSv1.4", "1.2", "tls"])
def test_min_version_is_tls12_or_tls13_only(value: str) -> None:
    """``tls.min_version`` other than TLSv1.2/TLSv1.3 is an error at its path."""
    assert entries_at(load_error(nest("network.tls.min_version", value)), "network.tls.min_version")


@pytest.mark.parametrize("value", ["TLSv1.2", "TLSv1.3"])
def test_min_version_accepts_tls12_and_tls13(value: str) -> None:
    """``TLSv1.2`` and ``TLSv1.3`` are accepted as they are."""
    config = load_config(nest("network.tls.min_version", value), environ={})
    assert value == config.network.tls.min_version  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ciphers", "bad_index"),
    [
        (["NOT-A-CIPHER"], 0),
        (["ECDHE+AESGCM", "NOT-A-CIPHER"], 1),
        (["HIGH", "NOPE-NOPE", "AESGCM"], 1),
    ],
)
def test_cipher_rejected_by_openssl_is_reported_at_its_index(
    ciphers: List[str], bad_index: int
) -> None:
    """A ``tls.ciphers`` entry OpenSSL rejects is an error at ``ciphers[i]``."""
    err = load_error(nest("network.tls.ciphers", ciphers))
    assert entries_at(err, f"network.tls.ciphers[{bad_index}]")


def test_ciphers_openssl_accepts_are_stored() -> None:
    """Cipher strings OpenSSL accepts are stored as a tuple in order."""
    config = load_config(nest("network.tls.ciphers", ["ECDHE+AESGCM", "DHE+AESGCM"]), environ={})
    assert config.network.tls.ciphers == ("ECDHE+AESGCM", "DHE+AESGCM")  # type: ignore[union-attr]


# --- proxy and URLs -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_url_excludes_per_scheme_proxies(scheme: str) -> None:
    """``proxy.url`` together with ``proxy.http`` or ``proxy.https`` is an error."""
    err = load_error(nest("network.proxy", {"url": "http://p:1", scheme: "http://q:2"}))
    assert [e for e in err.errors if e.startswith("network.proxy")]


def test_per_scheme_proxies_may_be_combined() -> None:
    """``proxy.http`` and ``proxy.https`` may be given together."""
    proxy = {"http": "http://p:1", "https": "https://q:2"}
    loaded = load_config(nest("network.proxy", proxy), environ={}).network.proxy  # type: ignore[union-attr]
    assert (loaded.http, loaded.https) == ("http://p:1", "https://q:2")


URL_FIELDS = ["base_url", "network.proxy.url", "network.proxy.http", "network.proxy.https"]


@pytest.mark.parametrize("path", URL_FIELDS)
@pytest.mark.parametrize(
    "url", ["ftp://x", "http://", "socks5://p:1", "localhost:8080", "https:///v1", "p:8080"]
)
def test_urls_must_be_http_or_https_with_a_host(path: str, url: str) -> None:
    """A URL field that is not an http(s) URL with a host is an error at its path."""
    assert entries_at(load_error(nest(path, url)), path)


@pytest.mark.parametrize("path", URL_FIELDS)
@pytest.mark.parametrize(
    "url", ["http://localhost:8321", "https://api.example.com/v1", "http://[::1]:8080"]
)
def test_http_and_https_urls_are_accepted(path: str, url: str) -> None:
    """http(s) URLs with a host are stored unchanged."""
    config: Any = load_config(nest(path, url), environ={})
    for part in path.split("."):
        config = getattr(config, part)
    assert url == config


# --- network.headers ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Bad Header", "X(Y)", "X:Y", "Ümlaut", ""])
def test_header_names_must_be_tokens(name: str) -> None:
    """A ``network.headers`` name that is not an HTTP token is an error at its key."""
    err = load_error(nest("network.headers", {name: "v"}))
    assert entries_at(err, f"network.headers[{name!r}]")


@pytest.mark.parametrize(
    "value", ["a\x00b", "a\nb", "a\rb", "a\tb", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b"]
)
def test_header_values_must_not_contain_control_characters(value: str) -> None:
    """A ``network.headers`` value with a control character is an error at its key."""
    err = load_error(nest("network.headers", {"X-Foo": value}))
    assert entries_at(err, "network.headers['X-Foo']")


@pytest.mark.parametrize(
    "name", FRAMING + [n.lower() for n in FRAMING] + [n.upper() for n in FRAMING]
)
def test_framing_headers_are_rejected(name: str) -> None:
    """Framing headers in ``network.headers`` are errors, in any case."""
    err = load_error(nest("network.headers", {name: "x"}))
    assert entries_at(err, f"network.headers[{name!r}]")


def test_valid_network_headers_are_stored() -> None:
    """Valid header names and values are stored as given."""
    headers = {"X-Foo": "bar baz", "Authorization": "Bearer abc", "x-tenant": "t1"}
    config = load_config(nest("network.headers", headers), environ={})
    assert headers == dict(config.network.headers)  # type: ignore[union-attr,arg-type]


# --- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["network.timeout", "network.timeout.connect", "network.timeout.read"]
)
@pytest.mark.parametrize("value", [0, 0.0, -1, -0.5, float("nan")])
def test_timeouts_must_be_positive(path: str, value: float) -> None:
    """A timeout <= 0 is an error at its path saying it must be > 0."""
    [entry] = entries_at(load_error(nest(path, value)), path)
    assert "> 0" in entry or "greater than 0" in entry.lower()


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (2.5, 2.5),
        (5, 5.0),
        ({"connect": 1.5}, TimeoutConfig(connect=1.5)),
        ({"read": 30}, TimeoutConfig(read=30.0)),
        ({"connect": 1, "read": 2}, TimeoutConfig(connect=1.0, read=2.0)),
    ],
)
def test_positive_timeouts_are_accepted(timeout: Any, expected: Any) -> None:
    """A positive float (or int) or a ``TimeoutConfig`` mapping is accepted."""
    config = load_config(nest("network.timeout", timeout), environ={})
    assert expected == config.network.timeout  # type: ignore[union-attr]


# --- every section at once ----------------------------------------------------------------


def test_every_problem_in_a_document_is_reported_at_once(files: Files) -> None:
    """One ``ConfigError`` lists the problems of every section together."""
    doc = {
        "base_url": "ftp://x",
        "refresh_models": "yes",
        "allowed_models": ["ok", 1],
        "bogus": 1,
        "extra_blocked_headers": [""],
        "forward_headers": {"k": "Host"},
        "network": {
            "tls": {"verify": str(files.folder / "missing.pem"), "min_version": "TLSv1.0"},
            "proxy": {"url": "http://p:1", "http": "http://p:2", "cacert": "/no/such.pem"},
            "timeout": {"connect": 0, "read": -1},
            "headers": {"Host": "x"},
        },
    }
    err = load_error(doc)
    paths = [
        "base_url",
        "refresh_models",
        "allowed_models[1]",
        "bogus",
        "extra_blocked_headers[0]",
        "forward_headers['k']",
        "network.tls.verify",
        "network.tls.min_version",
        "network.proxy.cacert",
        "network.timeout.connect",
        "network.timeout.read",
        "network.headers['Host']",
    ]
    assert [p for p in paths if not entries_at(err, p)] == []
    assert [e for e in err.errors if e.startswith("network.proxy")]
    assert "\n".join(err.errors) == str(err)
