"""One client shared by many threads: no cross-talk between tenants, a bounded pool."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest

from passthrough_client import PassthroughClient
from passthrough_client.testing import FakeUpstream, Reply
from passthrough_client.testing.server import Incoming

THREADS = 16
CALLS = 50
MESSAGES = [{"role": "user", "content": "hi"}]
FORWARD = {"tenant": "X-Tenant"}


def _run_threads(count: int, target: Callable[[int], None]) -> list[BaseException]:
    """Run ``target(i)`` in ``count`` threads started together; return their errors."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            target(i)
        except BaseException as exc:  # reported to the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _tenant_calls(client: PassthroughClient, replies: dict[str, str]) -> Callable[[int], None]:
    def calls(i: int) -> None:
        data = {"tenant": f"tenant-{i}", "passthrough_api_key": f"key-{i}"}
        for j in range(CALLS):
            content = f"tenant-{i} call-{j}"
            result = client.chat(
                model="fake-model",
                messages=[{"role": "user", "content": content}],
                provider_data=data,
            )
            replies[content] = result.choices[0].message.content or ""

    return calls


def _mismatches(upstream: FakeUpstream) -> list[Any]:
    """Requests whose headers do not belong to the tenant named in their body."""
    wrong = []
    for request in upstream.requests:
        tenant = request.json["messages"][0]["content"].split()[0]
        number = tenant.split("-")[1]
        headers = (request.headers.get("X-Tenant"), request.headers.get_all("Authorization"))
        if headers != (tenant, [f"Bearer key-{number}"]):
            wrong.append((tenant, headers))
    return wrong


def test_threads_with_different_provider_data_never_mix(upstream: FakeUpstream) -> None:
    """16 threads x 50 calls: every request carries its own tenant's header and key."""
    client = PassthroughClient(
        {"forward_headers": FORWARD, "base_url": upstream.url}, pool_maxsize=THREADS, environ={}
    )
    replies: dict[str, str] = {}
    errors = _run_threads(THREADS, _tenant_calls(client, replies))
    assert (errors, len(upstream.requests), _mismatches(upstream)) == ([], THREADS * CALLS, [])


def test_threads_get_their_own_answers(upstream: FakeUpstream) -> None:
    """Each thread's response is the echo of its own request, never another's."""
    client = PassthroughClient(
        {"forward_headers": FORWARD, "base_url": upstream.url}, pool_maxsize=THREADS, environ={}
    )
    replies: dict[str, str] = {}
    _run_threads(THREADS, _tenant_calls(client, replies))
    wrong = [k for k, v in replies.items() if k != v]
    assert (len(replies), wrong) == (THREADS * CALLS, [])


def _concurrent_chats(client: PassthroughClient, count: int) -> None:
    def chat(_: int) -> None:
        client.chat(model="fake-model", messages=MESSAGES)

    assert _run_threads(count, chat) == []


class GatedUpstream(FakeUpstream):
    """Holds each reply until ``quorum`` requests have arrived (10 s at most), so calls
    meant to be in flight together are, however late a loaded machine starts a thread."""

    quorum = 0

    def _reply_for(self, incoming: Incoming) -> Reply:  # in the connection's thread
        reply = super()._reply_for(incoming)
        self.wait_for_requests(self.quorum, timeout=10.0)
        return reply


@pytest.mark.parametrize("size", [2, 4])
def test_pool_keeps_at_most_pool_maxsize_connections(size: int) -> None:
    """After 6 concurrent calls only ``pool_maxsize`` connections stay for reuse."""
    upstream = GatedUpstream()
    with upstream:
        client = PassthroughClient(base_url=upstream.url, pool_maxsize=size, environ={})
        upstream.quorum = 6  # all 6 calls in flight at once: 6 connections
        _concurrent_chats(client, 6)
        first = {r.connection_id for r in upstream.requests}
        upstream.quorum = 12
        _concurrent_chats(client, 6)
        second = {r.connection_id for r in upstream.requests[6:]}
    assert (len(first), len(first & second)) == (6, size)
