"""How often a call is sent: retries, waits, deadlines, redirects, stale connections, logs."""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import time
from typing import Any, Iterator

import pytest

from passthrough_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    PassthroughClient,
    RateLimitError,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]
FAST = {"retry-after-ms": "1"}
LOGGER = "passthrough_client"


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service with the default two retries."""
    with PassthroughClient(base_url=upstream.url, max_retries=2, environ={}) as client:
        yield client


@pytest.fixture(name="logs")
def fixture_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the package's records at DEBUG."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


def _chat(client: PassthroughClient, **kwargs: Any) -> Any:
    return client.chat(model="fake-model", messages=MESSAGES, **kwargs)


def _records(logs: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in logs.records if r.name == LOGGER and r.levelno == level]


def _waits(logs: pytest.LogCaptureFixture) -> list[float]:
    """The waits announced by the retry warnings (the third argument of the record)."""
    return [float(r.args[2]) for r in _records(logs, logging.WARNING)]  # type: ignore[index]


def _http_date(offset: float) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


def _retry_after(spec: str) -> str:
    """``"5"`` as it is; ``"date+30"`` as an HTTP date 30 s from now (computed at run time)."""
    if spec.startswith("date"):
        return _http_date(float(spec[4:]))
    return spec


# -- which failures are retried --------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_retryable_status_is_sent_max_retries_plus_one_times(
    client: PassthroughClient, upstream: FakeUpstream, status: int
) -> None:
    """408, 429, 502, 503 and 504 are retried up to ``max_retries`` times."""
    upstream.enqueue(Reply.json(status, {}, headers=FAST), times=3)
    with pytest.raises(APIStatusError) as info:
        _chat(client)
    assert (info.value.status_code, len(upstream.requests)) == (status, 3)


def test_retry_that_succeeds_returns_the_answer(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A 503 followed by a 200 gives the 200's result."""
    upstream.enqueue(Reply.json(503, {}, headers=FAST))
    assert (_chat(client).choices[0].message.content, len(upstream.requests)) == ("hi", 2)


@pytest.mark.parametrize("status", [500, 400, 401, 403, 404, 409, 422, 418])
def test_other_statuses_are_not_retried(
    client: PassthroughClient, upstream: FakeUpstream, status: int
) -> None:
    """500 and every 4xx other than 408/429 are sent once."""
    upstream.enqueue(Reply.json(status, {}, headers=FAST), times=3)
    with pytest.raises(APIStatusError):
        _chat(client)
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(("status", "header", "sent"), [(500, "true", 3), (503, "false", 1)])
def test_x_should_retry_overrides_the_status_rule(
    client: PassthroughClient, upstream: FakeUpstream, status: int, header: str, sent: int
) -> None:
    """``x-should-retry: true`` retries a 500; ``false`` stops a 503 from being retried."""
    upstream.enqueue(Reply.json(status, {}, headers={**FAST, "x-should-retry": header}), times=3)
    with pytest.raises(APIStatusError):
        _chat(client)
    assert len(upstream.requests) == sent


def test_max_retries_zero_sends_once(upstream: FakeUpstream) -> None:
    """With ``max_retries=0`` a 503 is raised after one request."""
    client = PassthroughClient(base_url=upstream.url, max_retries=0, environ={})
    upstream.enqueue(Reply.json(503, {}, headers=FAST), times=3)
    with pytest.raises(APIStatusError):
        _chat(client)
    assert len(upstream.requests) == 1


