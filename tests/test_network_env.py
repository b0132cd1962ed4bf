"""The environment versus the configuration (DESIGN §3): the configuration wins section by
section; proxy and CA variables only fill what it leaves unset; read once, from
``environ`` only; ``.netrc`` never."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping

import pytest
import requests
from netutil import Pki, RecordingProxy, client_for, closed_port

from passthrough_client import APIConnectionError, ConfigError, PassthroughClient
from passthrough_client.testing import FakeUpstream

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def hostile(tmp_path: Path) -> Dict[str, str]:
    """Variables that would break every request if they were obeyed."""
    dead = f"http://127.0.0.1:{closed_port()}"
    missing = str(tmp_path / "missing-ca.pem")
    return {
        "HTTPS_PROXY": dead,
        "HTTP_PROXY": dead,
        "ALL_PROXY": dead,
        "NO_PROXY": "*",
        "REQUESTS_CA_BUNDLE": missing,
        "CURL_CA_BUNDLE": missing,
        "SSL_CERT_FILE": missing,
    }


def bare_client(url: str, environ: Mapping[str, str]) -> PassthroughClient:
    """A client whose configuration has no network section at all."""
    return PassthroughClient({"base_url": url}, environ=environ, max_retries=0)


# --- the configuration wins -----------------------------------------------------------


def test_configuration_wins_over_a_hostile_environment(
    proxy: RecordingProxy, secure: FakeUpstream, origin: Pki, tmp_path: Path
) -> None:
    """Configured proxy and CA are used; HTTPS_PROXY, NO_PROXY=* and CA variables are not."""
    tls = {"verify": str(origin.ca_file)}
    client = client_for(secure.url, tls=tls, proxy={"url": proxy.url()}, environ=hostile(tmp_path))
    client.models()
    assert [f"127.0.0.1:{secure.port}"] == [r.target for r in proxy.connects()]


def test_os_environ_is_ignored_when_environ_is_given(
    secure: FakeUpstream, origin: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same hostile variables in os.environ change nothing when environ= is passed."""
    for name, value in hostile(tmp_path).items():
        monkeypatch.setenv(name, value)
    client_for(secure.url, tls={"verify": str(origin.ca_file)}, environ={}).models()
    assert len(secure.requests) == 1


