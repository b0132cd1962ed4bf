"""Secrets echoed back by a service are masked in every shown text (DESIGN §6), over real
sockets; ``.body`` keeps what was received. HTML error pages show their title."""

from __future__ import annotations

import html
import json
import logging
from typing import Any, Callable

import pytest
from faultutil import bounded
from hypothesis import given
from hypothesis import strategies as st

from passthrough_client import (
    APIStatusError,
    AuthenticationError,
    InternalServerError,
    InvalidResponseError,
    PassthroughClient,
    StreamError,
)
from passthrough_client._responses import html_message
from passthrough_client._rules.mask import MASK
from passthrough_client.testing import FakeUpstream, Reply

KEY = "sk-live-0123456789abcdef"
TENANT = "tenant-token-4242-secret"
MESSAGES = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"


def make_client(upstream: FakeUpstream, **config: Any) -> PassthroughClient:
    settings = {
        "base_url": upstream.url,
        "forward_headers": {"tenant": "X-Tenant-Token", "region": "X-Region"},
        **config,
    }
    return PassthroughClient(settings, environ={}, max_retries=0)


def failure(call: Callable[[], Any], kind: type[Exception] = Exception) -> Any:
    """The exception ``call`` raises (under the watchdog)."""
    with pytest.raises(kind) as caught:
        bounded(call)
    return caught.value


def assert_masked(error: Any, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    """The secret is in no shown text of the error, nor in any log record."""
    shown = [str(error), repr(error), str(getattr(error, "message", ""))]
    assert [secret in s for s in shown] == [False, False, False]
    assert MASK in str(error)
    assert secret not in caplog.text


def test_401_quoting_the_key_is_masked(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """``Incorrect API key provided: sk-...``: masked in the message, kept in .body."""
    caplog.set_level(logging.DEBUG, logger="passthrough_client")
    body = {"error": {"message": f"Incorrect API key provided: {KEY}.", "code": "invalid"}}
    upstream.enqueue(Reply.json(401, body), path=CHAT)
    client = make_client(upstream, api_key=KEY)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), AuthenticationError)
    assert_masked(error, KEY, caplog)
    assert error.message == f"Incorrect API key provided: {MASK}."
    assert error.body == body


def test_passthrough_api_key_is_masked_too(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """The key from provider data is the key in use for that call: masked as well."""
    upstream.enqueue(Reply.json(401, {"error": {"message": f"bad key {KEY}"}}), path=CHAT)
    client = make_client(upstream)
    data = {"passthrough_api_key": KEY}
    call = lambda: client.chat(model="m", messages=MESSAGES, provider_data=data)  # noqa: E731
    assert_masked(failure(call, AuthenticationError), KEY, caplog)


def test_500_text_quoting_a_forwarded_value_is_masked(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """A plain-text 500 quoting the forwarded tenant token; short values stay readable."""
    caplog.set_level(logging.DEBUG, logger="passthrough_client")
    text = f"upstream rejected tenant {TENANT} in region eu-1"
    upstream.enqueue(Reply.text(500, text), path=CHAT)
    client = make_client(upstream)
    data = {"tenant": TENANT, "region": "eu-1"}
    call = lambda: client.chat(model="m", messages=MESSAGES, provider_data=data)  # noqa: E731
    error = failure(call, InternalServerError)
    assert_masked(error, TENANT, caplog)
    assert error.message == f"upstream rejected tenant {MASK} in region eu-1"
    assert error.body == text


def test_long_text_cut_at_a_secret_shows_no_start_of_it(upstream: FakeUpstream) -> None:
    """The 1000-character cut falls inside the key: not even its first characters show."""
    text = "x" * 990 + KEY + "y" * 100
    upstream.enqueue(Reply.text(500, text), path=CHAT)
    client = make_client(upstream, api_key=KEY)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), InternalServerError)
    assert KEY[:4] not in error.message and error.message.startswith("x" * 990 + MASK)


def test_non_json_200_snippet_is_masked(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """The snippet of a 200 body that is not JSON shows the key masked."""
    upstream.enqueue(Reply.text(200, f"welcome, {KEY}!"), path=CHAT)
    client = make_client(upstream, api_key=KEY)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), InvalidResponseError)
    assert_masked(error, KEY, caplog)


def test_wrong_shape_snippet_is_masked(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """A JSON reply of the wrong shape quoting the key: the shape error is masked."""
    upstream.enqueue(Reply.json(200, {"choices": f"no choices for {KEY}"}), path=CHAT)
    client = make_client(upstream, api_key=KEY)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), InvalidResponseError)
    assert_masked(error, KEY, caplog)


