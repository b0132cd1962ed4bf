"""Property tests over what callers and servers control, through real sockets.

Provider data (with ``forward_headers``) sent by real calls, server-sent event streams
served to ``chat(stream=True)``, and response JSON of every shape served to every call.
One FakeUpstream and one client per module; each example is one real HTTP exchange.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Iterator, List, Mapping, Optional

import pytest
from fuzzing import examples
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from passthrough_client import (
    APIConnectionError,
    APIStatusError,
    ChatCompletion,
    ChatCompletionChunk,
    InvalidResponseError,
    PassthroughClient,
    ProviderDataError,
    StreamError,
)
from passthrough_client.testing import FakeUpstream, Reply

# The environment-cleaning autouse fixture runs once per test, which is all it needs.
FUZZ = settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
MESSAGES = [{"role": "user", "content": "hi"}]
FORWARD = {"tenant": "X-Tenant", "token": "Authorization", "team": "x-tenant", "n": "X-Number"}
CONTROL = set(map(chr, [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]))
EDGES = ["\r", "\n", "\r\n", "\x00", "\t", "\x7f", "\x85", "\u2028", "\u2029", "\xa0", "\u0100"]
EDGES += ["é", " ", "\U0001f600", ":", ";", ","]
LONG = ["a" * 8192, "a" * 8193, "é" * 4096, "é" * 4097, ""]


@pytest.fixture(name="upstream", scope="module")
def fixture_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(name="client", scope="module")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    config = {"base_url": upstream.url, "forward_headers": FORWARD, "network": {"timeout": 10.0}}
    with PassthroughClient(config, max_retries=0, environ={}) as client:
        yield client


@pytest.fixture(name="baseline", scope="module")
def fixture_baseline(client: PassthroughClient, upstream: FakeUpstream) -> frozenset:
    """The header names of a call without provider data (lower case)."""
    upstream.clear()
    client.chat(model="fake-model", messages=MESSAGES)
    return frozenset(name.lower() for name, _ in upstream.requests[-1].headers)


# -- provider data ---------------------------------------------------------------------

safe_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)
edged_text = st.builds(lambda a, e, b: a + e + b, safe_text, st.sampled_from(EDGES), safe_text)
texts = st.one_of(safe_text, st.text(max_size=12), edged_text, st.sampled_from(LONG))
values = st.one_of(
    texts,
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
data_keys = st.one_of(st.sampled_from([*FORWARD, "other", "__user", "Tenant"]), st.text(max_size=5))
provider_data = st.dictionaries(data_keys, values, max_size=6)


def sendable(text: str) -> bool:
    """Whether ``text`` may leave verbatim as a header value (DESIGN §4)."""
    return (
        not CONTROL.intersection(text)
        and text == text.strip()
        and all(ord(c) <= 0xFF for c in text)
        and len(text.encode("utf-8")) <= 8192
    )


def rendered(value: Any) -> Optional[str]:
    """A value's header text (JSON spelling for numbers), or ``None`` when it has none."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return json.dumps(value)
    return None


def expected_headers(data: Mapping[str, Any]) -> Optional[Dict[str, str]]:
    """The forwarded headers (lower-case names) the data must produce; ``None``: refused."""
    headers: Dict[str, str] = {}
    api_key = data.get("passthrough_api_key")
    if api_key is not None and not sendable(api_key):
        return None
    for key, name in FORWARD.items():
        if data.get(key) is None:
            continue
        text = rendered(data[key])
        if text is None or not sendable(text):
            return None
        headers[name.lower()] = text
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


@FUZZ
@given(data=provider_data, api_key=st.none() | texts, as_text=st.booleans())
def test_provider_data_is_forwarded_exactly_or_refused_before_sending(
    client: PassthroughClient,
    upstream: FakeUpstream,
    baseline: frozenset,
    data: Dict[str, Any],
    api_key: Optional[str],
    as_text: bool,
) -> None:
    """Provider data sends exactly the expected headers, or raises with nothing sent."""
    if api_key is not None:
        data["passthrough_api_key"] = api_key
    expected = expected_headers(data)
    upstream.clear()
    given_data: Any = json.dumps(data) if as_text else data
    event("refused" if expected is None else f"forwarded {len(expected)} headers")
    if expected is None:
        with pytest.raises(ProviderDataError):
            client.chat(model="fake-model", messages=MESSAGES, provider_data=given_data)
        assert upstream.requests == []
        return
    client.chat(model="fake-model", messages=MESSAGES, provider_data=given_data)
    (request,) = upstream.requests
    assert baseline | set(expected) == {name.lower() for name, _ in request.headers}
    for name, value in expected.items():
        assert [value] == request.headers.get_all(name)


# -- server-sent events ----------------------------------------------------------------

