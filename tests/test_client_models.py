"""``allowed_models`` and the model-list cache, over real sockets."""

from __future__ import annotations

import logging
import threading
import time
import types
from typing import Any, Callable, Iterator

import pytest

from passthrough_client import (
    InternalServerError,
    InvalidResponseError,
    Model,
    ModelNotAllowedError,
    PassthroughClient,
    _models,
)
from passthrough_client.testing import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]
MODELS_PATH = "/v1/models"
BUSY = Reply.json(500, {"error": {"message": "listing failed"}})


@pytest.fixture(name="upstream")
def fixture_upstream() -> Iterator[FakeUpstream]:
    """A fake service listing four models."""
    with FakeUpstream(models=("c", "a", "b", "d")) as upstream:
        yield upstream


def _client(upstream: FakeUpstream, **config: Any) -> PassthroughClient:
    interval = config.pop("refresh_interval", 300.0)
    return PassthroughClient(
        {"base_url": upstream.url, **config},
        max_retries=0,
        refresh_interval=interval,
        environ={},
    )


def _listings(upstream: FakeUpstream) -> int:
    return sum(r.path == MODELS_PATH for r in upstream.requests)


def _ids(models: list[Model]) -> list[Any]:
    return [m.id for m in models]


# -- allowed_models --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [(None, ["c", "a", "b", "d"]), (["b", "c", "zz"], ["c", "b"]), ([], [])],
)
def test_models_lists_only_allowed_models_in_service_order(
    upstream: FakeUpstream, allowed: Any, expected: list[str]
) -> None:
    """``models()`` keeps the service's order and drops models that are not allowed."""
    assert _ids(_client(upstream, allowed_models=allowed).models()) == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.chat(model="a", messages=MESSAGES),
        lambda c: c.chat(model="a", messages=MESSAGES, stream=True),
        lambda c: c.completions(model="a", prompt="p"),
        lambda c: c.embeddings(model="a", input="i"),
        lambda c: c.chat(model="b", messages=MESSAGES, extra_body={"model": "a"}),
    ],
)
def test_model_outside_allowed_models_raises_before_traffic(
    upstream: FakeUpstream, call: Callable[[PassthroughClient], Any]
) -> None:
    """Every generating call checks the model actually sent; nothing reaches the server."""
    client = _client(upstream, allowed_models=["b", "c"])
    with pytest.raises(ModelNotAllowedError) as info:
        call(client)
    assert (info.value.model, info.value.allowed, upstream.requests) == ("a", ("b", "c"), [])


def test_allowed_model_goes_through(upstream: FakeUpstream) -> None:
    """A listed model is sent as usual."""
    _client(upstream, allowed_models=["b"]).completions(model="b", prompt="p")
    assert upstream.requests[-1].json["model"] == "b"


def test_model_error_lists_the_allowed_models(upstream: FakeUpstream) -> None:
    """The message names the refused model and every allowed one."""
    with pytest.raises(ModelNotAllowedError) as info:
        _client(upstream, allowed_models=["b", "c"]).embeddings(model="x", input="i")
    assert all(name in str(info.value) for name in ("'x'", "'b'", "'c'"))


def test_listed_models_keep_vendor_fields(upstream: FakeUpstream) -> None:
    """Each ``Model.to_dict()`` equals the item the service sent."""
    item = {"id": "m", "object": "model", "created": 5, "owned_by": "o", "max_model_len": 8192}
    upstream.enqueue(Reply.json(200, {"object": "list", "data": [item]}))
    assert [m.to_dict() for m in _client(upstream).models()] == [item]


@pytest.mark.parametrize(
    "body", [[], {"object": "list"}, {"data": "x"}, {"data": [1]}, {"data": [{"id": 5}]}]
)
def test_malformed_model_list_is_an_invalid_response(upstream: FakeUpstream, body: Any) -> None:
    """A list without a ``data`` list of objects raises InvalidResponseError."""
    upstream.enqueue(Reply.json(200, body))
    with pytest.raises(InvalidResponseError):
        _client(upstream).models()


# -- cache without refresh_models ------------------------------------------------------


def test_models_are_listed_once(upstream: FakeUpstream) -> None:
    """Without ``refresh_models`` the first list is reused."""
    client = _client(upstream)
    first, second = client.models(), client.models()
    assert (_ids(first), _ids(second), _listings(upstream)) == (["c", "a", "b", "d"],) * 2 + (1,)


def test_returned_list_is_a_copy(upstream: FakeUpstream) -> None:
    """Changing a returned list does not change the cache."""
    client = _client(upstream)
    client.models().clear()
    assert len(client.models()) == 4


def test_concurrent_first_calls_make_one_request(upstream: FakeUpstream) -> None:
    """16 threads asking at once share a single listing."""
    client = _client(upstream)
    upstream.enqueue(Reply.json(200, {"data": [{"id": "slow"}]}, delay=0.3), path=MODELS_PATH)
    barrier = threading.Barrier(16)
    results: list[list[Any]] = []

    def worker() -> None:
        barrier.wait(timeout=5)
        results.append(_ids(client.models()))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert (results, _listings(upstream)) == ([["slow"]] * 16, 1)


