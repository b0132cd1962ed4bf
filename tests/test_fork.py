"""A client created before ``os.fork()``: the child opens its own connections and locks."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import pytest
from netutil import Pki
from scriptutil import read_request

from passthrough_client import PassthroughClient
from passthrough_client.testing import FakeUpstream, RecordedRequest

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork exists only on POSIX"),
    # The test process runs FakeUpstream threads; forking it is the point of these tests.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

CALLS = 20
CHILD_TIMEOUT = 20.0
MODEL = "fake-model"


def ask(client: PassthroughClient, text: str) -> str:
    """One chat call; FakeUpstream echoes ``text``, so the answer names its request."""
    reply = client.chat(model=MODEL, messages=[{"role": "user", "content": text}], timeout=10)
    return str(reply.choices[0].message.content)


def ask_many(client: PassthroughClient, side: str) -> None:
    """``CALLS`` calls, each checked to get its own answer back."""
    for i in range(CALLS):
        text = f"{side}-{i}"
        answer = ask(client, text)
        assert answer == text, f"{side} sent {text!r} and got {answer!r}"


def run_in_child(work: Callable[[], None]) -> int:
    """Fork; the child runs ``work`` and exits 0 (1 on any error, with the traceback)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            work()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def wait_for_child(pid: int, timeout: float = CHILD_TIMEOUT) -> Optional[int]:
    """The child's exit code, or ``None`` when it did not exit in time (it is then killed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def by_side(requests: List[RecordedRequest], side: str) -> List[RecordedRequest]:
    """The chat requests whose message starts with ``side``."""
    return [
        r for r in requests if r.json and str(r.json["messages"][-1]["content"]).startswith(side)
    ]


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> PassthroughClient:
    """A client with one pooled connection, made before any fork."""
    client = PassthroughClient(base_url=upstream.url, max_retries=0)
    assert ask(client, "parent-warm-up") == "parent-warm-up"
    return client


def parent_connection(upstream: FakeUpstream) -> int:
    """The connection the parent's warm-up call used (and its later calls reuse)."""
    return by_side(upstream.requests, "parent-warm-up")[0].connection_id


def test_os_fork_child_and_parent_use_their_own_connections(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """After os.fork(), parent and child call at once: each gets its own answers, the child
    never touches the parent's pooled connection, and the parent keeps reusing it."""
    pid = run_in_child(lambda: ask_many(client, "child"))
    ask_many(client, "parent")
    assert wait_for_child(pid) == 0
    assert ask(client, "parent-after") == "parent-after"
    requests = upstream.requests
    pooled = parent_connection(upstream)
    assert len(by_side(requests, "child")) == CALLS
    assert {r.connection_id for r in by_side(requests, "parent")} == {pooled}
    assert pooled not in {r.connection_id for r in by_side(requests, "child")}


def test_os_fork_keeps_the_parents_tls_connection_working(
    secure: FakeUpstream, origin: Pki
) -> None:
    """Over TLS: the child's calls use its own TLS connection, and dropping the inherited
    one in the child does not end the parent's TLS session on it."""
    config = {"base_url": secure.url, "network": {"tls": {"verify": str(origin.ca_file)}}}
    client = PassthroughClient(config, max_retries=0)
    assert ask(client, "parent-warm-up") == "parent-warm-up"
    pid = run_in_child(lambda: ask_many(client, "child"))
    assert wait_for_child(pid) == 0
    ask_many(client, "parent")
    pooled = parent_connection(secure)
    assert {r.connection_id for r in by_side(secure.requests, "parent")} == {pooled}
    assert pooled not in {r.connection_id for r in by_side(secure.requests, "child")}


# Pool workers find the client here: with the "fork" start method it is inherited.
_INHERITED: List[PassthroughClient] = []


def _ask_inherited(text: str) -> Tuple[str, int]:
    return ask(_INHERITED[0], text), os.getpid()


def test_multiprocessing_fork_pool_workers_open_their_own_connections(
    client: PassthroughClient, upstream: FakeUpstream
) -> None:
    """A fork-context Pool inherits the client: workers get their own answers on their own
    connections while the parent calls too, and the parent's connection survives."""
    _INHERITED[:] = [client]
    texts = [f"child-{i}" for i in range(CALLS)]
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        pending = pool.map_async(_ask_inherited, texts)
        ask_many(client, "parent")
        results = pending.get(timeout=CHILD_TIMEOUT)
    _INHERITED.clear()
    assert [answer for answer, _ in results] == texts
    assert os.getpid() not in {pid for _, pid in results}
    assert ask(client, "parent-after") == "parent-after"
    pooled = parent_connection(upstream)
    assert {r.connection_id for r in by_side(upstream.requests, "parent")} == {pooled}
    assert pooled not in {r.connection_id for r in by_side(upstream.requests, "child")}


def test_model_cache_lock_held_at_fork_is_not_inherited(serve: Any) -> None:
    """A parent thread inside models() (holding the cache lock) at the fork does not
    block the child's models(): the child has its own lock.

    The server holds the parent's listing until the child is done (not for a fixed
    time, which a stalled machine could outlast before the fork)."""
    arrived, release = threading.Event(), threading.Event()
    listings = ["slow", "fresh"]  # the parent's, then the child's

    def script(conn: socket.socket) -> None:
        read_request(conn)
        model = listings.pop(0)
        if model == "slow":
            arrived.set()
            release.wait(30)
        body = json.dumps({"object": "list", "data": [{"id": model, "object": "model"}]})
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        conn.sendall(f"{head}\r\n\r\n{body}".encode())

    client = serve(script)
    fetching = threading.Thread(target=client.models, daemon=True)
    fetching.start()
    try:
        assert arrived.wait(10)  # the thread now holds the lock

        def child() -> None:
            assert [m.id for m in client.models()] == ["fresh"]

        pid = run_in_child(child)
        assert wait_for_child(pid, timeout=6.0) == 0
    finally:
        release.set()
    fetching.join(timeout=10)
    assert [m.id for m in client.models()] == ["slow"]


def test_the_fork_hook_is_registered_at_the_first_client_not_at_import() -> None:
    """Importing the package registers nothing; the first client registers the hook."""
    code = (
        "import passthrough_client, passthrough_client._net.fork as fork\n"
        "before = fork._registered\n"
        "passthrough_client.PassthroughClient(base_url='http://127.0.0.1:9', environ={})\n"
        "print(before, fork._registered)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.stdout.split() == ["False", "True"], result.stderr
