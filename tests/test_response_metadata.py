"""``.http``: status, headers, request id, URL, elapsed and attempts of every response."""

from __future__ import annotations

from typing import Iterator

import attrs
import pytest

from passthrough_client import (
    ChatCompletion,
    Completion,
    EmbeddingsResponse,
    HTTPInfo,
    PassthroughClient,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hello there"}]
REPLY = {
    "id": "c1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
}


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service, with a query in its base URL."""
    url = upstream.url + "/v1?api-version=7"
    with PassthroughClient(base_url=url, max_retries=2, environ={}) as client:
        yield client


def test_chat_has_status_headers_request_id_and_url(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``.http`` of a chat completion reports what HTTP said; the URL has no query."""
    upstream.enqueue(Reply.json(200, REPLY, headers={"X-Request-ID": "req-42", "X-Vendor": "v"}))
    reply = client.chat(model="m", messages=MESSAGES)
    info = reply.http
    assert isinstance(info, HTTPInfo)
    assert (info.status_code, info.request_id, info.attempts) == (200, "req-42", 1)
    assert f"{upstream.url}/v1/chat/completions" == info.url
    assert "v" == info.headers["x-vendor"] == info.headers["X-VENDOR"]


def test_headers_are_read_only(client: PassthroughClient) -> None:
    """The headers mapping cannot be changed."""
    info = client.embeddings(model="fake-embedder", input="x").http
    assert info is not None
    with pytest.raises(TypeError):
        info.headers["x"] = "y"  # type: ignore[index]


def test_attempts_count_the_retries(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Two 503s then a 200: three attempts."""
    upstream.enqueue(Reply.json(503, {}, headers={"retry-after-ms": "1"}), times=2)
    assert client.completions(model="m", prompt="p").http.attempts == 3  # type: ignore[union-attr]


def test_elapsed_runs_to_the_head_not_the_end_of_the_body(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A head at once then a body trickling for 6 s: elapsed stops at the head.

    The bound leaves a loaded machine 3 s to deliver the head, still half the body's time.
    """
    body = b'{"data": []}' + b" " * 28
    upstream.enqueue(Reply.trickle(body, 0.15), path="/v1/embeddings")
    reply = client.embeddings(model="e", input="x")
    assert reply.http is not None
    assert 0.0 <= reply.http.elapsed < 3.0


def test_elapsed_includes_a_slow_head(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """A response head delayed by 0.3 s shows in ``elapsed``."""
    upstream.enqueue(Reply.json(200, REPLY, delay=0.3))
    reply = client.chat(model="m", messages=MESSAGES)
    assert reply.http is not None and reply.http.elapsed >= 0.29


def test_http_is_outside_equality_repr_and_to_dict(client: PassthroughClient) -> None:
    """Two answers with different metadata are equal; ``repr``/``to_dict`` do not show it."""
    first = client.chat(model="m", messages=MESSAGES, stream=False)
    again = ChatCompletion.from_dict(first.to_dict())
    assert first.http is not None and again.http is None
    assert first == again and hash(first) == hash(again)
    assert "http" not in repr(first) and "HTTPInfo" not in repr(first)
    assert "http" not in first.to_dict() and "_http" not in first.to_dict()


@pytest.mark.parametrize("cls", [ChatCompletion, Completion, EmbeddingsResponse])
def test_from_dict_and_evolve_have_no_http(cls: type) -> None:
    """Objects not received by a call have ``http`` None (also after ``attrs.evolve``)."""
    obj = cls.from_dict({})  # type: ignore[attr-defined]
    assert obj.http is None
    assert attrs.evolve(obj).http is None


def test_stream_and_its_collected_completion_share_http(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A stream's ``.http`` is there before iterating; ``collect()`` hands it on."""
    upstream.enqueue(
        Reply.sse(['data: {"choices": []}\n\n', "data: [DONE]\n\n"], headers={"x-request-id": "s1"})
    )
    stream = client.chat(model="m", messages=MESSAGES, stream=True)
    assert stream.http is not None and stream.http.request_id == "s1"
    assert stream.collect().http is stream.http


def test_completion_stream_collect_has_http(client: PassthroughClient) -> None:
    """The same for a streamed text completion."""
    stream = client.completions(model="m", prompt="a b", stream=True)
    assert stream.http is not None
    assert stream.collect().http is stream.http


def test_request_answers_carry_http(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """``request()`` answers and streams have ``.http`` too."""
    upstream.enqueue(Reply.json(200, {"ok": 1}, headers={"x-request-id": "r9"}))
    answer = client.request("POST", "rerank", json={"q": 1})
    assert ("r9", f"{upstream.url}/v1/rerank") == (answer.http.request_id, answer.http.url)


def test_a_response_with_http_pickles(client: PassthroughClient) -> None:
    """Results cross to worker processes: ``.http`` pickles with them, headers included."""
    import pickle

    reply = client.chat(model="m", messages=MESSAGES)
    again = pickle.loads(pickle.dumps(reply))
    assert (again, again.http) == (reply, reply.http)
    assert again.http is not None and again.http.headers["content-type"] == "application/json"
    assert "headers" not in repr(reply.http)
