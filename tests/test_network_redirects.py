"""Redirects (DESIGN §3): only 307/308, only within the origin, at most 5; anything else is
an ``APIStatusError`` with the 3xx status, and nothing is sent to another origin."""

from __future__ import annotations

from typing import Any, Iterator, List

import pytest

from passthrough_client import APIStatusError, PassthroughClient
from passthrough_client._net.transport import origin_of
from passthrough_client.testing import FakeUpstream, Reply

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture(name="other")
def fixture_other() -> Iterator[FakeUpstream]:
    """A second origin that must never receive anything."""
    with FakeUpstream() as other:
        yield other


def client(upstream: FakeUpstream, max_retries: int = 0) -> PassthroughClient:
    config = {"base_url": upstream.url, "api_key": "sk-redirect-test"}
    return PassthroughClient(config, environ={}, max_retries=max_retries)


def chat(upstream: FakeUpstream, **kwargs: Any) -> Any:
    return client(upstream, **kwargs).chat(model="fake-model", messages=MESSAGES)


def sent(upstream: FakeUpstream) -> List[Any]:
    return [(r.method, r.path, r.json) for r in upstream.requests]


# --- followed -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("absolute", [False, True])
def test_same_origin_redirect_keeps_method_and_body(
    upstream: FakeUpstream, status: int, absolute: bool
) -> None:
    """307/308 within the origin: followed, POST and the same JSON body sent again."""
    target = f"{upstream.url if absolute else ''}{CHAT}?moved=1"
    upstream.enqueue(Reply.redirect(status, target), path=CHAT)
    completion = chat(upstream)
    first, second = sent(upstream)
    assert second == ("POST", f"{CHAT}?moved=1", first[2])
    assert first[0] == "POST" and first[2]["messages"] == MESSAGES
    assert completion.choices[0].message.content == "hello there"


def test_same_origin_redirect_keeps_the_credentials(upstream: FakeUpstream) -> None:
    """Within the origin the Authorization header goes along."""
    upstream.enqueue(Reply.redirect(307, f"{CHAT}?moved=1"), path=CHAT)
    chat(upstream)
    auth = [r.headers.get("Authorization") for r in upstream.requests]
    assert auth == ["Bearer sk-redirect-test"] * 2


def test_streamed_call_follows_a_same_origin_redirect(upstream: FakeUpstream) -> None:
    """A streamed chat is redirected the same way, then streams from the new location."""
    upstream.enqueue(Reply.redirect(308, f"{CHAT}?moved=1"), path=CHAT)
    stream = client(upstream).chat(model="fake-model", messages=MESSAGES, stream=True)
    assert stream.collect().choices[0].message.content == "hello there"
    assert [r.path for r in upstream.requests] == [CHAT, f"{CHAT}?moved=1"]


def test_five_redirects_are_followed(upstream: FakeUpstream) -> None:
    """Five same-origin redirects in a row: the sixth request gets the answer."""
    upstream.enqueue(Reply.redirect(307, CHAT), path=CHAT, times=5)
    chat(upstream)
    assert len(upstream.requests) == 6


# --- not followed ---------------------------------------------------------------------


def test_sixth_redirect_raises_with_its_status(upstream: FakeUpstream) -> None:
    """A sixth redirect is not followed: APIStatusError 307, six requests in all."""
    upstream.enqueue(Reply.redirect(307, CHAT), path=CHAT, times=6)
    with pytest.raises(APIStatusError, match="more than 5 redirects") as caught:
        chat(upstream)
    assert caught.value.status_code == 307
    assert len(upstream.requests) == 6


@pytest.mark.parametrize("status", [301, 302, 303])
def test_other_redirects_raise_with_their_status(upstream: FakeUpstream, status: int) -> None:
    """301/302/303 are never followed (an API call never becomes a GET)."""
    upstream.enqueue(Reply.redirect(status, f"{CHAT}?moved=1"), path=CHAT)
    with pytest.raises(APIStatusError) as caught:
        chat(upstream)
    assert caught.value.status_code == status
    assert [r.path for r in upstream.requests] == [CHAT]


@pytest.mark.parametrize("status", [307, 308])
def test_cross_origin_redirect_sends_nothing_to_the_other_origin(
    upstream: FakeUpstream, other: FakeUpstream, status: int
) -> None:
    """A redirect to another port: APIStatusError with the 3xx, the other origin idle."""
    upstream.enqueue(Reply.redirect(status, f"{other.url}{CHAT}"), path=CHAT)
    with pytest.raises(APIStatusError, match="another origin") as caught:
        chat(upstream)
    assert caught.value.status_code == status
    assert (len(upstream.requests), other.requests) == (1, [])


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:{port}/v1/chat/completions",
        "https://127.0.0.1:{port}/v1/chat/completions",
        "//localhost:{port}/v1/chat/completions",
    ],
)
def test_other_host_or_scheme_is_another_origin(upstream: FakeUpstream, location: str) -> None:
    """Another host name (even for the same address) or scheme is another origin."""
    upstream.enqueue(Reply.redirect(307, location.format(port=upstream.port)), path=CHAT)
    with pytest.raises(APIStatusError) as caught:
        chat(upstream)
    assert caught.value.status_code == 307
    assert len(upstream.requests) == 1


def test_redirect_error_masks_credentials_in_the_location(upstream: FakeUpstream) -> None:
    """A Location carrying a password is shown masked in the error."""
    upstream.enqueue(Reply.redirect(307, "http://eve:topsecret@127.0.0.2/x"), path=CHAT)
    with pytest.raises(APIStatusError) as caught:
        chat(upstream)
    assert "topsecret" not in str(caught.value)
    assert "eve:**********@127.0.0.2" in str(caught.value)


def test_redirect_without_location_raises(upstream: FakeUpstream) -> None:
    """A 307 without a Location header is an APIStatusError, not a loop or a crash."""
    upstream.enqueue(Reply.json(307, {}), path=CHAT)
    with pytest.raises(APIStatusError, match="without a Location") as caught:
        chat(upstream)
    assert caught.value.status_code == 307


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:99999/x", "http://[::1/x", "http://h:port/"]
)
def test_redirect_to_an_invalid_url_raises(upstream: FakeUpstream, location: str) -> None:
    """A Location that is not a valid URL is an APIStatusError, never a bare ValueError."""
    upstream.enqueue(Reply.redirect(308, location), path=CHAT)
    with pytest.raises(APIStatusError, match="invalid URL") as caught:
        chat(upstream)
    assert caught.value.status_code == 308


def test_unfollowed_redirect_is_not_retried(upstream: FakeUpstream) -> None:
    """A redirect error is final: max_retries=2 still sends one request."""
    upstream.enqueue(Reply.redirect(302, "/elsewhere"), path=CHAT, times=3)
    with pytest.raises(APIStatusError):
        chat(upstream, max_retries=2)
    assert len(upstream.requests) == 1


# --- what "same origin" means -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("http://h/a", "http://h:80/b", True),
        ("https://h/a", "https://h:443/b?q", True),
        ("HTTPS://API.Example.com", "https://api.example.com:443", True),
        ("http://[::1]:8080/a", "http://[::1]:8080/b", True),
        ("http://h/a", "https://h/a", False),
        ("http://h:8080/a", "http://h/a", False),
        ("https://h:80/a", "http://h:80/a", False),
        ("http://h/a", "http://h.evil/a", False),
    ],
)
def test_origin_comparison_normalises_default_ports_and_case(
    first: str, second: str, same: bool
) -> None:
    """Scheme, host and port decide; default ports and letter case do not."""
    assert same == (origin_of(first) == origin_of(second))