def test_refused_connection_is_retried(logs: pytest.LogCaptureFixture) -> None:
    """A connection that cannot be made is tried ``max_retries + 1`` times."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = PassthroughClient(base_url=f"http://127.0.0.1:{port}", max_retries=1, environ={})
    with pytest.raises(APIConnectionError):
        client.models()
    debug = [r.getMessage() for r in _records(logs, logging.DEBUG)]
    assert (len(debug), len(_records(logs, logging.WARNING))) == (2, 1)


def test_read_timeout_is_not_retried(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """A server that accepted the request but stays silent is asked exactly once."""
    upstream.enqueue(Reply.hang(3), times=3)
    with pytest.raises(APITimeoutError):
        _chat(client, timeout=0.3)
    assert len(upstream.requests) == 1


# -- how long to wait ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "0.2"}, 0.2),
        ({"Retry-After": "30", "retry-after-ms": "150"}, 0.15),
        ({"retry-after-ms": "50"}, 0.05),
        ({"Retry-After": _http_date(-3600)}, 0.0),
    ],
)
def test_wait_follows_the_service(
    client: PassthroughClient,
    upstream: FakeUpstream,
    logs: pytest.LogCaptureFixture,
    headers: Any,
    wait: float,
) -> None:
    """``Retry-After`` (seconds or date) sets the wait; ``retry-after-ms`` wins."""
    upstream.enqueue(Reply.json(429, {}, headers=headers))
    _chat(client)
    assert _waits(logs) == [pytest.approx(wait, abs=0.01)]


def test_without_a_hint_the_wait_is_backoff(
    client: PassthroughClient, upstream: FakeUpstream, logs: pytest.LogCaptureFixture
) -> None:
    """The first retry waits 0.5 s less up to a quarter of jitter."""
    upstream.enqueue(Reply.json(502, {}))
    _chat(client)
    assert 0.375 <= _waits(logs)[0] <= 0.5


@pytest.mark.parametrize("header", ["120", "date+3600"])
def test_retry_after_over_60_seconds_is_raised_at_once(
    client: PassthroughClient, upstream: FakeUpstream, header: str
) -> None:
    """A wait over 60 s is not waited for: the error carries ``.retry_after``."""
    upstream.enqueue(Reply.json(429, {}, headers={"Retry-After": _retry_after(header)}), times=3)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        _chat(client)
    took = time.monotonic() - started
    assert (info.value.retry_after > 60, len(upstream.requests), took < 5) == (True, 1, True)


@pytest.mark.parametrize("header", ["20", "date+30"])
def test_wait_past_the_deadline_raises_the_last_error_at_once(
    client: PassthroughClient, upstream: FakeUpstream, header: str
) -> None:
    """When the next wait would pass the deadline, the status error is raised now (not at
    the 10 s deadline: the bound of 5 s leaves room for a loaded machine)."""
    upstream.enqueue(Reply.json(503, {}, headers={"Retry-After": _retry_after(header)}), times=3)
    started = time.monotonic()
    with pytest.raises(APIStatusError) as info:
        _chat(client, deadline=10.0)
    took = time.monotonic() - started
    assert (info.value.status_code, len(upstream.requests), took < 5) == (503, 1, True)


# -- deadlines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply", [Reply.hang(20), Reply.trickle(b'{"data": []}' * 4, 0.2)], ids=["hang", "trickle"]
)
def test_deadline_cuts_a_slow_call(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply
) -> None:
    """A silent or trickling server (20 s, 9.6 s) is cut off by the 0.6 s deadline with
    APITimeoutError (the bound of 5 s leaves room for a loaded machine)."""
    upstream.enqueue(reply)
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="deadline"):
        client.models(deadline=0.6)
    assert (time.monotonic() - started < 5, len(upstream.requests)) == (True, 1)


def test_deadline_covers_the_retries(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Retries stop once the deadline leaves no time for the next wait.

    A 3 s wait fits once in a 5.5 s deadline: 2 requests, not the 11 that
    ``max_retries=10`` allows, then the status error at once. A loaded machine has 2.5 s
    of slack for the first answer and for the second request (a stall past the deadline
    during a wait or a request would end the call with APITimeoutError instead).
    """
    upstream.enqueue(Reply.json(503, {}, headers={"Retry-After": "3"}), times=10)
    with pytest.raises(APIStatusError):
        PassthroughClient(base_url=upstream.url, max_retries=10, environ={}).models(deadline=5.5)
    assert len(upstream.requests) == 2


# -- redirects -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("absolute", [False, True])
def test_same_origin_307_308_is_followed_with_method_and_body(
    client: PassthroughClient, upstream: FakeUpstream, status: int, absolute: bool
) -> None:
    """A same-origin 307/308 re-sends the POST and its body to the new location."""
    location = (upstream.url if absolute else "") + "/v1/chat/completions?moved=1"
    upstream.enqueue(Reply.redirect(status, location))
    result = client.chat(model="fake-model", messages=MESSAGES)
    first, second = upstream.requests
    assert (second.method, second.path, second.body, result.choices[0].message.content) == (
        "POST",
        "/v1/chat/completions?moved=1",
        first.body,
        "hi",
    )


