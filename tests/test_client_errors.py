"""The error tree from real responses and sockets: statuses, details, redirects, pickling."""

from __future__ import annotations

import logging
import pickle
import socket
from typing import Any, Iterator

import pytest

from passthrough_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PassthroughClient,
    PassthroughError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service, without retries."""
    with PassthroughClient(base_url=upstream.url, max_retries=0, environ={}) as client:
        yield client


def _status_error(client: PassthroughClient) -> APIStatusError:
    with pytest.raises(APIStatusError) as info:
        client.chat(model="fake-model", messages=MESSAGES)
    return info.value


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- status -> class -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (402, APIStatusError),
        (410, APIStatusError),
        (418, APIStatusError),
    ],
)
def test_status_maps_to_its_exception_class(
    client: PassthroughClient, upstream: FakeUpstream, status: int, kind: type
) -> None:
    """Each error status raises its own class (other 4xx: APIStatusError itself)."""
    upstream.enqueue(Reply.json(status, {"error": {"message": "no"}}))
    error = _status_error(client)
    assert (type(error), error.status_code) == (kind, status)


# -- details ---------------------------------------------------------------------------


def test_message_comes_from_error_message(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``.message`` is ``error.message``; ``str()`` adds the status."""
    upstream.enqueue(Reply.json(400, {"error": {"message": "bad temperature", "code": 1}}))
    error = _status_error(client)
    assert (error.message, str(error)) == ("bad temperature", "HTTP 400: bad temperature")


@pytest.mark.parametrize(
    "text",
    ['{"detail": "not here"}', '{"error": "flat"}', '{"error": {"message": 5}}', "plain words"],
)
def test_message_falls_back_to_the_body_text(
    client: PassthroughClient, upstream: FakeUpstream, text: str
) -> None:
    """Without a string ``error.message`` the message is the body text."""
    upstream.enqueue(Reply.text(422, text))
    assert _status_error(client).message == text


def test_long_body_text_is_cut_to_1000_characters(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """The message keeps the first 1000 characters; ``.body`` keeps everything."""
    upstream.enqueue(Reply.text(500, "x" * 3000, content_type="text/plain"))
    error = _status_error(client)
    assert (error.message, error.body) == ("x" * 1000, "x" * 3000)


def test_body_is_the_parsed_json(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """``.body`` is the whole decoded JSON document."""
    body = {"error": {"message": "m", "type": "t"}, "extra": [1, None]}
    upstream.enqueue(Reply.json(409, body))
    assert _status_error(client).body == body


@pytest.mark.parametrize(
    ("headers", "expected"), [({"x-request-id": "req-42"}, "req-42"), ({}, None)]
)
def test_request_id_comes_from_x_request_id(
    client: PassthroughClient, upstream: FakeUpstream, headers: Any, expected: Any
) -> None:
    """``.request_id`` is the ``x-request-id`` header, ``None`` without it."""
    upstream.enqueue(Reply.json(404, {}, headers=headers))
    assert _status_error(client).request_id == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
def test_retry_after_is_read_in_seconds(
    client: PassthroughClient, upstream: FakeUpstream, headers: Any, expected: Any
) -> None:
    """``.retry_after`` is the wait the service asked for, as float seconds."""
    upstream.enqueue(Reply.json(400, {}, headers=headers))
    assert _status_error(client).retry_after == expected


# -- connection failures ---------------------------------------------------------------


def test_refused_connection_says_so_with_host_and_port() -> None:
    """A closed port gives APIConnectionError naming "refused" and ``host:port``."""
    port = _closed_port()
    client = PassthroughClient(base_url=f"http://127.0.0.1:{port}", max_retries=0, environ={})
    with pytest.raises(APIConnectionError) as info:
        client.models()
    error = info.value
    assert (type(error), "refused" in str(error), f"127.0.0.1:{port}" in str(error)) == (
        APIConnectionError,
        True,
        True,
    )


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply.drop(), "closed the connection"),
        (Reply.drop(reset=True), "reset"),
        (Reply.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}"), "broke"),
        (Reply.raw(b"garbage\r\n\r\n"), "broke"),
    ],
)
def test_broken_connection_says_what_failed(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply, words: str
) -> None:
    """Faults on a fresh connection are APIConnectionError in words, with the cause chained."""
    upstream.enqueue(reply)
    with pytest.raises(APIConnectionError) as info:
        client.chat(model="fake-model", messages=MESSAGES)
    error = info.value
    text = str(error)
    assert (words in text, f"127.0.0.1:{upstream.port}" in text, error.__cause__ is not None) == (
        True,
        True,
        True,
    )


