"""Tests for the default routes of passthrough_client.testing.FakeUpstream (stdlib clients)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakehttp import (
    TIMEOUT,
    call,
    chat_body,
    connect,
    http_request,
    post_json,
    raw_exchange,
    read_event,
    sse_data,
)

from passthrough_client.testing import FakeUpstream

# -- default routes --------------------------------------------------------------------


def test_models_lists_configured_models_in_order() -> None:
    """GET /v1/models lists the configured models in their order, OpenAI-shaped."""
    with FakeUpstream(models=["b", "a"]) as upstream:
        status, _, data = call(upstream, "GET", "/v1/models")
    entry = {"object": "model", "created": 0, "owned_by": "fake-upstream"}
    expected = {"object": "list", "data": [{"id": "b", **entry}, {"id": "a", **entry}]}
    assert (200, expected) == (status, json.loads(data))


def test_chat_echoes_last_message_with_usage() -> None:
    """A chat completion echoes the last message; usage counts words."""
    with FakeUpstream() as upstream:
        messages = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi there"},
        ]
        body = post_json(upstream, "/v1/chat/completions", {"model": "m1", "messages": messages})
    choice = {"index": 0, "message": {"role": "assistant", "content": "hi there"}}
    assert [{**choice, "finish_reason": "stop"}] == body["choices"]
    assert (body["object"], body["model"]) == ("chat.completion", "m1")
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    assert isinstance(body["id"], str) and isinstance(body["created"], int)


def test_chat_joins_text_parts_of_list_content(upstream: FakeUpstream) -> None:
    """List content is echoed as its text parts joined."""
    parts = [{"type": "text", "text": "a "}, {"type": "image_url"}, {"type": "text", "text": "b"}]
    body = post_json(upstream, "/v1/chat/completions", chat_body(parts))
    assert body["choices"][0]["message"]["content"] == "a b"


@pytest.mark.parametrize("text", ["Hello big world", "  lead and trail  ", "one", "", "a\nb\tc"])
def test_chat_stream_sends_one_chunk_per_word_that_join_to_the_text(
    upstream: FakeUpstream, text: str
) -> None:
    """Streamed deltas join to the text exactly; role first, then stop, then [DONE]."""
    status, headers, raw = call(
        upstream, "POST", "/v1/chat/completions", chat_body(text, stream=True)
    )
    *chunks, done = sse_data(raw)
    parsed = [json.loads(c) for c in chunks]
    deltas = [p["choices"][0]["delta"] for p in parsed]
    assert (status, done) == (200, "[DONE]")
    assert headers["Content-Type"] == "text/event-stream"
    assert deltas[0]["role"] == "assistant" and all("role" not in d for d in deltas[1:])
    assert text == "".join(d.get("content", "") for d in deltas)
    assert max(1, len(text.split())) == len(deltas) - 1
    assert (deltas[-1], parsed[-1]["choices"][0]["finish_reason"]) == ({}, "stop")
    assert {"chat.completion.chunk"} == {p["object"] for p in parsed}


@pytest.mark.parametrize("include", [True, False])
def test_chat_stream_usage_chunk_only_when_asked(upstream: FakeUpstream, include: bool) -> None:
    """A usage chunk with empty choices comes before [DONE] only with include_usage."""
    body = chat_body("a b c", stream=True, stream_options={"include_usage": include})
    _, _, raw = call(upstream, "POST", "/v1/chat/completions", body)
    last = json.loads(sse_data(raw)[-2])
    usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert include == (last["choices"] == [] and last.get("usage") == usage)


def test_stream_writes_each_event_as_its_own_chunk(upstream: FakeUpstream) -> None:
    """Each SSE event is one HTTP chunk, and the body ends with the zero chunk."""
    body = json.dumps(chat_body("x y", stream=True)).encode()
    raw = raw_exchange(upstream, http_request("/v1/chat/completions", body))
    _, _, payload = raw.partition(b"\r\n\r\n")
    chunks = []
    while payload:
        size_line, _, payload = payload.partition(b"\r\n")
        size = int(size_line, 16)
        chunks.append(payload[:size])
        payload = payload[size + 2 :]
    assert chunks[-1] == b""
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in chunks[:-1])
    assert chunks[-2] == b"data: [DONE]\n\n"


def test_completions_echo_the_prompt(upstream: FakeUpstream) -> None:
    """A completion's text is the prompt; a list of prompts gives one choice each."""
    one = post_json(upstream, "/v1/completions", {"model": "m1", "prompt": "say this"})
    two = post_json(upstream, "/v1/completions", {"model": "m1", "prompt": ["a", "b c"]})
    assert (one["object"], one["choices"][0]["text"]) == ("text_completion", "say this")
    assert [(c["index"], c["text"]) for c in two["choices"]] == [(0, "a"), (1, "b c")]
    assert one["choices"][0]["finish_reason"] == "stop"


