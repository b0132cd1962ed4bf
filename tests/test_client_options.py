"""Per-call ``max_retries`` and ``with_options`` copies that share pool and model cache."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from passthrough_client import (
    APITimeoutError,
    ConfigError,
    PassthroughClient,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]
BUSY = Reply.json(503, {"error": {"message": "busy"}}, headers={"retry-after-ms": "1"})


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client with the default two retries."""
    with PassthroughClient(base_url=upstream.url, max_retries=2, environ={}) as client:
        yield client


def test_per_call_max_retries_overrides_the_clients(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """``max_retries=0`` sends once; ``max_retries=4`` sends five times."""
    upstream.enqueue(BUSY, times=10)
    with pytest.raises(Exception, match="busy"):
        client.chat(model="m", messages=MESSAGES, max_retries=0)
    assert len(upstream.requests) == 1
    with pytest.raises(Exception, match="busy"):
        client.embeddings(model="m", input="x", max_retries=4)
    assert len(upstream.requests) == 6


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_bad_max_retries_is_a_config_error(client: PassthroughClient, value: Any) -> None:
    """A per-call ``max_retries`` that is not a whole number >= 0 is refused."""
    with pytest.raises(ConfigError, match="max_retries"):
        client.models(max_retries=value, refresh=True)
    with pytest.raises(ConfigError, match="max_retries"):
        client.with_options(max_retries=value)


def test_copy_shares_the_connection_pool(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """Calls of the original and of copies use one keep-alive connection; closing a copy
    leaves the pool open."""
    client.chat(model="m", messages=MESSAGES)
    copy = client.with_options(timeout=30.0, max_retries=0, extra_headers={"X-A": "1"})
    copy.chat(model="m", messages=MESSAGES)
    copy.with_options(timeout=5.0).embeddings(model="m", input="x")
    copy.close()
    with copy:
        pass
    client.chat(model="m", messages=MESSAGES)
    assert upstream.connections_opened == 1
    assert copy.session is client.session


def test_copy_shares_the_model_cache(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """A model list fetched by the original is reused by a copy."""
    client.models()
    client.with_options(max_retries=1).models()
    assert len([r for r in upstream.requests if r.path == "/v1/models"]) == 1


def test_copy_retries_and_timeout_apply(client: PassthroughClient, upstream: FakeUpstream) -> None:
    """The copy's ``max_retries`` and ``timeout`` are used unless the call gives its own."""
    upstream.enqueue(BUSY, times=3)
    copy = client.with_options(max_retries=0)
    with pytest.raises(Exception, match="busy"):
        copy.chat(model="m", messages=MESSAGES)
    assert len(upstream.requests) == 1
    with pytest.raises(Exception, match="busy"):
        copy.chat(model="m", messages=MESSAGES, max_retries=1)
    assert len(upstream.requests) == 3
    upstream.clear()
    upstream.enqueue(Reply.hang(10.0), times=1)  # it ends when the client gives up
    slow = client.with_options(timeout=0.3)
    with pytest.raises(APITimeoutError):
        slow.chat(model="m", messages=MESSAGES)


def test_headers_merge_per_name_in_any_case(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """The call's header wins over the copy's (any case); chained copies accumulate."""
    first = client.with_options(extra_headers={"X-A": "copy", "X-B": "copy"})
    second = first.with_options(extra_headers={"x-b": "later", "X-C": "later"})
    second.chat(model="m", messages=MESSAGES, extra_headers={"x-a": "call"})
    headers = upstream.requests[-1].headers
    assert headers.get_all("x-a") == ["call"]
    assert headers.get_all("x-b") == ["later"]
    assert headers.get("x-c") == "later"
    client.chat(model="m", messages=MESSAGES)
    assert upstream.requests[-1].headers.get("x-a") is None  # the original is unchanged


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"extra_headers": {"Bad Name": "x"}}, "extra_headers"),
        ({"extra_headers": {"Host": "x"}}, "extra_headers"),
        ({"extra_headers": "X-A: 1"}, "extra_headers"),
    ],
)
def test_bad_options_are_config_errors(
    client: PassthroughClient, options: dict[str, Any], field: str
) -> None:
    """Invalid copy options raise ``ConfigError`` naming the option."""
    with pytest.raises(ConfigError, match=field):
        client.with_options(**options)