def test_silent_server_is_a_timeout_in_words(upstream: FakeUpstream) -> None:
    """A read timeout is APITimeoutError naming the server and the read timeout."""
    client = PassthroughClient(base_url=upstream.url, max_retries=0, environ={})
    upstream.enqueue(Reply.hang(3))
    with pytest.raises(APITimeoutError) as info:
        client.models(timeout=0.3)
    assert (f"127.0.0.1:{upstream.port}" in str(info.value), "read timeout" in str(info.value)) == (
        True,
        True,
    )


# -- invalid responses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply.text(200, "A" * 5000),
        Reply.text(200, ""),
        Reply.json(200, ["A" * 5000]),
        Reply.json(200, {"choices": "A" * 5000}),
        Reply.json(200, {"choices": [{"message": "A" * 5000}]}),
        Reply.json(200, {"id": 5, "choices": []}),
    ],
)
def test_unusable_body_is_invalid_response_with_short_snippet(
    client: PassthroughClient, upstream: FakeUpstream, reply: Reply
) -> None:
    """A 200 body that is not JSON or has the wrong shape quotes at most 200 characters."""
    upstream.enqueue(reply)
    with pytest.raises(InvalidResponseError) as info:
        client.chat(model="fake-model", messages=MESSAGES)
    assert str(info.value).count("A") <= 200


