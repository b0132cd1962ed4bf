"""Tests for passthrough_client._forward: provider data -> headers (resolve_provider_data)."""

from __future__ import annotations

import math
import socket
import threading
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests
from forwardutil import CANARY, TOKEN, assert_hides, summary, table

from passthrough_client._forward import header_value, resolve_provider_data
from passthrough_client.exceptions import ProviderDataError


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