def test_refresh_true_lists_again(upstream: FakeUpstream) -> None:
    """``models(refresh=True)`` asks the service again and returns the new list."""
    client = _client(upstream)
    client.models()
    upstream.enqueue(Reply.json(200, {"data": [{"id": "new"}]}))
    assert (_ids(client.models(refresh=True)), _listings(upstream)) == (["new"], 2)


def test_failed_forced_refresh_raises(upstream: FakeUpstream) -> None:
    """A failing ``refresh=True`` raises even though a list is cached."""
    client = _client(upstream)
    client.models()
    upstream.enqueue(BUSY)
    with pytest.raises(InternalServerError, match="listing failed"):
        client.models(refresh=True)


def test_failed_forced_refresh_keeps_the_cached_list(upstream: FakeUpstream) -> None:
    """After a failed ``refresh=True`` the earlier list is still served, without a request."""
    client = _client(upstream)
    client.models()
    upstream.enqueue(BUSY)
    with pytest.raises(InternalServerError):
        client.models(refresh=True)
    assert (_ids(client.models()), _listings(upstream)) == (["c", "a", "b", "d"], 2)


def test_failed_first_listing_is_not_cached(upstream: FakeUpstream) -> None:
    """When the first listing fails, the next call lists again."""
    client = _client(upstream)
    upstream.enqueue(BUSY)
    with pytest.raises(InternalServerError):
        client.models()
    assert (_ids(client.models()), _listings(upstream)) == (["c", "a", "b", "d"], 2)


# -- refresh_models: true --------------------------------------------------------------


def test_refreshing_list_is_reused_within_the_interval(upstream: FakeUpstream) -> None:
    """With ``refresh_models`` the list is still reused until it expires."""
    client = _client(upstream, refresh_models=True, refresh_interval=30.0)
    client.models()
    client.models()
    assert _listings(upstream) == 1


def test_refreshing_list_expires_after_the_interval(upstream: FakeUpstream) -> None:
    """After ``refresh_interval`` seconds the next call lists again."""
    client = _client(upstream, refresh_models=True, refresh_interval=0.2)
    client.models()
    time.sleep(0.3)
    upstream.enqueue(Reply.json(200, {"data": [{"id": "later"}]}))
    assert (_ids(client.models()), _listings(upstream)) == (["later"], 2)


def test_failed_automatic_refresh_keeps_the_previous_list(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing automatic refresh returns the old list and logs a warning."""
    caplog.set_level(logging.WARNING, logger="passthrough_client")
    client = _client(upstream, refresh_models=True, refresh_interval=0.2)
    client.models()
    time.sleep(0.3)
    upstream.enqueue(BUSY)
    models = client.models()
    warned = [r for r in caplog.records if "refresh failed" in r.getMessage()]
    assert (_ids(models), _listings(upstream), len(warned)) == (["c", "a", "b", "d"], 2, 1)


def test_failed_refresh_is_tried_again_one_interval_later(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failed refresh the old list is reused for one more interval, then re-listed.

    The cache's clock is moved by hand: with real sleeps the call after the failed
    refresh had to come within the interval, which a stalled machine can miss.
    """
    now = [1000.0]
    monkeypatch.setattr(_models, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    client = _client(upstream, refresh_models=True, refresh_interval=10.0)
    client.models()
    now[0] += 11  # expired: the refresh fails and the old list is kept
    upstream.enqueue(BUSY)
    client.models()
    now[0] += 5  # 16 s after the listing but 5 s after the failure: no request
    client.models()
    reused = _listings(upstream)
    now[0] += 6  # 11 s after the failure: listed again
    client.models()
    assert (reused, _listings(upstream)) == (2, 3)


def test_failed_refresh_without_a_previous_list_raises(upstream: FakeUpstream) -> None:
    """With nothing cached yet, a failing listing raises."""
    client = _client(upstream, refresh_models=True, refresh_interval=0.2)
    upstream.enqueue(BUSY)
    with pytest.raises(InternalServerError):
        client.models()


# -- provider data ---------------------------------------------------------------------


def test_provider_data_calls_list_afresh(upstream: FakeUpstream) -> None:
    """Each call with provider data lists again, whatever the cache holds."""
    client = _client(upstream)
    client.models()
    client.models(provider_data={})
    client.models(provider_data={})
    assert _listings(upstream) == 3


def test_provider_data_calls_leave_the_cache_alone(upstream: FakeUpstream) -> None:
    """A tenant's listing is never served to a call without provider data."""
    client = _client(upstream)
    upstream.enqueue(Reply.json(200, {"data": [{"id": "tenant-only"}]}))
    client.models(provider_data={"passthrough_api_key": "k"})
    assert (_ids(client.models()), _listings(upstream)) == (["c", "a", "b", "d"], 2)


def test_provider_data_listing_is_filtered_too(upstream: FakeUpstream) -> None:
    """``allowed_models`` also filters a listing made with provider data."""
    client = _client(upstream, allowed_models=["d"])
    assert _ids(client.models(provider_data={})) == ["d"]
