"""``first_event_timeout`` and ``idle_timeout``: keep-alive comments reset neither."""

from __future__ import annotations

import dataclasses
import socket
import time
from typing import Any, Iterator, List

import pytest
from faultutil import bounded

from passthrough_client import APITimeoutError, ConfigError, PassthroughClient
from passthrough_client._rules.sse import ServerSentEvent
from passthrough_client._stream_clock import StreamClock, check_stream_timeouts
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]
CHUNK = 'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n'
EVENT = ServerSentEvent("message", "{}", None, None)
PINGS = [": ping\n\n"] * 200  # one every 50 ms: ten seconds of keep-alives, no event


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service with retries, to show stream timeouts are not retried."""
    with PassthroughClient(base_url=upstream.url, max_retries=2, environ={}) as client:
        yield client


def _drain(stream: Any) -> List[Any]:
    return list(stream)


def test_idle_timeout_fires_on_a_server_that_only_pings(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Comments every 50 ms never reset ``idle_timeout=0.3``: it fires at about 0.3 s."""
    upstream.enqueue(Reply.sse(PINGS, delay=0.05))
    started = time.monotonic()
    stream = client.chat(model="m", messages=MESSAGES, stream=True, idle_timeout=0.3)
    with pytest.raises(APITimeoutError, match=r"idle_timeout \(0\.3 s\)"):
        bounded(lambda: _drain(stream), 5.0)
    took = time.monotonic() - started
    assert 0.25 <= took < 5.0  # the pings go on for 10 s
    assert len(upstream.requests) == 1  # not retried


def test_events_with_empty_data_do_not_reset_the_idle_timeout(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Empty ``data:`` events every 50 ms are no events: ``idle_timeout=0.3`` still fires."""
    upstream.enqueue(Reply.sse(["data:\n\n"] * 200, delay=0.05))
    stream = client.chat(model="m", messages=MESSAGES, stream=True, idle_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="idle_timeout"):
        bounded(lambda: _drain(stream), 5.0)
    assert time.monotonic() - started < 5.0  # the empty events go on for 10 s


def test_idle_timeout_fires_on_a_silent_server(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """One event at once, then silence: the socket wait is cut to ``idle_timeout``.

    ``first_event_timeout=4`` sets the read timeout of the response head, so only the
    clock's own socket timeout can end the wait at about 0.3 s rather than 4 s (or at the
    next event, at 5 s). The bound of 3 s leaves a loaded machine seconds of slack.
    """
    reply = dataclasses.replace(Reply.sse([CHUNK, CHUNK], delay=5.0), delay_first=False)
    upstream.enqueue(reply)
    stream = client.chat(
        model="m", messages=MESSAGES, stream=True, first_event_timeout=4.0, idle_timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="idle_timeout"):
        bounded(lambda: _drain(stream), 5.0)
    assert time.monotonic() - started < 3.0


def test_events_reset_the_idle_timeout(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Events every 0.25 s for 3.5 s pass an ``idle_timeout`` of 3 s.

    The stream outlasts the limit, so only resetting it lets the stream finish; each gap
    leaves a loaded machine 2.75 s of slack.
    """
    upstream.enqueue(Reply.sse([CHUNK] * 14 + ["data: [DONE]\n\n"], delay=0.25))
    stream = client.chat(model="m", messages=MESSAGES, stream=True, idle_timeout=3.0)
    assert len(bounded(lambda: _drain(stream), 15.0)) == 14


def test_first_event_timeout_counts_from_sending(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Pings, then an event only after 1 s: ``first_event_timeout=0.4`` fires, named."""
    upstream.enqueue(Reply.sse([*PINGS[:20], CHUNK], delay=0.05))
    stream = client.completions(model="m", prompt="p", stream=True, first_event_timeout=0.4)
    with pytest.raises(APITimeoutError, match=r"first_event_timeout \(0\.4 s\)"):
        bounded(lambda: _drain(stream), 5.0)


def test_first_event_timeout_covers_a_late_head(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A server that sends no response head at all: the limit fires, not the read timeout."""
    upstream.enqueue(Reply.hang(10.0))
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="first_event_timeout"):
        bounded(
            lambda: client.chat(model="m", messages=MESSAGES, stream=True, first_event_timeout=0.3)
        )
    assert time.monotonic() - started < 5.0  # the server would answer at 10 s
    assert len(upstream.requests) == 1


