"""Shared test set-up: a clean environment for every test, and shared fixtures."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
from hypothesis import settings
from netutil import Pki as NetPki
from netutil import RecordingProxy
from scriptutil import ScriptServer
from tlsutil import Pki

from passthrough_client import PassthroughClient
from passthrough_client.testing import FakeUpstream

_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSLKEYLOGFILE",
    "PASSTHROUGH_URL",
    "PASSTHROUGH_API_KEY",
    "REQUEST_METHOD",
)


# Property tests: the default profile runs them as written; ``quick`` (set by .ci/run on
# the secondary stacks) runs a quarter of the examples (tests/fuzzing.py). Neither has
# Hypothesis' 200 ms limit per example: on a loaded CI machine a stall of a fraction of
# a second would fail an example that takes milliseconds.
settings.register_profile("default", deadline=None)
settings.register_profile("quick", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("PT_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strip proxy, CA and client variables so no test depends on the machine's."""
    import os

    for name in list(os.environ):
        if name.upper() in _VARIABLES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="upstream")
def fixture_upstream() -> Iterator[FakeUpstream]:
    """A started ``FakeUpstream`` with its default routes, stopped after the test."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(name="pki", scope="module")
def fixture_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """CAs, certificates and PEM files for the ``_tls`` tests, made once per module."""
    return Pki(tmp_path_factory.mktemp("pki"))


# --- the network suites (tests/test_network_*.py): certificate authorities and servers


@pytest.fixture(name="pki_dir", scope="module")
def fixture_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for one module's certificate files."""
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(name="origin", scope="module")
def fixture_origin(pki_dir: Path) -> NetPki:
    """The CA that signs the service's certificate."""
    return NetPki(pki_dir, "origin")


@pytest.fixture(name="stranger", scope="module")
def fixture_stranger(pki_dir: Path) -> NetPki:
    """A CA nobody trusts."""
    return NetPki(pki_dir, "stranger")


@pytest.fixture(name="proxy_pki", scope="module")
def fixture_proxy_pki(pki_dir: Path) -> NetPki:
    """The CA of an HTTPS or intercepting proxy."""
    return NetPki(pki_dir, "proxy")


@pytest.fixture(name="proxy")
def fixture_proxy() -> Iterator[RecordingProxy]:
    """A recording CONNECT/forwarding proxy on 127.0.0.1."""
    with RecordingProxy() as proxy:
        yield proxy


@pytest.fixture(name="secure")
def fixture_secure(origin: NetPki) -> Iterator[FakeUpstream]:
    """A FakeUpstream serving TLS with a certificate from ``origin``."""
    with FakeUpstream(ssl_context=origin.server_context()) as upstream:
        yield upstream


@pytest.fixture(name="serve")
def fixture_serve() -> Iterator[Callable[..., PassthroughClient]]:
    """``serve(script, **client_options)``: a scripted raw-socket server and a client of
    it (no retries, empty environment); both stopped after the test."""
    opened: List[Any] = []

    def make(script: Callable[[socket.socket], None], **options: Any) -> PassthroughClient:
        server = ScriptServer(script).__enter__()
        client = PassthroughClient(base_url=server.url, max_retries=0, environ={}, **options)
        opened.append((server, client))
        return client

    yield make
    for server, client in opened:
        client.close()
        server.close()
