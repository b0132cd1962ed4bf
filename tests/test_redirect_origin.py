"""Redirect origins over real sockets (DESIGN §3): a ``Location`` is judged by the parser
that opens the connection; tricks that parsers read differently never reach another host.

The origin is a ``FakeUpstream`` answering the first request with a raw 307 (so the
``Location`` bytes are exactly as written); the "attacker" is a :class:`ByteSink` that
must receive nothing at all: no connection, no byte, no key, no forwarded header.
"""

from __future__ import annotations

import contextlib
import string
from typing import Any, Iterator

import pytest
from faultutil import bounded
from fuzzing import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from netutil import ByteSink

from passthrough_client import APIStatusError, PassthroughClient
from passthrough_client.testing import FakeUpstream, Reply

CHAT = "/v1/chat/completions"
KEY = "sk-redirect-key-0123456789"
TENANT = "tenant-token-abcdef"
MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture(name="attacker")
def fixture_attacker() -> Iterator[ByteSink]:
    """A listening host that must never be contacted."""
    with ByteSink() as sink:
        yield sink


def raw_redirect(location: bytes, status: int = 307) -> Reply:
    """A redirect whose ``Location`` is written byte for byte."""
    head = b"HTTP/1.1 %d Redirect\r\nLocation: %s\r\n" % (status, location)
    return Reply.raw(head + b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def client_for(upstream: FakeUpstream, host: str = "127.0.0.1") -> PassthroughClient:
    config = {
        "base_url": f"http://{host}:{upstream.port}",
        "api_key": KEY,
        "forward_headers": {"tenant": "X-Tenant-Token"},
        "network": {"timeout": {"connect": 2, "read": 2}},
    }
    return PassthroughClient(config, environ={}, max_retries=0)


def chat(client: PassthroughClient) -> Any:
    call = lambda: client.chat(  # noqa: E731 - one expression, run under the watchdog
        model="m1", messages=MESSAGES, provider_data={"tenant": TENANT}
    )
    return bounded(call)


def fill(location: str, upstream: FakeUpstream, attacker: ByteSink) -> bytes:
    text = location.replace("{O}", str(upstream.port)).replace("{A}", str(attacker.port))
    return text.encode("utf-8")


# --- refused: parsers disagree, or another origin ----------------------------------

REFUSED = [
    ("backslash-userinfo (the report)", "http://localhost:{A}\\@127.0.0.1:{O}" + CHAT),
    ("backslash-userinfo, same host", "http://127.0.0.1:{A}\\@127.0.0.1:{O}" + CHAT),
    ("scheme-relative", "//127.0.0.1:{A}" + CHAT),
    ("slash-backslash", "/\\127.0.0.1:{A}" + CHAT),
    ("two backslashes", "\\\\127.0.0.1:{A}" + CHAT),
    ("scheme and backslashes", "http:\\\\127.0.0.1:{A}" + CHAT),
    ("scheme only", "http:127.0.0.1:{A}" + CHAT),
    ("scheme and one slash", "http:/127.0.0.1:{A}" + CHAT),
    ("userinfo to the origin", "http://user@127.0.0.1:{O}" + CHAT),
    ("userinfo with password", "http://u:p@127.0.0.1:{O}" + CHAT),
    ("origin as userinfo", "http://127.0.0.1:{O}@127.0.0.1:{A}" + CHAT),
    ("fragment before @", "http://127.0.0.1:{A}#@127.0.0.1:{O}" + CHAT),
    ("query before @", "http://127.0.0.1:{A}?@127.0.0.1:{O}" + CHAT),
    ("tab in the scheme", "ht\ttp://127.0.0.1:{A}" + CHAT),
    ("tab in the host", "http://127.0.0.1:{A}\t.x" + CHAT),
    ("space before the path", "http://127.0.0.1:{A} " + CHAT),
    ("vertical tab", "http://127.0.0.1:{O}\x0b@127.0.0.1:{A}" + CHAT),
    ("another port", "http://127.0.0.1:{A}" + CHAT),
    ("localhost is another host", "http://localhost:{O}" + CHAT),
    ("IPv6 loopback is another host", "http://[::1]:{O}" + CHAT),
    ("another scheme", "https://127.0.0.1:{O}" + CHAT),
    ("percent-encoded other host", "http://%6c%6f%63%61%6c%68%6f%73%74:{A}" + CHAT),
    ("IDNA full-width host", "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{A}/"),
    ("integer IPv4", "http://2130706433:{A}" + CHAT),
]


@pytest.mark.parametrize("location", [pytest.param(loc, id=name) for name, loc in REFUSED])
def test_redirect_trick_reaches_no_other_host(
    upstream: FakeUpstream, attacker: ByteSink, location: str
) -> None:
    """Each trick ends as APIStatusError 307; the attacker gets no connection and no byte."""
    upstream.enqueue(raw_redirect(fill(location, upstream, attacker)), path=CHAT)
    with pytest.raises(APIStatusError) as caught:
        chat(client_for(upstream))
    assert (caught.value.status_code, attacker.accepted, bytes(attacker.received)) == (307, 0, b"")
    assert len(upstream.requests) == 1
    assert KEY not in str(caught.value) and TENANT not in str(caught.value)


def test_reported_backslash_redirect_names_the_reason(
    upstream: FakeUpstream, attacker: ByteSink
) -> None:
    """The reported case says why it was not followed (another origin, backslash)."""
    location = "http://localhost:{A}\\@127.0.0.1:{O}" + CHAT
    upstream.enqueue(raw_redirect(fill(location, upstream, attacker)), path=CHAT)
    with pytest.raises(APIStatusError, match=r"another origin.*backslash"):
        chat(client_for(upstream))


@pytest.mark.parametrize("status", [301, 302, 303])
def test_other_statuses_reach_no_other_host(
    upstream: FakeUpstream, attacker: ByteSink, status: int
) -> None:
    """301/302/303 to another host: APIStatusError with that status, nothing sent there."""
    location = fill("http://127.0.0.1:{A}" + CHAT, upstream, attacker)
    upstream.enqueue(raw_redirect(location, status), path=CHAT)
    with pytest.raises(APIStatusError) as caught:
        chat(client_for(upstream))
    assert (caught.value.status_code, attacker.accepted) == (status, 0)


# --- followed: the same origin, however it is spelled --------------------------------

FOLLOWED = [
    ("relative path", "/v1/chat/completions?moved=1"),
    ("relative without slash", "completions?moved=1"),
    ("explicit origin", "http://127.0.0.1:{O}" + CHAT),
    ("uppercase scheme", "HTTP://127.0.0.1:{O}" + CHAT),
    ("scheme-relative origin", "//127.0.0.1:{O}" + CHAT),
    ("percent-encoded origin host", "http://%31%32%37.0.0.1:{O}" + CHAT),
    ("@ in the path", "/v1/chat/completions?by=@me"),
]


@pytest.mark.parametrize("location", [pytest.param(loc, id=name) for name, loc in FOLLOWED])
def test_same_origin_spellings_are_followed(
    upstream: FakeUpstream, attacker: ByteSink, location: str
) -> None:
    """The same origin however written: followed, the second request reaches the origin."""
    upstream.enqueue(raw_redirect(fill(location, upstream, attacker)), path=CHAT)
    client = client_for(upstream)
    try:
        chat(client)
    except APIStatusError as exc:  # a path the fake does not serve: still the origin
        assert exc.status_code == 404
    hosts = [r.headers.get("Host") for r in upstream.requests]
    assert hosts == [f"127.0.0.1:{upstream.port}"] * 2
    assert attacker.accepted == 0


def test_uppercase_host_is_the_same_origin(upstream: FakeUpstream) -> None:
    """``LocalHost`` is ``localhost``: followed, with the credentials."""
    location = f"HTTP://LocalHost:{upstream.port}{CHAT}?moved=1".encode()
    upstream.enqueue(raw_redirect(location), path=CHAT)
    chat(client_for(upstream, host="localhost"))
    auth = [r.headers.get("Authorization") for r in upstream.requests]
    assert auth == [f"Bearer {KEY}"] * 2


# --- generated Locations ----------------------------------------------------------------
# Host-like pieces are loopback names and addresses or punctuation only: even a
# regression that follows a generated Location must not look up or reach another host.

_AUTHORITY = st.sampled_from(
    [
        "127.0.0.1", "localhost", "LocalHost", "[::1]", ":{O}", ":{A}", "@", "\\", "\t",
        " ", "#", "?", "%40", "%5c", "%2e", "u:p", ":", ".", "0x7f.0.0.1", "\x0b", "%00",
    ]
)  # fmt: skip
_FREE_FORM = st.tuples(
    st.sampled_from(["", "http:", "HTTP:", "https:", "hTTp:"]),
    st.sampled_from(["", "//", "/", "\\\\", "/\\", "\\", "///"]),
    st.lists(st.one_of(_AUTHORITY, st.text(string.punctuation, max_size=2)), max_size=7).map(
        "".join
    ),
    st.sampled_from([CHAT, "", "/", "/x", "?q=1"]),
).map("".join)
# userinfo-shaped, [scheme][//]<first><between><second><path>: the shape of most tricks,
# weighted (repeated choices) towards the attacker first and the origin second
_FIRST = ["127.0.0.1:{A}", "localhost:{A}", "127.0.0.1:{O}", "localhost"]
_SECOND = ["127.0.0.1:{O}", "127.0.0.1:{O}", "localhost:{A}", "[::1]:{O}"]
_BETWEEN = ["\\@", "\\@", "@", "\t@", "#@", "?@", "/@", "%40", " @", "\\"]
_USERINFO_SHAPED = st.tuples(
    st.sampled_from(["http:", "HTTP:", "http:", ""]),
    st.sampled_from(["//", "//", "/\\", ""]),
    st.sampled_from(_FIRST),
    st.sampled_from(_BETWEEN),
    st.sampled_from(_SECOND),
    st.sampled_from([CHAT, "/", ""]),
).map("".join)
_LOCATIONS = st.one_of(_USERINFO_SHAPED, _FREE_FORM)


def test_generated_locations_never_reach_another_host() -> None:
    """Property: a 307 to any generated Location either stays at the origin (every
    request it received names it as Host) or ends as APIStatusError; the attacker
    never receives a byte."""
    with FakeUpstream() as upstream, ByteSink() as attacker:
        client = client_for(upstream)
        origin_host = f"127.0.0.1:{upstream.port}"

        @settings(
            max_examples=examples(200),
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @example(text="http://localhost:{A}\\@127.0.0.1:{O}" + CHAT)
        @given(text=_LOCATIONS)
        def check(text: str) -> None:
            location = fill(text, upstream, attacker)
            location = location.replace(b"\r", b"").replace(b"\n", b"")
            upstream.clear()
            upstream.enqueue(raw_redirect(location), path=CHAT)
            with contextlib.suppress(APIStatusError):
                chat(client)
            assert {r.headers.get("Host") for r in upstream.requests} <= {origin_host}
            assert (attacker.accepted, bytes(attacker.received)) == (0, b"")

        check()