def test_embeddings_with_wrong_shape_is_invalid_response(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``data`` that is not a list raises InvalidResponseError for embeddings too."""
    upstream.enqueue(Reply.json(200, {"data": {"embedding": [1]}}))
    with pytest.raises(InvalidResponseError):
        client.embeddings(model="fake-embedder", input="x")


# -- pickling --------------------------------------------------------------------------


def test_status_error_pickles_without_the_response(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Status code, message, body, request id and retry-after survive; the response doesn't."""
    body = {"error": {"message": "slow down"}}
    upstream.enqueue(Reply.json(429, body, headers={"x-request-id": "r1", "Retry-After": "90"}))
    error = _status_error(client)
    copy = pickle.loads(pickle.dumps(error))
    fields = ("status_code", "message", "body", "request_id", "retry_after")
    assert (type(copy), [getattr(copy, f) for f in fields], copy.response, str(copy)) == (
        RateLimitError,
        [429, "slow down", body, "r1", 90.0],
        None,
        str(error),
    )


@pytest.mark.parametrize(
    "reply",
    [Reply.drop(), Reply.text(200, "not json"), Reply.hang(3)],
    ids=["conn", "json", "timeout"],
)
def test_other_errors_pickle_with_their_message(upstream: FakeUpstream, reply: Reply) -> None:
    """Connection, timeout and invalid-response errors keep class and message."""
    client = PassthroughClient(base_url=upstream.url, max_retries=0, environ={})
    upstream.enqueue(reply)
    with pytest.raises((APIConnectionError, InvalidResponseError)) as info:
        client.models(timeout=0.3)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (type(copy), str(copy)) == (type(info.value), str(info.value))


# -- secret canary ---------------------------------------------------------------------

CANARY_KEY = "sk-CANARY-KEY-1234"
CANARY_TOKEN = "tok-CANARY-5678"
DATA = {"token": CANARY_TOKEN, "passthrough_api_key": CANARY_KEY}
FAST = {"retry-after-ms": "1"}


@pytest.fixture(name="canary_log")
def fixture_canary_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger at DEBUG; at teardown, no canary may be in any record."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    # caplog.text holds only the current phase (teardown): format the call's records.
    form = logging.Formatter("%(name)s %(levelname)s %(message)s")
    text = "\n".join(form.format(r) for when in ("setup", "call") for r in caplog.get_records(when))
    assert [c for c in (CANARY_KEY, CANARY_TOKEN) if c in text] == []


def _chat(client: PassthroughClient, **kwargs: Any) -> Any:
    return client.chat(model="fake-model", messages=MESSAGES, provider_data=DATA, **kwargs)


def _stream(client: PassthroughClient) -> Any:
    return list(client.chat(model="fake-model", messages=MESSAGES, provider_data=DATA, stream=True))


_CLOSED = _closed_port()
_ELSEWHERE = f"http://127.0.0.1:{_CLOSED}"
SCENARIOS: dict[str, tuple[list[Reply], dict[str, Any], Any]] = {
    "status": ([Reply.json(401, {"error": {"message": "no"}})], {}, _chat),
    "retried": ([Reply.json(503, {}, headers=FAST)] * 2, {}, _chat),
    "refused": ([], {"base_url": _ELSEWHERE}, _chat),
    "read-timeout": ([Reply.hang(3)], {}, lambda c: _chat(c, timeout=0.3)),
    "deadline": ([Reply.hang(3)], {}, lambda c: _chat(c, deadline=0.3)),
    "dropped": ([Reply.drop()], {}, _chat),
    "not-json": ([Reply.text(200, "<html>")], {}, _chat),
    "bad-shape": ([Reply.json(200, {"choices": 1})], {}, _chat),
    "redirect": ([Reply.redirect(307, _ELSEWHERE + "/v1/chat/completions")], {}, _chat),
    "stream-event": ([Reply.sse(['data: {"error": {"message": "x"}}\n\n'])], {}, _stream),
    "stream-cut": ([Reply.sse(['data: {"id"'], end="drop")], {}, _stream),
    "model": ([], {"allowed_models": ["other"]}, _chat),
    "no-url": ([], {"base_url": None}, _chat),
    "bad-token": ([], {}, lambda c: c.models(provider_data={"token": CANARY_TOKEN + "\n"})),
    "bad-key": (
        [],
        {},
        lambda c: c.models(provider_data={"passthrough_api_key": CANARY_KEY + " "}),
    ),
    "bad-header": ([], {}, lambda c: _chat(c, extra_headers={"X-T": CANARY_TOKEN + "\x00"})),
}


def _texts(error: BaseException) -> list[str]:
    """str, repr and args of the error and everything chained to it."""
    texts = []
    current: Any = error
    while current is not None and len(texts) < 60:
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_secrets_never_appear_in_errors_reprs_or_logs(
    upstream: FakeUpstream, canary_log: pytest.LogCaptureFixture, scenario: str
) -> None:
    """Each error kind, with a key and a forwarded token in play, shows neither."""
    replies, overrides, call = SCENARIOS[scenario]
    for reply in replies:
        upstream.enqueue(reply)
    config = {"base_url": upstream.url, "api_key": CANARY_KEY, "forward_headers": {"token": "X-T"}}
    client = PassthroughClient({**config, **overrides}, max_retries=1, environ={})
    with pytest.raises(PassthroughError) as info:
        call(client)
    shown = [*_texts(info.value), repr(client), repr(client.config)]
    assert [c for c in (CANARY_KEY, CANARY_TOKEN) if any(c in t for t in shown)] == []


def test_canary_secrets_do_reach_the_service(
    upstream: FakeUpstream, canary_log: pytest.LogCaptureFixture
) -> None:
    """The canaries are really sent (so the leak checks above test something)."""
    config = {"forward_headers": {"token": "X-T"}}
    PassthroughClient(config, environ={}).models(
        provider_data={**DATA, "passthrough_url": upstream.url}
    )
    sent = upstream.requests[-1].headers
    assert (sent.get("Authorization"), sent.get("X-T")) == (f"Bearer {CANARY_KEY}", CANARY_TOKEN)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_error_kind_pickles(upstream: FakeUpstream, scenario: str) -> None:
    """Each error kind raised by a call survives pickling with its class and text."""
    replies, overrides, call = SCENARIOS[scenario]
    for reply in replies:
        upstream.enqueue(reply)
    config = {"base_url": upstream.url, "forward_headers": {"token": "X-T"}, **overrides}
    with pytest.raises(PassthroughError) as info:
        call(PassthroughClient(config, max_retries=0, environ={}))
    copy = pickle.loads(pickle.dumps(info.value))
    assert (type(copy), str(copy)) == (type(info.value), str(info.value))
