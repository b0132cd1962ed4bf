"""Tests of passthrough_client._rules.proxy: masking and checking proxy URLs (no sockets)."""

from __future__ import annotations

import pytest

from passthrough_client._rules.proxy import mask_url, proxy_error

# --- mask_url and proxy_error --------------------------------------------------------

MASK_TABLE = [
    ("http://user:pass@proxy:3128", "http://user:**********@proxy:3128"),
    ("https://user:p%40ss%3Aw@proxy.corp/", "https://user:**********@proxy.corp/"),
    ("http://user:pa:ss@proxy:3128/path?q=1", "http://user:**********@proxy:3128/path?q=1"),
    ("http://user:pa@ss@proxy:3128", "http://user:**********@proxy:3128"),
    ("http://user@proxy:3128", "http://user@proxy:3128"),
    ("http://proxy:3128", "http://proxy:3128"),
    ("http://proxy:3128/a@b", "http://proxy:3128/a@b"),
    ("http://u:p@[::1]:3128", "http://u:**********@[::1]:3128"),
    ("http://[::1]:3128", "http://[::1]:3128"),
    ("u:secret@proxy:3128", "u:**********@proxy:3128"),
    ("", ""),
    ("not a url", "not a url"),
]


@pytest.mark.parametrize(("url", "expected"), MASK_TABLE)
def test_mask_url_hides_only_the_password(url: str, expected: str) -> None:
    """mask_url replaces the password with '**********' and leaves everything else."""
    assert expected == mask_url(url)


PROXY_OK = [
    "http://proxy:3128",
    "https://proxy.corp",
    "HTTP://Proxy.Corp:8080/",
    "http://user:pass@proxy:3128",
    "http://[::1]:3128",
    "http://127.0.0.1:3128",
]

PROXY_BAD = [
    ("", "http:// or https://"),
    ("proxy:3128", "http:// or https://"),
    ("socks5://user:hunter2@proxy:1080", "http:// or https://"),
    ("ftp://proxy", "http:// or https://"),
    ("http://", "no host"),
    ("http://user:hunter2@", "no host"),
    ("http://:3128", "no host"),
    ("http://proxy:notaport", "not a valid URL"),
    ("http://proxy:99999", "not a valid URL"),
    ("http://[::1:3128", "not a valid URL"),
    ("http://proxy:0", "port 0"),
    ("http://prox y:3128", "whitespace"),
    (" http://proxy:3128", "whitespace"),
    ("http://proxy:3128\n", "control"),
]


@pytest.mark.parametrize("value", PROXY_OK)
def test_proxy_error_accepts_http_and_https_urls(value: str) -> None:
    """http(s) URLs with a host produce no message."""
    assert proxy_error(value) is None


@pytest.mark.parametrize(("value", "fragment"), PROXY_BAD)
def test_proxy_error_explains_bad_urls(value: str, fragment: str) -> None:
    """Anything else produces a message saying what is wrong."""
    message = proxy_error(value)
    assert message is not None and fragment in message


@pytest.mark.parametrize(
    "value",
    [
        "socks5://user:hunter2@proxy:1080",
        "http://user:hunter2@",
        "http://user:hunter2@proxy:bad",
        "http://user:hun/ter2@proxy:3128",
        "http://user:hunter2 @proxy:3128",
        "http://user:hunter2@[::1:3128",
    ],
)
def test_proxy_error_never_shows_the_password(value: str) -> None:
    """The message for a bad URL never contains the password, even when badly formed."""
    message = proxy_error(value)
    assert message is not None and "hunter2" not in message and "ter2" not in message
