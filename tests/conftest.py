"""Shared test set-up: a clean environment for every test, and shared fixtures."""

from __future__ import annotations

from typing import Iterator

import pytest
from tlsutil import Pki

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
