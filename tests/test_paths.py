"""The path rules of ``client.request()`` (DESIGN §4), tested on the pure module."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passthrough_client._net.transport import origin_of
from passthrough_client._paths import check_path, request_url, server_root


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://h", "rerank", "http://h/v1/rerank"),
        ("http://h/", "rerank", "http://h/v1/rerank"),
        ("http://h/v1", "rerank", "http://h/v1/rerank"),
        ("http://h/openai", "rerank", "http://h/openai/v1/rerank"),
        ("http://h/openai/v1/", "v2/rerank", "http://h/openai/v1/v2/rerank"),
        ("http://h/openai/v1", "/tokenize", "http://h/openai/tokenize"),
        ("http://h/openai", "/tokenize", "http://h/openai/tokenize"),
        ("http://h/v1", "/tokenize", "http://h/tokenize"),
        ("http://h", "/v2/rerank", "http://h/v2/rerank"),
        ("https://h:8443/x/v1?api-version=1", "/t", "https://h:8443/x/t?api-version=1"),
        ("http://h", "models?limit=2", "http://h/v1/models?limit=2"),
    ],
)
def test_paths_join_to_the_api_or_the_server_root(base: str, path: str, expected: str) -> None:
    """No leading slash: under ``{api}``; a leading slash: under the server root."""
    assert expected == request_url(base, path)


def test_params_are_added_to_the_query() -> None:
    """``params`` follow a query of ``base_url``; booleans in JSON spelling, None left out."""
    url = request_url("http://h/v1?k=1", "rerank", {"top_n": 3, "x": None, "raw": True})
    assert url == "http://h/v1/rerank?k=1&top_n=3&raw=true"


@pytest.mark.parametrize(
    "path",
    [
        "http://evil.example/v1/rerank",
        "HTTPS://evil.example",
        "//evil.example/rerank",
        "javascript:alert(1)",
        "../admin",
        "/v1/../../admin",
        "a/%2e%2e/b",
        "a/%2E./b",
        "a/.%2e/b",
        "a/%252e%252e/b",
        "a\\..\\b",
        "/\\evil.example",
        "a b",
        "a\nb",
        "a#frag",
        "",
        "/",
        "..",
    ],
)
def test_refused_paths_raise_value_error(path: str) -> None:
    """Absolute, scheme-relative, ``..`` (also percent-encoded) and odd paths are refused."""
    with pytest.raises(ValueError, match="path"):
        request_url("http://h/v1", path)


@pytest.mark.parametrize("path", ["a..b/c", "v1/x.y", "rerank", "/health", "..a", "x/...", "a:b"])
def test_harmless_dots_pass(path: str) -> None:
    """Dots inside a segment are not ``..`` segments (``a:b`` after the first slash is fine)."""
    if path == "a:b":
        path = "x/a:b"
    assert path == check_path(path)


def test_server_root_drops_only_a_trailing_v1() -> None:
    """``/v1`` is removed only at the end; other prefixes stay."""
    assert server_root("http://h/v1x/") == "http://h/v1x"
    assert server_root("http://h/openai/v1/?q=1") == "http://h/openai"


@given(st.text(max_size=40))
def test_no_path_ever_leaves_the_origin(path: str) -> None:
    """Whatever the path, the URL has the base's origin, or the path is refused."""
    base = "https://api.example:8443/openai/v1"
    try:
        url = request_url(base, path)
    except ValueError:
        return
    assert origin_of(base) == origin_of(url)
    assert ".." not in urlsplit(url).path.split("/")