def test_completions_stream_word_by_word(upstream: FakeUpstream) -> None:
    """Streamed completion chunks carry one word each and end with stop and [DONE]."""
    body = {"model": "m1", "prompt": "to be or", "stream": True}
    _, _, raw = call(upstream, "POST", "/v1/completions", body)
    *chunks, done = sse_data(raw)
    choices = [json.loads(c)["choices"][0] for c in chunks]
    assert [c["text"] for c in choices] == ["to", " be", " or", ""]
    assert (choices[-1]["finish_reason"], done) == ("stop", "[DONE]")


def test_embeddings_are_deterministic_8_dim_vectors(upstream: FakeUpstream) -> None:
    """Embeddings are 8 floats per input, the same for the same text, different otherwise."""
    body = post_json(upstream, "/v1/embeddings", {"model": "e", "input": ["a", "b", "a"]})
    single = post_json(upstream, "/v1/embeddings", {"model": "e", "input": "a"})
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert {8} == {len(v) for v in vectors} and vectors[0] == vectors[2] != vectors[1]
    assert vectors[0] == single["data"][0]["embedding"]
    assert (body["object"], body["data"][0]["object"], body["model"]) == ("list", "embedding", "e")
    assert all(isinstance(x, float) and -1 <= x <= 1 for x in vectors[0])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("GET", "/v2/models", None, 404, "not_found"),
        ("GET", "/models", None, 404, "not_found"),
        ("GET", "/v1/chat/completions", None, 405, "method_not_allowed"),
        ("POST", "/v1/embeddings", {"model": "e", "input": 3}, 400, "invalid_request_error"),
        ("POST", "/v1/chat/completions", {"model": "m"}, 400, "invalid_request_error"),
    ],
)
def test_bad_requests_get_openai_style_errors(
    upstream: FakeUpstream, method: str, path: str, body: Any, status: int, kind: str
) -> None:
    """Unknown paths, wrong methods and bad bodies get an error object."""
    got_status, _, data = call(upstream, method, path, body)
    error = json.loads(data)["error"]
    assert (status, kind) == (got_status, error["type"])
    assert isinstance(error["message"], str) and error["message"]


def test_prefix_moves_every_route_under_it() -> None:
    """With a prefix, routes live under it, and the bare /v1 path is a 404."""
    with FakeUpstream(prefix="/openai/") as upstream:
        assert upstream.url == f"http://127.0.0.1:{upstream.port}/openai"
        assert call(upstream, "GET", "/openai/v1/models")[0] == 200
        assert call(upstream, "GET", "/v1/models")[0] == 404


def test_port_before_start_is_an_error() -> None:
    """Asking for the port before start() raises RuntimeError."""
    with pytest.raises(RuntimeError):
        _ = FakeUpstream().port


# -- streaming as it happens -----------------------------------------------------------


def test_stream_arrives_while_the_server_still_waits_and_a_close_is_counted() -> None:
    """The first event is readable before the next is written; leaving counts a disconnect."""
    with FakeUpstream(stream_delay=30.0) as upstream:
        conn = connect(upstream)
        conn.request("POST", "/v1/chat/completions", json.dumps(chat_body("a b c", stream=True)))
        response = conn.getresponse()
        first = json.loads(read_event(response)[6:])
        assert first["choices"][0]["delta"]["content"] == "a"
        assert upstream.events_sent == 1
        conn.close()
        assert upstream.wait_for_disconnect(TIMEOUT)
        assert (upstream.events_sent, upstream.disconnects_mid_response) == (1, 1)