def test_stream_error_event_quoting_a_forwarded_value_is_masked(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """An error event in a stream quoting the forwarded token: StreamError masked, .body
    raw."""
    payload = {"error": {"message": f"quota exceeded for {TENANT}"}}
    chunk = {"choices": [{"index": 0, "delta": {"content": "a"}}]}
    events = [f"data: {json.dumps(chunk)}\n\n", f"data: {json.dumps(payload)}\n\n"]
    upstream.enqueue(Reply.sse(events), path=CHAT)
    client = make_client(upstream)
    data = {"tenant": TENANT}

    def consume() -> Any:
        return list(client.chat(model="m", messages=MESSAGES, stream=True, provider_data=data))

    error = failure(consume, StreamError)
    assert_masked(error, TENANT, caplog)
    assert error.body == payload


def test_stream_event_that_is_not_json_is_masked(upstream: FakeUpstream) -> None:
    """The snippet of a stream event that is not JSON, quoting the key: masked."""
    upstream.enqueue(Reply.sse([f"data: oops {KEY}\n\n"]), path=CHAT)
    client = make_client(upstream, api_key=KEY)

    def consume() -> Any:
        return list(client.chat(model="m", messages=MESSAGES, stream=True))

    error = failure(consume, InvalidResponseError)
    assert (KEY in str(error), MASK in str(error)) == (False, True)


def test_error_status_of_a_stream_is_masked(upstream: FakeUpstream) -> None:
    """A 429 answering a streamed call with an event quoting the key: masked."""
    event = f"data: {json.dumps({'error': {'message': f'slow down {KEY}'}})}\n\n"
    upstream.enqueue(Reply.sse([event], status=429), path=CHAT)
    client = make_client(upstream, api_key=KEY)
    call = lambda: client.chat(model="m", messages=MESSAGES, stream=True)  # noqa: E731
    error = failure(call, APIStatusError)
    assert (error.status_code, KEY in str(error), error.message) == (
        429,
        False,
        f"slow down {MASK}",
    )


def test_redirect_location_quoting_a_forwarded_value_is_masked(upstream: FakeUpstream) -> None:
    """A refused redirect whose Location carries the tenant token shows it masked."""
    upstream.enqueue(Reply.redirect(307, f"http://localhost:1/?t={TENANT}"), path=CHAT)
    client = make_client(upstream)
    data = {"tenant": TENANT}
    call = lambda: client.chat(model="m", messages=MESSAGES, provider_data=data)  # noqa: E731
    error = failure(call, APIStatusError)
    assert (TENANT in str(error), MASK in str(error)) == (False, True)


# --- HTML error pages -------------------------------------------------------------------

NGINX_502 = (
    """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.25.3</center>
</body>
</html>
"""
    + "<!-- a padding to disable MSIE and Chrome friendly error page -->\n" * 6
)

SUFFIX = " (HTML page, likely from a proxy or gateway)"


def test_nginx_502_page_becomes_its_title(upstream: FakeUpstream) -> None:
    """nginx's 502 page: ``.message`` is its title plus the suffix, ``.body`` the page."""
    upstream.enqueue(Reply.text(502, NGINX_502, content_type="text/html"), path=CHAT)
    client = make_client(upstream)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), InternalServerError)
    assert (error.message, error.body) == ("502 Bad Gateway" + SUFFIX, NGINX_502)
    assert str(error) == "HTTP 502: 502 Bad Gateway" + SUFFIX


def test_html_page_without_html_content_type_is_recognised(upstream: FakeUpstream) -> None:
    """A body starting with ``<!DOCTYPE html`` (any case, after whitespace) is a page
    whatever its Content-Type; entities are unescaped and whitespace collapsed."""
    page = "\n  <!doctype HTML><html><title>\n Access  &amp; Denied\t</title></html>"
    upstream.enqueue(Reply.text(403, page, content_type="text/plain"), path=CHAT)
    client = make_client(upstream)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), APIStatusError)
    assert error.message == "Access & Denied" + SUFFIX


def test_long_html_title_is_shortened_and_keeps_the_suffix(upstream: FakeUpstream) -> None:
    """A title of 500 characters: the message is at most 200 and ends with the suffix."""
    page = f"<html><head><title>{'T' * 500}</title></head></html>"
    upstream.enqueue(Reply.text(503, page, content_type="text/html"), path=CHAT)
    client = make_client(upstream)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), InternalServerError)
    assert (len(error.message) <= 200, error.message.endswith("..." + SUFFIX)) == (True, True)


def test_html_page_without_title_gets_a_short_text(upstream: FakeUpstream) -> None:
    """No title: a short generic text with the suffix, never the markup."""
    page = "<html><body>" + "<p>markup</p>" * 100 + "</body></html>"
    upstream.enqueue(Reply.text(502, page, content_type="text/html; charset=utf-8"), path=CHAT)
    client = make_client(upstream)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), InternalServerError)
    assert error.message.endswith(SUFFIX) and "<" not in error.message
    assert len(error.message) <= 200


def test_html_title_quoting_the_key_is_masked(upstream: FakeUpstream) -> None:
    """A page title quoting the key shows it masked."""
    page = f"<html><title>Denied: {KEY}</title></html>"
    upstream.enqueue(Reply.text(401, page, content_type="text/html"), path=CHAT)
    client = make_client(upstream, api_key=KEY)
    error = failure(lambda: client.chat(model="m", messages=MESSAGES), AuthenticationError)
    assert error.message == f"Denied: {MASK}" + SUFFIX


@given(title=st.text(max_size=400))
def test_html_message_is_at_most_200_characters_and_keeps_the_suffix(title: str) -> None:
    """Property (pure): whatever the title, the message fits 200 characters and ends
    with the suffix."""
    message = html_message(f"<html><title>{html.escape(title)}</title></html>")
    assert (len(message) <= 200, message.endswith(SUFFIX)) == (True, True)
