"""The redirect rules of ``_redirect`` (pure, DESIGN §3): which Location may be followed."""

from __future__ import annotations

from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.util import parse_url

from passthrough_client._rules.redirect import (
    location_problem,
    origin_of,
    prepared_url,
    redirect_target,
)

BASE = "http://127.0.0.1:8000/v1/chat/completions"


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("http://localhost:1\\@127.0.0.1:8000/v1", "backslash"),
        ("/\\evil/v1", "backslash"),
        ("\\\\evil/v1", "backslash"),
        ("ht\ttp://evil/", "whitespace"),
        ("http://evil\n.x/", "whitespace"),
        ("http://127.0.0.1:8000 /v1", "whitespace"),
        ("http://127.0.0.1:8000/\x00", "whitespace"),
        ("http://127.0.0.1:8000/\x85", "whitespace"),
        ("http://127.0.0.1:8000/\u2028", "whitespace"),
        ("http:evil/v1", "without '//'"),
        ("HTTP:/evil/v1", "without '//'"),
        ("javascript:alert(1)", "without '//'"),
        ("http://user@127.0.0.1:8000/v1", "userinfo"),
        ("//u:p@127.0.0.1:8000/v1", "userinfo"),
        ("/v1/chat/completions", None),
        ("/v1/users/@me?x=@y", None),
        ("http://127.0.0.1:8000/v1?next=http://a@b/", None),
        ("completions", None),
        ("//127.0.0.1:8000/v1", None),
    ],
)
def test_location_problem(location: str, problem: Optional[str]) -> None:
    """Ambiguous Locations are named before any parsing; ordinary ones pass."""
    found = location_problem(location)
    assert (found is None) == (problem is None)
    if problem is not None:
        assert problem in str(found)


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("/v1/x?moved=1", "http://127.0.0.1:8000/v1/x?moved=1"),
        ("HTTP://127.0.0.1:8000/v1/x", "http://127.0.0.1:8000/v1/x"),
        ("http://%31%32%37.0.0.1:8000/v1/x", "http://127.0.0.1:8000/v1/x"),
        ("//127.0.0.1:8000/v1/x", "http://127.0.0.1:8000/v1/x"),
        ("x?q=%41", "http://127.0.0.1:8000/v1/chat/x?q=A"),
    ],
)
def test_same_origin_targets_are_prepared(location: str, target: str) -> None:
    """A followed target is the URL exactly as it will be sent (prepared by requests)."""
    assert redirect_target(BASE, location) == (target, None)


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:8000/v1",
        "http://[::1]:8000/v1",
        "https://127.0.0.1:8000/v1",
        "http://127.0.0.1:8001/v1",
        "http://127.0.0.1/v1",
        "http://127.1:8000/v1",
        "http://127.0.0.1.:8000/v1",
        "http://%6c%6f%63%61%6c%68%6f%73%74:8000/",
        "http://xn--lcalhost-z2a:8000/",
        "http://l\u00f6calhost:8000/",
        "ftp://127.0.0.1:8000/",
    ],
)
def test_other_origins_are_refused(location: str) -> None:
    """Another host name, address family, scheme or port, however encoded: refused."""
    assert redirect_target(BASE, location)[1] == "it leads to another origin"


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/x", "http://[::1/x"])
def test_invalid_targets_raise_value_error(location: str) -> None:
    """A Location that cannot be sent raises ValueError (the caller reports it)."""
    with pytest.raises(ValueError):
        redirect_target(BASE, location)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://h/a", "http://h:80/b"),
        ("https://h/a", "https://h:443/b"),
        ("HTTP://H.Example/", "http://h.example:80/"),
        ("http://h:/a", "http://h/a"),
        ("http://[::1]:8080/", "http://[::1]:8080/x"),
    ],
)
def test_origin_of_normalises_default_ports_and_case(first: str, second: str) -> None:
    """Default ports, an empty port and letter case do not change the origin."""
    assert origin_of(first) == origin_of(second)


@given(st.text(max_size=40))
def test_a_followed_target_keeps_the_origin_as_sent(location: str) -> None:
    """Property: whatever the Location, a target without a problem has the base's origin
    as urllib3 parses the prepared URL, no userinfo, and prepares to itself."""
    try:
        target, problem = redirect_target(BASE, location)
    except ValueError:
        return
    if problem is None:
        assert origin_of(target) == ("http", "127.0.0.1", 8000)
        assert parse_url(target).auth is None
        assert prepared_url(target) == target
