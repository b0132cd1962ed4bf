"""Tests for passthrough_client._forward: provider data -> headers, base URL, API key."""

from __future__ import annotations

import json
import math
import socket
import threading
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity

from passthrough_client._forward import (
    ALT_PROVIDER_DATA_HEADER,
    PROVIDER_DATA_HEADER,
    Forwarded,
    header_value,
    parse_provider_data,
    provider_data_from_headers,
    resolve_provider_data,
)
from passthrough_client.exceptions import ProviderDataError

CANARY = "CANARY-SECRET-123"
TOKEN = {"maas_api_token": "Authorization"}
CONTROLS = frozenset([*map(chr, range(0x20)), "\x7f", "\x85", "\u2028", "\u2029"])
SPECIAL_KEYS = ("passthrough_url", "passthrough_api_key")


def table(rows: List[Tuple[Any, ...]]) -> List[Any]:
    """Turn ``(id, *values)`` rows into ``pytest.param`` objects."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


def summary(forwarded: Forwarded) -> Tuple[Dict[str, str], Optional[str], Optional[str], bool]:
    """All of a Forwarded value as plain data: (headers, base_url, api_key, matched)."""
    return dict(forwarded.headers), forwarded.base_url, forwarded.api_key, forwarded.matched


def assert_hides(exc: BaseException, secret: str) -> None:
    """The secret is in neither the text, the repr nor any chained exception."""
    assert (secret in str(exc), secret in repr(exc)) == (False, False)
    assert (exc.__cause__, exc.__context__) == (None, None)


def forwardable(text: str) -> bool:
    """Independent statement of which strings may be forwarded as they are."""
    return (
        len(text.encode("utf-8")) <= 8192
        and all(ord(char) <= 0xFF and char not in CONTROLS for char in text)
        and not (text and (text[0].isspace() or text[-1].isspace()))
    )


def test_unlisted_keys_are_never_forwarded() -> None:
    """Keys absent from forward_headers never reach the headers, whatever they hold."""
    data = {
        "maas_api_token": "Bearer sk-ok",
        "openai_api_key": CANARY,
        "authorization": CANARY,
        "together": {"api_key": CANARY, "nested": [CANARY]},
    }
    forwarded = resolve_provider_data(data, TOKEN)
    assert dict(forwarded.headers) == {"Authorization": "Bearer sk-ok"}
    assert CANARY not in repr(forwarded)


@pytest.mark.parametrize("value", [{"a": {"b": "\x00"}}, ["x"], math.nan, "\n", Decimal(1)])
def test_unlisted_unforwardable_values_are_ignored_not_rejected(value: Any) -> None:
    """A value that could never be sent is no error when its key is not listed."""
    assert dict(resolve_provider_data({"other_provider": value}, TOKEN).headers) == {}


def test_without_forward_headers_nothing_is_forwarded() -> None:
    """No forward_headers configured means no header at all (default-deny)."""
    forwarded = resolve_provider_data({"maas_api_token": "Bearer sk-x"}, None)
    assert summary(forwarded) == ({}, None, None, False)


def test_maas_api_token_is_sent_as_authorization() -> None:
    """The provider-config.md example: maas_api_token -> Authorization, verbatim."""
    forwarded = resolve_provider_data({"maas_api_token": "Bearer sk-xxx"}, TOKEN)
    assert summary(forwarded) == ({"Authorization": "Bearer sk-xxx"}, None, None, True)


@pytest.mark.parametrize("data", [{}, {"maas_api_token": None}], ids=["missing", "null"])
def test_missing_and_null_listed_keys_are_skipped(data: Dict[str, Any]) -> None:
    """A listed key that is absent or null produces no header and no error."""
    assert summary(resolve_provider_data(data, TOKEN)) == ({}, None, None, False)


Spelling = List[Tuple[Any, str]]
SPELLINGS: Spelling = [(1, "1"), (0, "0"), (-42, "-42"), (1.5, "1.5"), (-0.0, "-0.0")]
SPELLINGS += [(1e100, "1e+100")]
SPELLINGS += [(True, "true"), (False, "false"), ("00123", "00123"), ("true", "true")]


@pytest.mark.parametrize(("value", "expected"), SPELLINGS)
def test_numbers_and_booleans_use_json_spelling(value: Any, expected: str) -> None:
    """Numbers and booleans are rendered as JSON spells them; strings stay as they are."""
    forwarded = resolve_provider_data({"n": value}, {"n": "X-N"})
    assert dict(forwarded.headers) == {"X-N": expected}


VERBATIM = ["Bearer sk-xxx", "a b  c", "a\xa0b", "café", "ÿ", '"quoted";x=1', "a" * 8192]


@pytest.mark.parametrize("value", VERBATIM)
def test_valid_strings_are_forwarded_verbatim(value: str) -> None:
    """Interior spaces, Latin-1 letters and punctuation pass through unaltered."""
    assert header_value("k", value) == value


def test_empty_string_is_forwarded_as_empty_header_value() -> None:
    """An empty string is legal HTTP and is sent as an empty value, never dropped."""
    forwarded = resolve_provider_data({"tenant": ""}, {"tenant": "X-Tenant"})
    assert summary(forwarded) == ({"X-Tenant": ""}, None, None, True)


def _receive_head(server: socket.socket, out: List[bytes]) -> None:
    """Accept one connection, keep its request head, answer 200 and close."""
    conn, _ = server.accept()
    with conn:
        conn.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
            head += chunk
        out.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def test_requests_transmits_an_empty_header_value() -> None:
    """requests sends an empty header value on the wire, so forwarding "" is not a drop."""
    received: List[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server, requests.Session() as session:
        server.settimeout(5)
        thread = threading.Thread(target=_receive_head, args=(server, received), daemon=True)
        thread.start()
        session.trust_env = False
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"
        session.get(url, headers={"X-Tenant": ""}, timeout=5)
        thread.join(5)
    assert b"\r\nX-Tenant: \r\n" in received[0]


WHITESPACE = "leading or trailing whitespace"
TOO_LONG = "longer than 8192 UTF-8 bytes"
REJECTIONS = [
    (f"control-U+{ord(c):04X}", f"{CANARY}{c}x", "control character")
    for c in ["\x00", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\u2028", "\u2029"]
] + [
    ("leading-space", f" {CANARY}", WHITESPACE),
    ("trailing-space", f"{CANARY} ", WHITESPACE),
    ("leading-nbsp", f"\xa0{CANARY}", WHITESPACE),
    ("trailing-ideographic-space", f"{CANARY}\u3000", WHITESPACE),
    ("outside-latin1", f"{CANARY}\u0100", "outside Latin-1"),
    ("emoji", f"{CANARY}\U0001f600", "outside Latin-1"),
    ("too-long", CANARY + "a" * 8192, TOO_LONG),
    ("too-long-multibyte", CANARY + "é" * 4096, TOO_LONG),
    ("nested-object", {"token": CANARY}, "nested object"),
    ("list", [CANARY], "list"),
    ("tuple", (CANARY,), "list"),
    ("nan", math.nan, "finite number"),
    ("infinity", math.inf, "finite number"),
    ("minus-infinity", -math.inf, "finite number"),
    ("unsupported-type", Decimal("1.5"), "unsupported type 'Decimal'"),
    ("bytes", CANARY.encode(), "unsupported type 'bytes'"),
]


@pytest.mark.parametrize(("value", "reason"), table(REJECTIONS))
def test_unforwardable_values_are_rejected_naming_key_not_value(value: Any, reason: str) -> None:
    """Each rejection names the key and the reason, and never shows the value."""
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data({"maas_api_token": value}, TOKEN)
    assert (info.value.key, reason in str(info.value)) == ("maas_api_token", True)
    assert_hides(info.value, CANARY)


def test_rejection_message_format() -> None:
    """The message reads: provider data key '<key>': <reason>."""
    with pytest.raises(ProviderDataError) as info:
        header_value("maas_api_token", "a\x00b")
    expected = "provider data key 'maas_api_token': value contains a control character"
    assert str(info.value) == expected


def test_hostile_key_names_are_escaped_and_truncated_in_messages() -> None:
    """A key with newlines shows escaped and bounded in the message; .key stays raw."""
    key = "evil\nINJECTED log line\r\n" * 20
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data({key: "\x00"}, {key: "X-Evil"})
    message = str(info.value)
    assert (info.value.key, "\n" in message, "\r" in message) == (key, False, False)
    assert len(message) < 200


SIZES = [
    ("ascii-8192", "a" * 8192, True),
    ("ascii-8193", "a" * 8193, False),
    ("e-acute-8192", "é" * 4096, True),
    ("mixed-8192", "é" * 4095 + "ab", True),
    ("e-acute-then-a-8193", "é" * 4096 + "a", False),
    ("a-then-e-acute-8193", "a" + "é" * 4096, False),
]


@pytest.mark.parametrize(("value", "accepted"), table(SIZES))
def test_size_limit_is_8192_utf8_bytes(value: str, accepted: bool) -> None:
    """Exactly 8192 UTF-8 bytes pass, 8193 fail; Latin-1 letters above 0x7F count 2."""
    try:
        result: Optional[str] = header_value("k", value)
    except ProviderDataError:
        result = None
    assert (result == value) == accepted


COLLISIONS = [
    ("later-wins", {"a": "first", "b": "second"}, {"x-TENANT": "second"}),
    ("later-null", {"a": "first", "b": None}, {"X-Tenant": "first"}),
    ("later-missing", {"a": "first"}, {"X-Tenant": "first"}),
    ("earlier-missing", {"b": "second"}, {"x-TENANT": "second"}),
]


@pytest.mark.parametrize(("data", "expected"), table(COLLISIONS))
def test_same_header_later_present_key_wins_case_insensitively(
    data: Dict[str, Any], expected: Dict[str, str]
) -> None:
    """Keys targeting one header (any case) give one header: the later present key's."""
    forwarded = resolve_provider_data(data, {"a": "X-Tenant", "b": "x-TENANT"})
    assert dict(forwarded.headers) == expected