class _Recording(Dict[str, str]):
    """A stand-in for ``os.environ`` that records every name looked up."""

    def __init__(self, data: Mapping[str, str], reads: List[str]) -> None:
        super().__init__(data)
        self.reads = reads

    def __getitem__(self, key: str) -> str:
        self.reads.append(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.append(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.reads.append(str(key))
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.reads.append("<all>")
        return super().__iter__()


def test_os_environ_is_never_consulted_when_environ_is_given(
    proxy: RecordingProxy, secure: FakeUpstream, origin: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the client and sending through a proxy reads nothing from os.environ."""
    reads: List[str] = []
    tls = {"verify": str(origin.ca_file), "ciphers": ["ECDHE+AESGCM"], "min_version": "TLSv1.2"}
    monkeypatch.setattr(os, "environ", _Recording(os.environ, reads))
    client = client_for(secure.url, tls=tls, proxy={"url": proxy.url()}, environ={})
    client.models()
    client.chat(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    assert list(reads) == []


def test_environment_is_read_once_at_construction(
    upstream: FakeUpstream, proxy: RecordingProxy
) -> None:
    """Changing the environ mapping after the client was built changes nothing."""
    environ = {"HTTP_PROXY": proxy.url()}
    client = bare_client(upstream.url, environ)
    environ["HTTP_PROXY"] = f"http://127.0.0.1:{closed_port()}"
    client.models()
    assert len(proxy.records) == 1


# --- proxy variables fill an absent network.proxy -------------------------------------


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_http_proxy_variables_apply_without_a_proxy_section(
    upstream: FakeUpstream, proxy: RecordingProxy, name: str
) -> None:
    """HTTP_PROXY (or ALL_PROXY, any case) carries http:// traffic when nothing is set."""
    bare_client(upstream.url, {name: proxy.url()}).models()
    assert [f"{upstream.url}/v1/models"] == [r.target for r in proxy.records]


def test_https_proxy_variable_applies_without_a_proxy_section(
    secure: FakeUpstream, proxy: RecordingProxy, origin: Pki
) -> None:
    """HTTPS_PROXY tunnels https:// traffic when network.proxy is absent."""
    environ = {"HTTPS_PROXY": proxy.url(), "REQUESTS_CA_BUNDLE": str(origin.ca_file)}
    bare_client(secure.url, environ).models()
    assert [f"127.0.0.1:{secure.port}"] == [r.target for r in proxy.connects()]


def test_no_proxy_variable_bypasses_an_environment_proxy(
    upstream: FakeUpstream, proxy: RecordingProxy
) -> None:
    """NO_PROXY applies to proxies that came from the environment."""
    bare_client(upstream.url, {"HTTP_PROXY": proxy.url(), "NO_PROXY": "127.0.0.1"}).models()
    assert (proxy.records, len(upstream.requests)) == ([], 1)


def test_proxy_section_without_proxies_ignores_proxy_variables(
    upstream: FakeUpstream, proxy: RecordingProxy
) -> None:
    """A network.proxy section (even only no_proxy) keeps HTTP_PROXY out entirely."""
    client = client_for(
        upstream.url, proxy={"no_proxy": ["example.com"]}, environ={"HTTP_PROXY": proxy.url()}
    )
    client.models()
    assert (proxy.records, len(upstream.requests)) == ([], 1)


# --- CA variables fill an absent network.tls ------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "untrusted"),
    [
        ("REQUESTS_CA_BUNDLE", ("CURL_CA_BUNDLE", "SSL_CERT_FILE")),
        ("CURL_CA_BUNDLE", ("SSL_CERT_FILE",)),
        ("SSL_CERT_FILE", ()),
    ],
)
def test_ca_variable_precedence(
    secure: FakeUpstream, origin: Pki, stranger: Pki, trusted: str, untrusted: Any
) -> None:
    """REQUESTS_CA_BUNDLE > CURL_CA_BUNDLE > SSL_CERT_FILE: the first one set is used."""
    environ = {trusted: str(origin.ca_file)}
    environ.update({name: str(stranger.ca_file) for name in untrusted})
    bare_client(secure.url, environ).models()
    assert len(secure.requests) == 1


@pytest.mark.parametrize(
    ("winner", "loser"),
    [("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"), ("CURL_CA_BUNDLE", "SSL_CERT_FILE")],
)
def test_ca_variable_of_lower_rank_is_not_used(
    secure: FakeUpstream, origin: Pki, stranger: Pki, winner: str, loser: str
) -> None:
    """A good CA in a lower-ranked variable does not rescue a wrong higher-ranked one."""
    environ = {winner: str(stranger.ca_file), loser: str(origin.ca_file)}
    with pytest.raises(APIConnectionError, match=f"certificate verify failed.*{winner}"):
        bare_client(secure.url, environ).models()


@pytest.mark.parametrize("name", CA_VARIABLES)
def test_ca_variable_naming_a_missing_file_is_a_config_error(
    upstream: FakeUpstream, tmp_path: Path, name: str
) -> None:
    """A CA variable naming a missing file: ConfigError naming the variable, at build."""
    with pytest.raises(ConfigError, match=f"^{name}: .*does not exist"):
        bare_client(upstream.url, {name: str(tmp_path / "nope.pem")})


def test_ca_variable_naming_an_unreadable_bundle_is_a_config_error(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A CA variable naming a file without certificates: the error names the variable."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"^REQUESTS_CA_BUNDLE: cannot load CA certificates"):
        bare_client(upstream.url, {"REQUESTS_CA_BUNDLE": str(junk)})


@pytest.mark.parametrize("tls", [{"verify": True}, {"min_version": "TLSv1.2"}])
def test_tls_section_keeps_ca_variables_out(
    secure: FakeUpstream, origin: Pki, tls: Dict[str, Any]
) -> None:
    """With any network.tls section, REQUESTS_CA_BUNDLE is not used (default bundle)."""
    client = client_for(secure.url, tls=tls, environ={"REQUESTS_CA_BUNDLE": str(origin.ca_file)})
    with pytest.raises(APIConnectionError, match="default CA bundle"):
        client.models()


def test_ca_variable_is_named_in_the_verification_error(
    secure: FakeUpstream, stranger: Pki
) -> None:
    """A failure with an environment CA bundle says which variable supplied it."""
    environ = {"SSL_CERT_FILE": str(stranger.ca_file)}
    with pytest.raises(APIConnectionError, match=r"from SSL_CERT_FILE") as caught:
        bare_client(secure.url, environ).models()
    assert str(stranger.ca_file) in str(caught.value)


# --- SSLKEYLOGFILE -----------------------------------------------------------------------


def test_key_log_file_comes_from_environ(secure: FakeUpstream, origin: Pki, tmp_path: Path) -> None:
    """SSLKEYLOGFILE in the client's environ receives the TLS session keys."""
    keylog = tmp_path / "keys.log"
    environ = {"SSLKEYLOGFILE": str(keylog), "REQUESTS_CA_BUNDLE": str(origin.ca_file)}
    bare_client(secure.url, environ).models()
    assert "CLIENT_" in keylog.read_text()


def test_key_log_file_in_os_environ_is_ignored(
    secure: FakeUpstream, origin: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSLKEYLOGFILE set only in os.environ writes nothing when environ= is given."""
    keylog = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    fresh = tmp_path / "ca.pem"  # a path no earlier client used: contexts are built anew
    fresh.write_bytes(origin.ca_file.read_bytes())
    bare_client(secure.url, {"REQUESTS_CA_BUNDLE": str(fresh)}).models()
    assert not keylog.exists()


# --- .netrc -----------------------------------------------------------------------------


@pytest.fixture(name="netrc_home")
def fixture_netrc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME (and NETRC) pointing at a .netrc with credentials for 127.0.0.1."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    return tmp_path


def test_netrc_fixture_is_honoured_by_plain_requests(
    netrc_home: Path, upstream: FakeUpstream
) -> None:
    """The control: a default requests session would send the .netrc credentials."""
    requests.get(f"{upstream.url}/v1/models", timeout=5).close()
    assert upstream.requests[0].headers.get("Authorization", "").startswith("Basic ")


@pytest.mark.parametrize("pass_home", [False, True])
def test_netrc_is_never_read(netrc_home: Path, upstream: FakeUpstream, pass_home: bool) -> None:
    """A .netrc for the service's host never adds an Authorization header."""
    environ = {"HOME": str(netrc_home), "NETRC": str(netrc_home / ".netrc")} if pass_home else {}
    bare_client(upstream.url, environ).models()
    assert upstream.requests[0].headers.get("Authorization") is None
