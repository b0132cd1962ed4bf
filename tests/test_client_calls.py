"""PassthroughClient calls over real sockets: URLs, bodies, headers, timeouts, pool."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from passthrough_client import (
    APITimeoutError,
    ChatCompletion,
    Completion,
    ConfigError,
    EmbeddingsResponse,
    PassthroughClient,
    TimeoutConfig,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service, without retries."""
    with PassthroughClient(base_url=upstream.url, max_retries=0, environ={}) as client:
        yield client


def _last_json(upstream: FakeUpstream) -> Any:
    return upstream.requests[-1].json


# -- {api}: where the calls go ---------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        ("", ""),
        ("", "/"),
        ("", "/v1"),
        ("", "/v1/"),
        ("/openai", "/openai"),
        ("/openai", "/openai/"),
        ("/openai", "/openai/v1"),
    ],
)
def test_api_root_appends_v1_once(prefix: str, suffix: str) -> None:
    """``/v1`` is appended unless the path ends in it; a path prefix is kept."""
    with FakeUpstream(prefix=prefix) as upstream:
        client = PassthroughClient(base_url=upstream.origin + suffix, environ={})
        client.chat(model="fake-model", messages=MESSAGES)
        client.models()
    paths = [r.path for r in upstream.requests]
    assert [f"{prefix}/v1/chat/completions", f"{prefix}/v1/models"] == paths


def test_query_in_base_url_follows_the_endpoint(upstream: FakeUpstream) -> None:
    """A query string in ``base_url`` is kept, after the endpoint path."""
    client = PassthroughClient(base_url=upstream.url + "/v1?api-version=2", environ={})
    client.embeddings(model="fake-embedder", input="x")
    assert upstream.requests[-1].path == "/v1/embeddings?api-version=2"


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c: c.chat(model="fake-model", messages=MESSAGES), "/v1/chat/completions"),
        (lambda c: c.completions(model="fake-model", prompt="hi"), "/v1/completions"),
        (lambda c: c.embeddings(model="fake-embedder", input="hi"), "/v1/embeddings"),
        (lambda c: c.models(), "/v1/models"),
    ],
)
def test_each_call_uses_its_method_and_path(
    client: PassthroughClient, upstream: FakeUpstream, call: Any, path: str
) -> None:
    """chat, completions and embeddings POST; models GETs."""
    call(client)
    method = "GET" if path.endswith("models") else "POST"
    assert (method, path) == (upstream.requests[-1].method, upstream.requests[-1].path)


# -- bodies ----------------------------------------------------------------------------


def test_call_fields_form_the_body(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """The body holds the call's own fields and no ``stream`` key when not streaming."""
    client.completions(model="fake-model", prompt=["a", "b"])
    assert _last_json(upstream) == {"model": "fake-model", "prompt": ["a", "b"]}


def test_params_go_verbatim_without_top_level_none(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``**params`` are added as given; top-level ``None`` is omitted, nested kept."""
    fmt = {"type": "json_schema", "strict": None, "schema": {"a": [1, None]}}
    client.chat(
        model="fake-model", messages=MESSAGES, temperature=0.5, max_tokens=None, response_format=fmt
    )
    expected = {"model": "fake-model", "messages": MESSAGES, "temperature": 0.5}
    assert {**expected, "response_format": fmt} == _last_json(upstream)


def test_extra_body_is_merged_shallowly_over_params(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``extra_body`` keys replace params whole (no deep merge) and add new keys."""
    client.embeddings(
        model="fake-embedder",
        input="x",
        user={"id": 1, "team": "a"},
        extra_body={"user": {"id": 2}, "encoding_format": "float"},
    )
    assert _last_json(upstream) == {
        "model": "fake-embedder",
        "input": "x",
        "user": {"id": 2},
        "encoding_format": "float",
    }


def test_body_is_sent_with_a_content_length(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A POST body has ``Content-Length`` and is not chunked (some servers refuse that)."""
    client.chat(model="fake-model", messages=MESSAGES)
    sent = upstream.requests[-1]
    assert (str(len(sent.body)), None) == (
        sent.headers.get("Content-Length"),
        sent.headers.get("Transfer-Encoding"),
    )


def test_unserialisable_body_raises_type_error_before_traffic(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A parameter JSON cannot hold raises ``TypeError`` and nothing is sent."""
    with pytest.raises(TypeError, match="cannot be sent as JSON"):
        client.chat(model="fake-model", messages=MESSAGES, seed=object())
    assert upstream.requests == []


# -- responses -------------------------------------------------------------------------

VENDOR_CHAT = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "fake-model",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi", "reasoning_content": "think"},
            "finish_reason": "stop",
            "stop_reason": 42,
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    "prompt_logprobs": None,
    "kv_transfer_params": {"a": [1, 2]},
}
VENDOR_COMPLETION = {
    "id": "x",
    "object": "text_completion",
    "choices": [{"index": 0, "text": "t", "finish_reason": "length", "vendor": True}],
    "system_fingerprint": "fp",
}
VENDOR_EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0], "norm": 1.1}],
    "model": "fake-embedder",
    "usage": {"prompt_tokens": 1, "total_tokens": 1},
    "id": "embd-1",
}


