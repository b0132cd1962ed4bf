"""The pure retry rules of ``_retry``: which statuses, how long to wait."""

from __future__ import annotations

import email.utils
from typing import Any, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from passthrough_client._rules.retry import (
    MAX_WAIT,
    backoff,
    retry_after,
    should_retry_connect_status,
    should_retry_status,
)

NOW = 1_700_000_000.0


def _headers(**pairs: str) -> CaseInsensitiveDict[str]:
    """Response headers as requests hands them over (names with ``_`` -> ``-``)."""
    return CaseInsensitiveDict({k.replace("_", "-"): v for k, v in pairs.items()})


def _date(offset: float) -> str:
    return email.utils.formatdate(NOW + offset, usegmt=True)


# -- should_retry_status ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, True),
        (429, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (422, False),
        (500, False),
        (501, False),
        (505, False),
        (307, False),
    ],
)
def test_status_rule(status: int, expected: bool) -> None:
    """Only 408, 429, 502, 503 and 504 are retried by status."""
    assert should_retry_status(status, _headers()) is expected


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        (500, "true", True),
        (400, "TRUE", True),
        (503, "false", False),
        (429, " False ", False),
        (503, "maybe", True),
        (500, "", False),
    ],
)
def test_x_should_retry_overrides_status(status: int, value: str, expected: bool) -> None:
    """``x-should-retry: true|false`` (any case) wins; other values leave the status rule."""
    headers = _headers(**{"X-Should-Retry": value})
    assert should_retry_status(status, headers) is expected


# -- retry_after -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ({}, None),
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": " 3 "}, 3.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "120"}, 120.0),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "1e400"}, None),
        ({"Retry-After": "Wed, 21 Oct 99999999999999999999 07:28:00 GMT"}, None),
        ({"Retry-After": ""}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "0"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "30"}, 0.25),
        ({"retry-after-ms": "x", "Retry-After": "30"}, 30.0),
        ({"retry-after-ms": "-5", "Retry-After": "2"}, 2.0),
    ],
)
def test_retry_after_in_seconds(pairs: dict[str, str], expected: Optional[float]) -> None:
    """Seconds from ``Retry-After`` or ``retry-after-ms`` (which wins when valid)."""
    assert retry_after(CaseInsensitiveDict(pairs), now=NOW) == expected


@pytest.mark.parametrize(("offset", "expected"), [(30, 30.0), (90, 90.0), (-3600, 0.0)])
def test_retry_after_http_date(offset: float, expected: float) -> None:
    """An HTTP date is the time until then (a past date: no wait)."""
    got = retry_after(_headers(Retry_After=_date(offset)), now=NOW)
    assert got == pytest.approx(expected, abs=1.0)


def test_retry_after_ms_wins_over_a_date() -> None:
    """``retry-after-ms`` is preferred over an HTTP-date ``Retry-After``."""
    headers = _headers(Retry_After=_date(30), retry_after_ms="10")
    assert retry_after(headers, now=NOW) == 0.01


def test_max_wait_is_60_seconds() -> None:
    """Waits over 60 s are not waited for."""
    assert MAX_WAIT == 60.0


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_retry_after_seconds_round_trip(seconds: float) -> None:
    """Any non-negative number of seconds is read back as that number."""
    assert retry_after(_headers(Retry_After=repr(seconds)), now=NOW) == seconds


@given(st.text())
def test_retry_after_never_raises(text: Any) -> None:
    """Whatever a server sends, the answer is ``None`` or a wait >= 0."""
    headers = CaseInsensitiveDict({"Retry-After": text, "retry-after-ms": text})
    result = retry_after(headers, now=NOW)
    assert result is None or result >= 0


@given(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from(["GMT", "+2359", "-2359", "UT", ""]),
)
def test_retry_after_survives_any_date_numbers(year: int, hour: int, zone: str) -> None:
    """Dates with absurd numbers never raise (a server's typo is no crash)."""
    headers = _headers(Retry_After=f"Wed, 21 Oct {year} {hour}:00:00 {zone}")
    result = retry_after(headers, now=NOW)
    assert result is None or result >= 0


# -- backoff ---------------------------------------------------------------------------


@pytest.mark.parametrize(("attempt", "base"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)])
def test_backoff_doubles_from_half_a_second(attempt: int, base: float) -> None:
    """The n-th retry waits ``0.5 * 2**n`` s, less up to a quarter of jitter."""
    assert 0.75 * base <= backoff(attempt) <= base


@given(st.integers(min_value=0, max_value=10**6))
def test_backoff_is_bounded_by_8_seconds(attempt: int) -> None:
    """However many retries, the wait stays within 6 to 8 seconds after the cap."""
    wait = backoff(attempt)
    assert 0 < wait <= 8.0


@pytest.mark.parametrize(
    ("status", "retried"), [(407, False), (403, False), (400, False), (502, True), (503, True)]
)
def test_only_a_5xx_answer_to_connect_is_retried(status: int, retried: bool) -> None:
    """A proxy's 407/403 to CONNECT is final (lockouts); a 5xx is worth another try."""
    assert retried == should_retry_connect_status(status)
