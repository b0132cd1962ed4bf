"""Tests of no_proxy matching and validation (``_no_proxy``, imported via ``_proxy``)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from passthrough_client._rules.proxy import NoProxy, no_proxy_entry_error

# --- NoProxy ------------------------------------------------------------------------

MATCHER_TABLE = [
    # whole labels, three spellings of a domain
    ("example.com", "example.com", 443, True),
    ("example.com", "api.example.com", 443, True),
    ("example.com", "a.b.example.com", 80, True),
    ("example.com", "notexample.com", 443, False),
    ("example.com", "example.com.evil.net", 443, False),
    (".example.com", "example.com", 443, True),
    (".example.com", "api.example.com", 443, True),
    (".example.com", "notexample.com", 443, False),
    ("*.example.com", "example.com", 443, True),
    ("*.example.com", "api.example.com", 443, True),
    ("*.example.com", "notexample.com", 443, False),
    ("api.example.com", "example.com", 443, False),
    # case and trailing dots
    ("EXAMPLE.COM", "api.example.com", 443, True),
    ("example.com", "API.Example.COM", 443, True),
    ("example.com", "example.com.", 443, True),
    ("example.com.", "api.example.com", 443, True),
    # everything
    ("*", "anything.at.all", 1, True),
    ("*", "10.1.2.3", 443, True),
    ("*", "::1", 443, True),
    # IPv4 literals and ranges
    ("127.0.0.1", "127.0.0.1", 80, True),
    ("127.0.0.1", "127.0.0.2", 80, False),
    ("localhost", "127.0.0.1", 80, False),
    ("127.0.0.1", "localhost", 80, False),
    ("localhost", "localhost", 80, True),
    ("10.0.0.0/8", "10.200.3.4", 443, True),
    ("10.0.0.0/8", "11.0.0.1", 443, False),
    ("10.0.0.0/8", "10.example.com", 443, False),
    ("10.1.2.3/8", "10.9.9.9", 443, True),
    ("0.0.0.1", "10.0.0.1", 443, False),
    ("1", "10.0.0.1", 443, False),
    # IPv6 literals and ranges
    ("::1", "::1", 443, True),
    ("::1", "[::1]", 443, True),
    ("[::1]", "::1", 443, True),
    ("0:0:0:0:0:0:0:1", "::1", 443, True),
    ("::1", "::2", 443, False),
    ("::1", "127.0.0.1", 443, False),
    ("fd00::/8", "fd12:3456::1", 443, True),
    ("fd00::/8", "fe80::1", 443, False),
    ("fd00::/8", "fd.example.com", 443, False),
    ("::/0", "10.0.0.1", 443, False),
    ("0.0.0.0/0", "::1", 443, False),
    ("2001:DB8::/32", "2001:db8:ffff::1", 80, True),
    # ports
    ("example.com:8443", "api.example.com", 8443, True),
    ("example.com:8443", "api.example.com", 443, False),
    ("10.1.2.3:8443", "10.1.2.3", 8443, True),
    ("10.1.2.3:8443", "10.1.2.3", 443, False),
    ("[::1]:8080", "::1", 8080, True),
    ("[::1]:8080", "::1", 80, False),
    ("[fd00::/8]:443", "fd00::5", 443, True),
    ("[fd00::/8]:443", "fd00::5", 80, False),
    # whitespace is trimmed
    ("  example.com\t", "example.com", 443, True),
]


@pytest.mark.parametrize(("entry", "host", "port", "expected"), MATCHER_TABLE)
def test_no_proxy_matches_per_rule(entry: str, host: str, port: int, expected: bool) -> None:
    """Each no_proxy rule matches exactly the hosts and ports it should."""
    assert expected == (NoProxy([entry]).match(host, port) is not None)


def test_no_proxy_returns_the_entry_as_written_and_trimmed() -> None:
    """match() names the entry that matched, with its case kept and whitespace trimmed."""
    assert NoProxy(["other.net", "  .Corp.Example "]).match("a.corp.example", 1) == ".Corp.Example"


def test_no_proxy_prefers_the_most_specific_domain() -> None:
    """A longer domain entry wins over its parent domain."""
    assert NoProxy([".corp", "api.corp"]).match("api.corp", 443) == "api.corp"


def test_no_proxy_port_entry_does_not_hide_a_portless_one() -> None:
    """A host:port entry for another port does not stop a later plain entry from matching."""
    assert NoProxy(["corp:8443", "corp"]).match("corp", 443) == "corp"


@pytest.mark.parametrize("entries", [[], [""], ["  ", ","]])
def test_no_proxy_without_usable_entries_matches_nothing(entries: list[str]) -> None:
    """Empty entries are dropped, so nothing matches, not even an empty host."""
    matcher = NoProxy(entries)
    assert (matcher.match("", 80), bool(matcher)) == (None, False)


def test_no_proxy_skips_and_reports_malformed_entries() -> None:
    """Malformed entries are listed in .ignored and the good ones still work."""
    matcher = NoProxy(["bad entry", "10.0.0.0/33", "good.example"])
    assert (matcher.ignored, matcher.entries) == (("bad entry", "10.0.0.0/33"), ("good.example",))
    assert matcher.match("good.example", 80) == "good.example"


def test_no_proxy_repr_lists_entries() -> None:
    """The repr shows the entries in use."""
    assert repr(NoProxy([" .corp", "10.0.0.0/8", ""])) == "NoProxy(['.corp', '10.0.0.0/8'])"


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOSTNAME = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
PORT = st.integers(min_value=1, max_value=65535)


@given(host=HOSTNAME, port=PORT)
def test_no_proxy_host_matches_itself_in_any_case(host: str, port: int) -> None:
    """A host entry matches that host, whatever the letter case of the request."""
    matcher = NoProxy([host])
    assert (host, host) == (matcher.match(host, port), matcher.match(host.upper(), port))


@given(host=HOSTNAME, port=PORT)
def test_no_proxy_host_never_matches_a_longer_label(host: str, port: int) -> None:
    """'x' + host is not a subdomain of host, so it never matches."""
    assert NoProxy([host]).match("x" + host, port) is None


@given(host=HOSTNAME, sub=LABEL, port=PORT)
def test_no_proxy_host_matches_its_subdomains(host: str, sub: str, port: int) -> None:
    """Any subdomain of a hostname entry matches it."""
    assume(not _is_ip(host) and not _is_ip(f"{sub}.{host}"))  # IP literals have no subdomains
    assert host == NoProxy([host]).match(f"{sub}.{host}", port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- no_proxy_entry_error ------------------------------------------------------------

GOOD_ENTRIES = [
    "example.com",
    ".example.com",
    "*.example.com",
    "example.com.",
    "EXAMPLE.com",
    "internal_host",
    "*",
    "localhost",
    "127.0.0.1",
    "10.0.0.0/8",
    "10.1.2.3/8",
    "::1",
    "[::1]",
    "fd00::/8",
    "[fd00::/8]:443",
    "example.com:8443",
    "10.1.2.3:1",
    "[::1]:65535",
    "  padded.example  ",
]

BAD_ENTRIES = [
    ("", "empty"),
    ("   ", "empty"),
    ("a b.example", "whitespace"),
    ("a.example,b.example", "','"),
    ("10.0.0.0/33", "CIDR"),
    ("example.com/24", "CIDR"),
    ("fd00::/129", "CIDR"),
    ("example.com:0", "port"),
    ("example.com:65536", "port"),
    ("example.com:http", "port"),
    ("example.com:", "port"),
    ("[::1]:", "port"),
    ("[::1", "unclosed"),
    ("[::1]x", "after ']'"),
    ("[10.0.0.1]", "brackets"),
    ("[example.com]", "brackets"),
    ("*:443", "'*'"),
    ("api.*.example", "'*'"),
    ("*example.com", "'*'"),
    ("a..example", "host name"),
    (".", "host name"),
    ("*.", "host name"),
    ("a/b", "CIDR"),
    ("exa!mple.com", "host name"),
    ("1:2:3", "IPv6"),
    ("*.10.0.0.1", "CIDR range"),
]


@pytest.mark.parametrize("entry", GOOD_ENTRIES)
def test_no_proxy_entry_error_accepts_valid_entries(entry: str) -> None:
    """Well-formed entries produce no message."""
    assert no_proxy_entry_error(entry) is None


@pytest.mark.parametrize(("entry", "fragment"), BAD_ENTRIES)
def test_no_proxy_entry_error_explains_malformed_entries(entry: str, fragment: str) -> None:
    """Malformed entries produce a message that says what is wrong."""
    message = no_proxy_entry_error(entry)
    assert message is not None and fragment in message
