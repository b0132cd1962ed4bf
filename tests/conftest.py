"""Shared test set-up: a clean environment for every test."""

from __future__ import annotations

import pytest

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
