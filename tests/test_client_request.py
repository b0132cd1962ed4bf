"""``client.request()``: any endpoint, through the same session, auth, forwarding and errors."""

from __future__ import annotations

from typing import Iterator

import pytest

from passthrough_client import (
    APIResponse,
    ConfigError,
    InvalidResponseError,
    ModelNotAllowedError,
    NotFoundError,
    PassthroughClient,
    Stream,
    StreamError,
)
from passthrough_client.testing import FakeUpstream, Reply


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service whose base URL ends in ``/v1``, with a key."""
    config = {
        "base_url": upstream.url + "/v1",
        "api_key": "sk-test",
        "allowed_models": ["fake-model"],
        "forward_headers": {"tenant": "X-Tenant"},
    }
    with PassthroughClient(config, environ={}) as client:
        yield client


def test_relative_path_goes_under_the_api(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``"rerank"`` is POSTed to ``/v1/rerank`` with the JSON body, key and params."""
    upstream.enqueue(Reply.json(200, {"results": [1]}))
    answer = client.request("post", "rerank", json={"query": "q"}, params={"top": 2})
    assert isinstance(answer, APIResponse)
    assert answer.json() == {"results": [1]}
    seen = upstream.requests[-1]
    assert (seen.method, seen.path) == ("POST", "/v1/rerank?top=2")
    assert seen.json == {"query": "q"}
    assert seen.headers.get("authorization") == "Bearer sk-test"


def test_rooted_path_goes_to_the_server_root(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``"/tokenize"`` goes to the base URL without its ``/v1``."""
    upstream.enqueue(Reply.text(200, "plain words"))
    answer = client.request("GET", "/tokenize")
    assert (upstream.requests[-1].method, upstream.requests[-1].path) == ("GET", "/tokenize")
    assert (answer.text, answer.content) == ("plain words", b"plain words")
    with pytest.raises(InvalidResponseError):
        answer.json()


@pytest.mark.parametrize(
    "path", ["http://127.0.0.1:9/v1/x", "//127.0.0.1:9/x", "../x", "a/%2e%2e/x", "a/%2E./x"]
)
def test_refused_paths_send_nothing(
    client: PassthroughClient, upstream: FakeUpstream, path: str
) -> None:
    """Another origin or a ``..`` segment raises ``ValueError`` before any traffic."""
    with pytest.raises(ValueError, match="path"):
        client.request("GET", path)
    assert upstream.requests == []


def test_model_in_json_is_checked(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """A ``model`` outside ``allowed_models`` is refused before any traffic."""
    with pytest.raises(ModelNotAllowedError):
        client.request("POST", "responses", json={"model": "other", "input": "x"})
    assert upstream.requests == []


def test_provider_data_is_forwarded(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Provider data keys in ``forward_headers`` are sent as for the other calls."""
    upstream.enqueue(Reply.json(200, {}))
    client.request("GET", "/health", provider_data={"tenant": "acme"}, extra_headers={"X-E": "1"})
    seen = upstream.requests[-1]
    assert (seen.headers.get("x-tenant"), seen.headers.get("x-e")) == ("acme", "1")


def test_errors_are_the_usual_status_errors(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A 404 raises ``NotFoundError``; a 503 is retried like any call."""
    with pytest.raises(NotFoundError):
        client.request("GET", "no/such/route")
    upstream.enqueue(Reply.json(503, {}, headers={"retry-after-ms": "1"}))
    upstream.enqueue(Reply.json(200, {"ok": True}))
    answer = client.request("GET", "ping")
    assert (answer.json()["ok"], answer.http.attempts) == (True, 2)


def test_stream_yields_each_events_json(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """With ``stream=True`` the items are the events' objects; ``collect()`` is a TypeError."""
    upstream.enqueue(
        Reply.sse(
            [
                'event: response.created\ndata: {"type": "created"}\n\n',
                ": keep-alive\n\n",
                'data: {"type": "delta", "delta": "hi"}\n\n',
            ]
        )
    )
    stream = client.request("POST", "responses", json={"model": "fake-model"}, stream=True)
    assert isinstance(stream, Stream)
    with pytest.raises(TypeError, match="collect"):
        stream.collect()
    assert list(stream) == [{"type": "created"}, {"type": "delta", "delta": "hi"}]
    assert upstream.requests[-1].headers.get("accept") == "text/event-stream"


def test_stream_error_event_raises(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """An error event in a raw stream is a ``StreamError``, as for chat."""
    upstream.enqueue(Reply.sse(['data: {"a": 1}\n\n', 'data: {"error": {"message": "boom"}}\n\n']))
    stream = client.request("POST", "responses", stream=True)
    assert next(stream) == {"a": 1}
    with pytest.raises(StreamError, match="boom"):
        next(stream)


@pytest.mark.parametrize("method", ["", "GE T", None])
def test_bad_method_is_refused(client: PassthroughClient, method: object) -> None:
    """A method that is not a word raises ``ValueError``."""
    with pytest.raises(ValueError, match="method"):
        client.request(method, "x")  # type: ignore[arg-type]


def test_stream_timeouts_need_stream(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """``idle_timeout`` without ``stream=True`` is a ``ConfigError`` before any traffic."""
    with pytest.raises(ConfigError, match="idle_timeout"):
        client.request("GET", "x", idle_timeout=1.0)
    assert upstream.requests == []
