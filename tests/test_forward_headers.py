"""Tests for passthrough_client._forward: reading provider data from request headers."""

from __future__ import annotations

from typing import Any

import pytest
from forwardutil import CANARY, assert_hides, table
from requests.structures import CaseInsensitiveDict

from passthrough_client._forward import (
    ALT_PROVIDER_DATA_HEADER,
    PROVIDER_DATA_HEADER,
    parse_provider_data,
    provider_data_from_headers,
)
from passthrough_client.exceptions import ProviderDataError

BOTH_HEADERS = (PROVIDER_DATA_HEADER, ALT_PROVIDER_DATA_HEADER)

HEADER_SPELLINGS = [f(h) for h in BOTH_HEADERS for f in (str, str.lower, str.upper)]


@pytest.mark.parametrize("name", HEADER_SPELLINGS)
def test_provider_data_header_lookup_is_case_insensitive(name: str) -> None:
    """Either header is found in a plain dict whatever its case."""
    headers = {"Content-Type": "application/json", name: '{"a": 1}'}
    assert provider_data_from_headers(headers) == {"a": 1}


def test_provider_data_header_found_in_case_insensitive_dict() -> None:
    """requests' CaseInsensitiveDict works as the header mapping."""
    headers = CaseInsensitiveDict({"x-llamastack-provider-data": '{"a": "b"}'})
    assert provider_data_from_headers(headers) == {"a": "b"}


@pytest.mark.parametrize("llamastack_first", [True, False])
def test_llamastack_header_wins_over_ogx(llamastack_first: bool) -> None:
    """With both headers present the X-LlamaStack-Provider-Data one is used."""
    pairs = [(PROVIDER_DATA_HEADER.lower(), '{"from": "ls"}'), (ALT_PROVIDER_DATA_HEADER, "[")]
    headers = dict(pairs if llamastack_first else pairs[::-1])
    assert provider_data_from_headers(headers) == {"from": "ls"}


def test_ogx_header_is_used_alone() -> None:
    """X-OGX-Provider-Data is read when X-LlamaStack-Provider-Data is absent."""
    headers = {ALT_PROVIDER_DATA_HEADER: '{"from": "ogx"}'}
    assert provider_data_from_headers(headers) == {"from": "ogx"}


def test_none_valued_llamastack_header_counts_as_absent() -> None:
    """A header mapped to None (some header containers do that) falls back to X-OGX."""
    headers = {PROVIDER_DATA_HEADER: None, ALT_PROVIDER_DATA_HEADER: '{"from": "ogx"}'}
    assert provider_data_from_headers(headers) == {"from": "ogx"}  # type: ignore[arg-type]


def test_absent_provider_data_headers_give_none() -> None:
    """No provider-data header at all means None, not an error."""
    assert provider_data_from_headers({"Authorization": "Bearer x", "X-Other": "{}"}) is None


NOT_OBJECTS = [
    ("truncated", f'{{"k": "{CANARY}"'),
    ("array", f'["{CANARY}"]'),
    ("string", f'"{CANARY}"'),
    ("empty", ""),
    ("blank", "  "),
    ("null", "null"),
    ("bare-word", CANARY),
    ("too-deep", "[" * 100_000 + f'"{CANARY}"' + "]" * 100_000),
]


@pytest.mark.parametrize("text", table(NOT_OBJECTS))
def test_provider_data_header_must_be_a_json_object(text: str) -> None:
    """Invalid JSON or a non-object raises ProviderDataError without key or text."""
    with pytest.raises(ProviderDataError) as info:
        provider_data_from_headers({PROVIDER_DATA_HEADER: text})
    assert info.value.key is None
    assert_hides(info.value, CANARY)


def test_conflicting_duplicate_provider_data_headers_are_rejected() -> None:
    """Two spellings of one header with different values are ambiguous and refused."""
    headers = {PROVIDER_DATA_HEADER: '{"a": 1}', PROVIDER_DATA_HEADER.lower(): '{"a": 2}'}
    with pytest.raises(ProviderDataError):
        provider_data_from_headers(headers)


def test_parse_provider_data_keeps_a_mapping_as_is() -> None:
    """A mapping is returned as it is (the very same object)."""
    data = {"a": {"b": 1}}
    assert parse_provider_data(data) is data


@pytest.mark.parametrize("raw", ['{"a": [1, "é"]}', '{"a": [1, "é"]}'.encode(), None])
def test_parse_provider_data_parses_json_text_and_bytes(raw: Any) -> None:
    """JSON text and UTF-8 bytes are parsed; None stays None."""
    assert parse_provider_data(raw) == (None if raw is None else {"a": [1, "é"]})


@pytest.mark.parametrize("raw", [f"[{CANARY!r}]", b"\xff" + CANARY.encode(), [CANARY], 42])
def test_parse_provider_data_rejects_non_objects(raw: Any) -> None:
    """Anything that is not a JSON object raises ProviderDataError without the text."""
    with pytest.raises(ProviderDataError) as info:
        parse_provider_data(raw)
    assert info.value.key is None
    assert_hides(info.value, CANARY)