def test_five_redirects_are_followed(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Up to five redirects in a row still reach the answer."""
    upstream.enqueue(Reply.redirect(308, "/v1/models"), times=5)
    assert (len(client.models()), len(upstream.requests)) == (2, 6)


def test_sixth_redirect_raises_with_its_status(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A sixth redirect is an APIStatusError with the 3xx status; no seventh request."""
    upstream.enqueue(Reply.redirect(307, "/v1/models"), times=6)
    with pytest.raises(APIStatusError) as info:
        client.models()
    assert (info.value.status_code, len(upstream.requests)) == (307, 6)


@pytest.mark.parametrize("status", [301, 302, 303])
def test_other_redirects_raise_with_their_status(
    client: PassthroughClient, upstream: FakeUpstream, status: int
) -> None:
    """301/302/303 are never followed (a POST is never turned into a GET)."""
    upstream.enqueue(Reply.redirect(status, "/v1/models"))
    with pytest.raises(APIStatusError) as info:
        client.chat(model="fake-model", messages=MESSAGES)
    assert (type(info.value), info.value.status_code, len(upstream.requests)) == (
        APIStatusError,
        status,
        1,
    )


@pytest.mark.parametrize("status", [301, 307, 308])
def test_cross_origin_redirect_sends_nothing_to_the_other_origin(
    upstream: FakeUpstream, status: int
) -> None:
    """A redirect to another origin raises; the other server receives no request at all."""
    config = {"base_url": upstream.url, "api_key": "sk-x", "forward_headers": {"t": "X-T"}}
    client = PassthroughClient(config, max_retries=2, environ={})
    with FakeUpstream() as other:
        upstream.enqueue(Reply.redirect(status, other.url + "/v1/chat/completions"))
        with pytest.raises(APIStatusError) as info:
            client.chat(model="fake-model", messages=MESSAGES, provider_data={"t": "tenant"})
        assert (info.value.status_code, len(upstream.requests), other.requests) == (status, 1, [])


# -- stale keep-alive connections ------------------------------------------------------


@pytest.mark.parametrize("reset", [False, True])
def test_stale_reused_connection_is_resent_once_on_a_new_one(
    upstream: FakeUpstream, reset: bool
) -> None:
    """A kept-alive connection that dies before answering is replaced, even without retries."""
    client = PassthroughClient(base_url=upstream.url, max_retries=0, environ={})
    client.models()
    upstream.enqueue(Reply.drop(reset=reset))
    answer = _chat(client).choices[0].message.content
    assert (answer, [r.connection_id for r in upstream.requests]) == ("hi", [1, 1, 2])


def test_same_failure_on_a_new_connection_is_not_retried(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """On a fresh connection a drop before the answer is an APIConnectionError, sent once."""
    upstream.enqueue(Reply.drop(), times=3)
    with pytest.raises(APIConnectionError):
        _chat(client)
    assert len(upstream.requests) == 1


# -- logging ---------------------------------------------------------------------------


def test_one_debug_line_per_attempt(upstream: FakeUpstream, logs: pytest.LogCaptureFixture) -> None:
    """Each attempt logs method, URL without query, status, ms, request id and number."""
    client = PassthroughClient(base_url=upstream.url + "/v1?sig=q-secret", environ={})
    upstream.enqueue(Reply.json(503, {}, headers={**FAST, "x-request-id": "rid-1"}))
    upstream.enqueue(Reply.json(200, {"data": []}, headers={"x-request-id": "rid-2"}))
    client.models()
    url = re.escape(f"{upstream.url}/v1/models")
    patterns = [
        rf"GET {url} -> 503 in [0-9.]+ ms \(request id rid-1, attempt 1\)",
        rf"GET {url} -> 200 in [0-9.]+ ms \(request id rid-2, attempt 2\)",
    ]
    lines = [r.getMessage() for r in _records(logs, logging.DEBUG)]
    assert [bool(re.fullmatch(p, line)) for p, line in zip(patterns, lines)] + [len(lines)] == [
        True,
        True,
        2,
    ]


def test_retry_is_announced_as_a_warning(
    client: PassthroughClient, upstream: FakeUpstream, logs: pytest.LogCaptureFixture
) -> None:
    """A retry logs one WARNING naming the call, the reason and the attempt."""
    upstream.enqueue(Reply.json(429, {}, headers=FAST))
    _chat(client)
    warnings = [r.getMessage() for r in _records(logs, logging.WARNING)]
    assert [("POST" in w, "HTTP 429" in w, "attempt 2 of 3" in w) for w in warnings] == [
        (True, True, True)
    ]


def test_logs_hold_no_header_values_or_bodies(
    upstream: FakeUpstream, logs: pytest.LogCaptureFixture
) -> None:
    """Neither header values nor request or response bodies appear in the log."""
    config = {"base_url": upstream.url, "network": {"headers": {"X-Team": "hdr-value-9"}}}
    client = PassthroughClient(config, api_key="sk-log-key", environ={})
    upstream.enqueue(Reply.json(503, {"error": {"message": "resp-body-7"}}, headers=FAST))
    client.chat(model="fake-model", messages=[{"role": "user", "content": "req-body-3"}])
    assert [
        s for s in ("hdr-value-9", "sk-log-key", "resp-body-7", "req-body-3") if s in logs.text
    ] == []
