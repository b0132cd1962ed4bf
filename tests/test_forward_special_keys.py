"""Tests for passthrough_client._forward: the passthrough_url and passthrough_api_key keys."""

from __future__ import annotations

from typing import Any, List

import pytest
from forwardutil import CANARY, assert_hides, summary

from passthrough_client._forward import resolve_provider_data
from passthrough_client.exceptions import ProviderDataError


def test_passthrough_url_and_api_key_are_read_without_forward_headers() -> None:
    """The two special keys are extracted whatever forward_headers says."""
    data = {"passthrough_url": "https://llm.example.com/v1", "passthrough_api_key": "sk-1"}
    forwarded = resolve_provider_data(data, None)
    assert summary(forwarded) == ({}, "https://llm.example.com/v1", "sk-1", False)


def test_passthrough_keys_listed_in_forward_headers_are_also_forwarded() -> None:
    """Listing a special key forwards it as a header as well as extracting it."""
    data = {"passthrough_api_key": "sk-1"}
    forwarded = resolve_provider_data(data, {"passthrough_api_key": "X-Key"})
    assert summary(forwarded) == ({"X-Key": "sk-1"}, None, "sk-1", True)


def test_empty_passthrough_api_key_is_returned_as_is() -> None:
    """An empty passthrough_api_key is reported verbatim; the caller decides it means none."""
    assert resolve_provider_data({"passthrough_api_key": ""}, None).api_key == ""


GOOD_URLS = ["http://h", "https://h.example:8443/openai/v1", "HTTPS://H/", "http://[::1]:80"]


@pytest.mark.parametrize("url", GOOD_URLS)
def test_passthrough_url_accepts_http_urls_with_a_host(url: str) -> None:
    """http(s) URLs with a host are returned exactly as given."""
    assert resolve_provider_data({"passthrough_url": url}, None).base_url == url


BAD_URLS: List[Any] = [
    f"ftp://{CANARY}.example/",
    f"{CANARY}.example",
    "http://",
    f"http:///{CANARY}",
]

BAD_URLS += [f"https://{CANARY}:port/", f"http://[::1{CANARY}", f"file:///{CANARY}", ""]

BAD_URLS += [f" https://{CANARY}.example", f"https://{CANARY}/\n", f"https://{CANARY}/\u0100"]

BAD_URLS += [123, {"url": CANARY}, [CANARY], True]


@pytest.mark.parametrize("url", BAD_URLS)
def test_passthrough_url_rejections_name_the_key_not_the_value(url: Any) -> None:
    """A passthrough_url that is not a clean http(s) URL string is refused without echo."""
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data({"passthrough_url": url}, None)
    assert info.value.key == "passthrough_url"
    assert_hides(info.value, CANARY)


BAD_KEYS = [{"k": CANARY}, [CANARY], f"{CANARY}\n", f"{CANARY}\u0100", f" {CANARY}"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_passthrough_api_key_rejections_name_the_key_not_the_value(key: Any) -> None:
    """A passthrough_api_key must be a forwardable value; errors hide it."""
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data({"passthrough_api_key": key}, None)
    assert info.value.key == "passthrough_api_key"
    assert_hides(info.value, CANARY)


def test_passthrough_url_with_credentials_is_refused() -> None:
    """A passthrough_url carrying user:password is refused, as base_url is, never quoted."""
    data = {"passthrough_url": f"https://user:{CANARY}@h.example.com"}
    with pytest.raises(ProviderDataError) as caught:
        resolve_provider_data(data, None)
    assert (caught.value.key, CANARY in str(caught.value)) == ("passthrough_url", False)


@pytest.mark.parametrize(("value", "expected"), [(12345, "12345"), (True, "true"), (1.5, "1.5")])
def test_passthrough_api_key_numbers_use_json_spelling(value: Any, expected: str) -> None:
    """Like every forwarded value, a number or boolean key is used in its JSON spelling."""
    assert resolve_provider_data({"passthrough_api_key": value}, None).api_key == expected