def test_same_header_shadowed_bad_value_is_still_rejected() -> None:
    """A bad value is an error even when a later key would win the header."""
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data({"a": "bad\n", "b": "good"}, {"a": "X-T", "b": "X-T"})
    assert info.value.key == "a"


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


BAD_KEYS = [42, True, {"k": CANARY}, f"{CANARY}\n", f"{CANARY}\u0100", f" {CANARY}"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_passthrough_api_key_rejections_name_the_key_not_the_value(key: Any) -> None:
    """A passthrough_api_key must be a forwardable string; errors hide it."""
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data({"passthrough_api_key": key}, None)
    assert info.value.key == "passthrough_api_key"
    assert_hides(info.value, CANARY)


MATCHED = [
    ("no-data", None, TOKEN, False),
    ("no-forward-headers", {"maas_api_token": "t"}, None, False),
    ("listed", {"maas_api_token": "t"}, TOKEN, True),
    ("listed-empty", {"maas_api_token": ""}, TOKEN, True),
    ("listed-false", {"maas_api_token": False}, TOKEN, True),
    ("listed-null", {"maas_api_token": None}, TOKEN, False),
    ("unlisted", {"other": "t"}, TOKEN, False),
    (
        "special-keys-only",
        {"passthrough_url": "http://h", "passthrough_api_key": "k"},
        TOKEN,
        False,
    ),
]


@pytest.mark.parametrize(("data", "forward_headers", "matched"), table(MATCHED))
def test_matched_means_a_listed_key_was_present_and_not_null(
    data: Optional[Dict[str, Any]], forward_headers: Optional[Dict[str, str]], matched: bool
) -> None:
    """matched is true exactly when a forward_headers key held a non-null value."""
    assert resolve_provider_data(data, forward_headers).matched == matched


def test_non_mapping_provider_data_is_rejected() -> None:
    """A list where provider data should be raises ProviderDataError without a key."""
    with pytest.raises(ProviderDataError) as info:
        resolve_provider_data([CANARY], TOKEN)  # type: ignore[arg-type]
    assert info.value.key is None
    assert_hides(info.value, CANARY)


def test_forwarded_repr_hides_values_key_and_url_query() -> None:
    """The repr shows header names but no header value, API key or URL query."""
    data = {
        "maas_api_token": f"Bearer {CANARY}-h",
        "passthrough_api_key": f"{CANARY}-k",
        "passthrough_url": f"https://h.example.com/v1?key={CANARY}-q",
    }
    text = repr(resolve_provider_data(data, TOKEN))
    assert (CANARY in text, "Authorization" in text, "h.example.com" in text) == (False, True, True)


def test_forwarded_headers_cannot_be_mutated() -> None:
    """The headers of a Forwarded value are read-only."""
    forwarded = resolve_provider_data({"maas_api_token": "t"}, TOKEN)
    with pytest.raises(TypeError):
        forwarded.headers["X-Injected"] = "x"  # type: ignore[index]


# --- provider_data_from_headers / parse_provider_data ----------------------------------

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


# --- properties ---------------------------------------------------------------------------

latin1_text = st.text(st.characters(max_codepoint=0xFF), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | latin1_text | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)
data_keys = st.sampled_from(["a", "b", "maas_api_token", *SPECIAL_KEYS]) | st.text(max_size=6)
edgy_text = st.text(st.sampled_from("a é\t\x85\u2028\xa0"), max_size=8200)
header_names = st.sampled_from(["X-A", "x-a", "X-B", "Authorization", "authorization"])


def refusable(key: str, value: Any) -> bool:
    """Whether the documented rules allow refusing ``value`` under ``key``."""
    if key == "passthrough_url" or (key in SPECIAL_KEYS and not isinstance(value, str)):
        return True  # URL shape is covered by the tables above
    if isinstance(value, str):
        return not forwardable(value)
    if isinstance(value, float):
        return not math.isfinite(value)
    return not isinstance(value, int)  # bool is an int


def expected_headers(data: Mapping[str, Any], forward_headers: Mapping[str, str]) -> Dict[str, str]:
    """The oracle: the later present key per header (any case), rendered as JSON spells it."""
    winners: Dict[str, Tuple[str, Any]] = {}
    for key, name in forward_headers.items():
        if data.get(key) is not None:
            winners[name.lower()] = (name, data[key])
    return {n: v if isinstance(v, str) else json.dumps(v) for n, v in winners.values()}


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(data_keys, json_values, max_size=6),
    fwd=st.dictionaries(data_keys, header_names, max_size=5),
)
def test_resolution_round_trips_or_raises_provider_data_error(
    data: Dict[str, Any], fwd: Dict[str, str]
) -> None:
    """Any provider data gives exact, safe header values or a justified ProviderDataError."""
    try:
        forwarded = resolve_provider_data(data, fwd)
    except ProviderDataError as exc:
        assert exc.key is not None and refusable(exc.key, data[exc.key])
        return
    assert dict(forwarded.headers) == expected_headers(data, fwd)
    for name, value in forwarded.headers.items():
        assert forwardable(value)
        value.encode("latin-1")
        check_header_validity((name, value))
    assert forwarded.matched == any(data.get(key) is not None for key in fwd)


