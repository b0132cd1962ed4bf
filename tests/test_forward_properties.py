"""Property tests (hypothesis) for passthrough_client._forward against an independent oracle."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Mapping, Optional, Tuple

from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.utils import check_header_validity

from passthrough_client._forward import header_value, parse_provider_data, resolve_provider_data
from passthrough_client.exceptions import ProviderDataError

CONTROLS = frozenset([*map(chr, range(0x20)), "\x7f", "\x85", "\u2028", "\u2029"])

SPECIAL_KEYS = ("passthrough_url", "passthrough_api_key")


def forwardable(text: str) -> bool:
    """Independent statement of which strings may be forwarded as they are."""
    return (
        len(text.encode("utf-8")) <= 8192
        and all(ord(char) <= 0xFF and char not in CONTROLS for char in text)
        and not (text and (text[0].isspace() or text[-1].isspace()))
    )


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


@settings(max_examples=examples(300), deadline=None)
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


@settings(max_examples=examples(500), deadline=None)
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