def test_idle_before_first_when_no_first_event_timeout(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Without ``first_event_timeout``, ``idle_timeout`` also bounds the wait for the first."""
    upstream.enqueue(Reply.sse(PINGS, delay=0.05))
    stream = client.request("POST", "responses", stream=True, idle_timeout=0.3)
    with pytest.raises(APITimeoutError, match="idle_timeout"):
        bounded(lambda: _drain(stream), 5.0)


def test_a_generous_first_then_a_strict_idle(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A slow first event within ``first_event_timeout`` is fine; then ``idle_timeout`` rules.

    Pings for 1 s, then one event, then silence: ``idle_timeout=0.5`` would have fired
    during the pings, ``first_event_timeout=8`` does not; after the event, the idle one does.
    """
    reply = Reply.sse([*PINGS[:10], CHUNK], delay=0.1, end="hang")
    upstream.enqueue(reply)
    stream = client.chat(
        model="m", messages=MESSAGES, stream=True, first_event_timeout=8.0, idle_timeout=0.5
    )
    seen: List[Any] = []
    with pytest.raises(APITimeoutError, match="idle_timeout"):
        bounded(lambda: seen.extend(stream), 10.0)
    assert len(seen) == 1


def test_the_connection_goes_back_to_the_pool_with_its_read_timeout(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """After a stream with an idle timeout, the next call on the same socket is unaffected."""
    stream = client.chat(model="m", messages=MESSAGES, stream=True, idle_timeout=1.0)
    bounded(lambda: _drain(stream), 5.0)
    upstream.enqueue(Reply.json(200, {"choices": []}, delay=1.5))
    assert client.chat(model="m", messages=MESSAGES).choices == ()


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), "1", True])
@pytest.mark.parametrize("name", ["first_event_timeout", "idle_timeout"])
def test_bad_values_are_config_errors(
    client: PassthroughClient, upstream: FakeUpstream, name: str, value: Any
) -> None:
    """A value that is not seconds > 0 raises ``ConfigError`` naming it, before any traffic."""
    with pytest.raises(ConfigError, match=name):
        client.chat(model="m", messages=MESSAGES, stream=True, **{name: value})
    assert upstream.requests == []


@pytest.mark.parametrize("name", ["first_event_timeout", "idle_timeout"])
def test_without_stream_is_a_config_error(client: PassthroughClient, name: str) -> None:
    """Either option on a call without ``stream=True`` is refused."""
    with pytest.raises(ConfigError, match="stream=True"):
        client.chat(model="m", messages=MESSAGES, **{name: 1.0})
    with pytest.raises(ConfigError, match="stream=True"):
        client.completions(model="m", prompt="p", **{name: 1.0})


# --- the clock alone -----------------------------------------------------------------


def test_clock_limits_and_names() -> None:
    """Before the first event the first limit applies; after an event, the idle one."""
    now = time.monotonic()
    clock = StreamClock(0.5, 10.0, started=now - 1.0)
    assert clock.expired()
    assert "first_event_timeout (0.5 s)" in str(clock.error())
    assert not clock.after_read([EVENT])
    assert not clock.expired()
    assert "idle_timeout (10 s)" in str(clock.error())


def test_clock_without_idle_has_no_limit_after_the_first_event() -> None:
    """``first_event_timeout`` alone stops counting once an event arrived."""
    clock = StreamClock(0.01, None, started=time.monotonic() - 1.0)
    assert clock.after_read([EVENT]) is False
    assert not clock.expired()


def test_clock_sets_the_socket_timeout_and_restores_it() -> None:
    """The socket waits no longer than the time left, and gets its own timeout back."""
    a, b = socket.socketpair()
    try:
        a.settimeout(30.0)
        clock = StreamClock(None, 5.0, started=time.monotonic())
        clock.wait(a)
        assert 0 < (a.gettimeout() or 0) <= 5.0
        a.settimeout(30.0)
        clock = StreamClock(5.0, None, started=time.monotonic())
        clock.wait(a)
        clock.after_read([EVENT])
        clock.wait(a)
        assert a.gettimeout() == 30.0
    finally:
        a.close()
        b.close()


def test_check_accepts_none_and_positive_numbers() -> None:
    """``None`` and finite numbers > 0 pass for streams."""
    check_stream_timeouts(None, None, stream=False)
    check_stream_timeouts(0.1, 3, stream=True)