@settings(max_examples=500, deadline=None)
@given(text=latin1_text | st.text() | edgy_text)
def test_header_value_accepts_exactly_the_forwardable_strings(text: str) -> None:
    """A string is returned unchanged if it may be forwarded, and refused otherwise."""
    try:
        result: Optional[str] = header_value("k", text)
    except ProviderDataError as exc:
        assert exc.key == "k"
        result = None
    assert (result == text) == forwardable(text)


@given(value=st.floats() | st.integers() | st.booleans())
def test_numbers_round_trip_through_their_rendering(value: Any) -> None:
    """A rendered finite number parses back as JSON to the same value."""
    try:
        text = header_value("n", value)
    except ProviderDataError:
        assert isinstance(value, float) and not math.isfinite(value)
        return
    assert json.loads(text) == value


@given(raw=st.text() | st.binary())
def test_parsing_arbitrary_text_gives_an_object_or_provider_data_error(raw: Any) -> None:
    """parse_provider_data on any text or bytes returns a dict or raises ProviderDataError."""
    try:
        parsed = parse_provider_data(raw)
    except ProviderDataError as exc:
        assert exc.key is None
        return
    assert isinstance(parsed, dict)


def test_passthrough_url_with_credentials_is_refused() -> None:
    """A passthrough_url carrying user:password is refused, as base_url is, never quoted."""
    data = {"passthrough_url": f"https://user:{CANARY}@h.example.com"}
    with pytest.raises(ProviderDataError) as caught:
        resolve_provider_data(data, None)
    assert (caught.value.key, CANARY in str(caught.value)) == ("passthrough_url", False)