FRAGMENTS = [b"data: ", b"data:", b"\n", b"\r\n", b"\r", b"\n\n", b"{", b"}", b'"error"', b":"]
FRAGMENTS += [b"[DONE]", b"event: error\n", b"id: 1\n", b"\xef\xbb\xbf", b"\xff", b'{"choices":[']
FRAGMENTS += [b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n']
stream_pieces = st.lists(st.one_of(st.binary(max_size=24), st.sampled_from(FRAGMENTS)), max_size=20)
ends = st.sampled_from(["complete", "drop", "reset"])
ALLOWED = (StreamError, InvalidResponseError, APIConnectionError)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False)
)
json_scalars |= st.text(max_size=4)
CHUNK_KEYS = ["id", "object", "created", "model", "choices", "usage", "index", "delta", "role"]
CHUNK_KEYS += ["content", "finish_reason", "tool_calls", "function", "name", "arguments", "type"]
CHUNK_KEYS += ["text", "error", "message", "data", "embedding", "owned_by", "total_tokens", "x"]
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(CHUNK_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from(CHUNK_KEYS), json_values, max_size=5)
# Objects with a list of objects where the types expect one, so that shapes often fit.
enveloped = st.builds(
    lambda key, items, rest: {**rest, key: items},
    st.sampled_from(["choices", "data"]),
    st.lists(json_objects, max_size=3),
    json_objects,
)
json_bodies = enveloped | json_objects | json_values


def consume(client: PassthroughClient) -> List[ChatCompletionChunk]:
    """Stream one chat call to its end; the chunks, then ``collect()`` must work too."""
    with client.chat(model="fake-model", messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
        assert isinstance(stream.collect(), ChatCompletion)
    assert all(isinstance(chunk, ChatCompletionChunk) for chunk in chunks)
    return chunks


@FUZZ
@given(pieces=stream_pieces, chunked=st.booleans(), end=ends)
def test_arbitrary_stream_bytes_give_chunks_or_a_typed_error(
    client: PassthroughClient, upstream: FakeUpstream, pieces: List[bytes], chunked: bool, end: str
) -> None:
    """Any bytes served as an event stream give chunks or a stream/response/connection error."""
    upstream.enqueue(Reply.sse(pieces, chunked=chunked, end=end))  # type: ignore[arg-type]
    try:
        event(f"{len(consume(client))} chunks")
    except ALLOWED as exc:
        event(type(exc).__name__)
    assert upstream.pending_replies == 0


def as_events(payloads: List[Any], done: bool) -> List[str]:
    """One ``data:`` event per payload, then ``[DONE]`` when ``done``."""
    lines = [f"data: {json.dumps(p)}\n\n" for p in payloads]
    return [*lines, "data: [DONE]\n\n"] if done else lines


@FUZZ
@given(payloads=st.lists(json_bodies, max_size=6), done=st.booleans())
def test_arbitrary_event_payloads_give_exact_chunks_or_a_typed_error(
    client: PassthroughClient, upstream: FakeUpstream, payloads: List[Any], done: bool
) -> None:
    """Events of any JSON shape give chunks equal to their payloads, or a typed error."""
    upstream.enqueue(Reply.sse(as_events(payloads, done)))
    try:
        chunks = consume(client)
    except StreamError:
        event("StreamError")
        assert any(isinstance(p, dict) and p.get("error") for p in payloads)
        return
    except InvalidResponseError:
        event("InvalidResponseError")
        return
    event(f"{len(chunks)} chunks")
    assert payloads == [chunk.to_dict() for chunk in chunks]


# -- response bodies -------------------------------------------------------------------


def fetch(client: PassthroughClient, endpoint: str) -> Any:
    """Call ``endpoint``; the result as plain JSON (``to_dict``) for comparison."""
    if endpoint == "models":
        return {"data": [m.to_dict() for m in client.models(refresh=True)]}
    if endpoint == "chat":
        return client.chat(model="fake-model", messages=MESSAGES).to_dict()
    if endpoint == "completions":
        return client.completions(model="fake-model", prompt="hi").to_dict()
    return client.embeddings(model="fake-embedder", input="hi").to_dict()


PATHS = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
    "models": "/v1/models",
}


@FUZZ
@pytest.mark.parametrize("endpoint", list(PATHS))
@given(body=json_bodies)
def test_any_response_json_gives_an_exact_result_or_invalid_response(
    client: PassthroughClient, upstream: FakeUpstream, endpoint: str, body: Any
) -> None:
    """Any JSON body gives a result equal to what was received, or ``InvalidResponseError``."""
    upstream.enqueue(Reply.text(200, json.dumps(body), content_type="application/json"))
    try:
        result = fetch(client, endpoint)
    except InvalidResponseError:
        event("InvalidResponseError")
        return
    finally:
        assert upstream.pending_replies == 0
    event("result")
    expected = {"data": body.get("data")} if endpoint == "models" else body
    assert expected == result


# -- redirects -------------------------------------------------------------------------

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=24
)
location_heads = st.sampled_from(
    ["", "/", "//", "/v1/", "http://", "https://", "http://[", "ftp://", "{origin}", "{origin}/v1/"]
)
locations = st.builds(lambda head, tail: head + tail, location_heads, header_text)


@FUZZ
@given(location=locations, status=st.sampled_from([301, 302, 303, 307, 308]))
def test_any_redirect_location_gives_a_result_or_a_status_error(
    client: PassthroughClient, upstream: FakeUpstream, location: str, status: int
) -> None:
    """Whatever a redirect's Location says: a result (same origin) or ``APIStatusError``."""
    upstream.enqueue(Reply.redirect(status, location.replace("{origin}", upstream.origin)))
    try:
        client.chat(model="fake-model", messages=MESSAGES)
        event("followed")
    except APIStatusError as exc:
        event(f"HTTP {exc.status_code}")
    assert upstream.pending_replies == 0