@pytest.mark.parametrize(
    ("call", "body", "kind"),
    [
        (lambda c: c.chat(model="fake-model", messages=MESSAGES), VENDOR_CHAT, ChatCompletion),
        (lambda c: c.completions(model="m", prompt="p"), VENDOR_COMPLETION, Completion),
        (lambda c: c.embeddings(model="e", input="i"), VENDOR_EMBEDDINGS, EmbeddingsResponse),
    ],
)
def test_response_keeps_every_field_the_server_sent(
    client: PassthroughClient, upstream: FakeUpstream, call: Any, body: Any, kind: type
) -> None:
    """The typed response's ``to_dict()`` equals the JSON received, vendor fields included."""
    upstream.enqueue(Reply.json(200, body))
    result = call(client)
    assert (kind, body) == (type(result), result.to_dict())


def test_chat_response_fields_are_typed(client: PassthroughClient) -> None:
    """The echoed reply is reachable through the typed fields."""
    result = client.chat(model="fake-model", messages=MESSAGES)
    assert (
        result.choices[0].message.role,
        result.choices[0].message.content,
        result.choices[0].finish_reason,
    ) == ("assistant", "hello there", "stop")


# -- headers ---------------------------------------------------------------------------


def test_network_headers_are_sent_on_every_call(upstream: FakeUpstream) -> None:
    """``network.headers`` go out on POST and GET calls alike."""
    config = {"base_url": upstream.url, "network": {"headers": {"X-Team": "blue"}}}
    client = PassthroughClient(config, environ={})
    client.chat(model="fake-model", messages=MESSAGES)
    client.models()
    assert [r.headers.get("X-Team") for r in upstream.requests] == ["blue", "blue"]


def test_extra_headers_win_over_everything(upstream: FakeUpstream) -> None:
    """``extra_headers`` replace network headers, the API key and the content type."""
    config = {"base_url": upstream.url, "api_key": "sk-1", "network": {"headers": {"X-A": "0"}}}
    client = PassthroughClient(config, environ={})
    extra = {"authorization": "Token t", "content-type": "application/json; v=2", "x-a": "1"}
    client.chat(model="fake-model", messages=MESSAGES, extra_headers=extra)
    headers = upstream.requests[-1].headers
    got = [headers.get_all(n) for n in ("Authorization", "Content-Type", "X-A")]
    assert got == [["Token t"], ["application/json; v=2"], ["1"]]


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"Bad Name": "x"}, "extra_headers['Bad Name']"),
        ({"X-A": "a\nb"}, "extra_headers['X-A']"),
        ({"X-A": " padded"}, "extra_headers['X-A']"),
        ({"Content-Length": "5"}, "extra_headers['Content-Length']"),
        ({"X-A": 5}, "extra_headers['X-A']"),
    ],
)
def test_invalid_extra_headers_raise_before_traffic(
    client: PassthroughClient, upstream: FakeUpstream, extra: Any, where: str
) -> None:
    """A header that cannot be sent verbatim is a ConfigError naming it; nothing is sent."""
    with pytest.raises(ConfigError) as info:
        client.chat(model="fake-model", messages=MESSAGES, extra_headers=extra)
    assert (str(info.value).startswith(where), upstream.requests) == (True, [])


def test_streaming_call_asks_for_event_stream(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A streamed call sends ``Accept: text/event-stream`` and ``"stream": true``."""
    with client.chat(model="fake-model", messages=MESSAGES, stream=True) as stream:
        list(stream)
    sent = upstream.requests[-1]
    assert (sent.headers.get("Accept"), sent.json["stream"]) == ("text/event-stream", True)


# -- session, pool, timeouts -----------------------------------------------------------


def test_session_ignores_the_process_environment(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trust_env`` is off: a proxy in ``os.environ`` is not used when ``environ={}``."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    client = PassthroughClient(base_url=upstream.url, environ={}, max_retries=0)
    client.models()
    assert (client.session.trust_env, len(upstream.requests)) == (False, 1)


def test_calls_share_one_kept_alive_connection(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """Sequential calls reuse the session's pooled connection."""
    client.chat(model="fake-model", messages=MESSAGES)
    client.embeddings(model="fake-embedder", input="x")
    client.models()
    assert {1} == {r.connection_id for r in upstream.requests}


def test_default_timeouts_are_10_and_600_seconds(client: PassthroughClient) -> None:
    """Without configuration the connect timeout is 10 s and the read timeout 600 s."""
    timeout = client._sender.timeout_for(None)
    assert (timeout.connect, timeout.read) == (10.0, 600.0)


@pytest.mark.parametrize("timeout", [0.3, {"read": 0.3}, {"connect": 5, "read": 0.3}])
def test_configured_read_timeout_cuts_a_silent_server(upstream: FakeUpstream, timeout: Any) -> None:
    """``network.timeout`` (a float or its read part) bounds the wait for an answer."""
    config = {"base_url": upstream.url, "network": {"timeout": timeout}}
    client = PassthroughClient(config, environ={})
    upstream.enqueue(Reply.hang(3))
    with pytest.raises(APITimeoutError, match="read timeout"):
        client.models()


@pytest.mark.parametrize("timeout", [0.3, (5.0, 0.3), TimeoutConfig(read=0.3)])
def test_call_timeout_replaces_the_configured_one(
    client: PassthroughClient, upstream: FakeUpstream, timeout: Any
) -> None:
    """A call's ``timeout=`` (float, pair or TimeoutConfig) applies to that call."""
    upstream.enqueue(Reply.hang(3))
    with pytest.raises(APITimeoutError):
        client.chat(model="fake-model", messages=MESSAGES, timeout=timeout)


def test_call_timeout_may_be_longer_than_the_configured_one(upstream: FakeUpstream) -> None:
    """A generous per-call timeout lets a slow answer through a short configured one."""
    config = {"base_url": upstream.url, "network": {"timeout": 0.2}}
    client = PassthroughClient(config, environ={}, max_retries=0)
    upstream.enqueue(Reply.json(200, VENDOR_CHAT, delay=0.5))
    assert client.chat(model="m", messages=MESSAGES, timeout=5).choices[0].message.content == "hi"


@pytest.mark.parametrize(
    "timeout", [0, -1, "1", True, (1.0,), (1.0, 0), float("nan"), float("inf")]
)
def test_invalid_call_timeout_raises_before_traffic(
    client: PassthroughClient, upstream: FakeUpstream, timeout: Any
) -> None:
    """A per-call timeout that is not seconds > 0 is a ConfigError; nothing is sent."""
    with pytest.raises(ConfigError, match=r"^timeout: "):
        client.models(timeout=timeout)
    assert upstream.requests == []


@pytest.mark.parametrize("deadline", [0, -2.5, "5", True, float("nan")])
def test_invalid_deadline_raises_before_traffic(
    client: PassthroughClient, upstream: FakeUpstream, deadline: Any
) -> None:
    """A deadline that is not seconds > 0 is a ConfigError; nothing is sent."""
    with pytest.raises(ConfigError, match=r"^deadline: "):
        client.chat(model="fake-model", messages=MESSAGES, deadline=deadline)
    assert upstream.requests == []


# -- lifecycle -------------------------------------------------------------------------


def test_leaving_the_context_closes_pooled_connections(upstream: FakeUpstream) -> None:
    """After ``with`` ends, the next call needs a new connection."""
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        client.models(refresh=True)
    client.models(refresh=True)
    assert [r.connection_id for r in upstream.requests] == [1, 2]


def test_repr_shows_the_url_but_never_the_key(upstream: FakeUpstream) -> None:
    """The repr names the service and whether a key is set, not the key or query."""
    url = upstream.url + "/v1?sig=query-secret"
    client = PassthroughClient(base_url=url, api_key="sk-repr-secret", environ={})
    text = repr(client)
    assert (
        upstream.url in text,
        "sk-repr-secret" in text,
        "query-secret" in text,
    ) == (True, False, False)


def test_config_without_base_url_is_valid_until_a_call(upstream: FakeUpstream) -> None:
    """``PassthroughClient({})`` builds; its calls need ``passthrough_url``."""
    client = PassthroughClient({}, environ={})
    with pytest.raises(ConfigError, match="passthrough_url"):
        client.models()
    assert "(from provider data)" in repr(client)


def test_no_config_reads_the_environment(upstream: FakeUpstream) -> None:
    """Without a config, ``PASSTHROUGH_URL`` and ``PASSTHROUGH_API_KEY`` are used."""
    environ = {"PASSTHROUGH_URL": upstream.url, "PASSTHROUGH_API_KEY": "sk-env"}
    PassthroughClient(environ=environ).models()
    assert upstream.requests[-1].headers.get("Authorization") == "Bearer sk-env"


def test_no_config_and_no_url_is_a_config_error() -> None:
    """Without a config, ``PASSTHROUGH_URL`` and ``base_url=``, construction fails."""
    with pytest.raises(ConfigError, match="PASSTHROUGH_URL"):
        PassthroughClient(environ={})


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_retries", -1), ("max_retries", True), ("pool_maxsize", 0), ("refresh_interval", 0)],
)
def test_invalid_client_options_are_config_errors(option: str, value: Any) -> None:
    """Bad ``max_retries``, ``pool_maxsize`` or ``refresh_interval`` raise ConfigError."""
    with pytest.raises(ConfigError, match=rf"^{option}: "):
        PassthroughClient(base_url="http://127.0.0.1:9", environ={}, **{option: value})
