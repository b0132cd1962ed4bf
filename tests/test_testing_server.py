"""Tests for FakeUpstream's recording, concurrency and shutdown, with stdlib clients."""

from __future__ import annotations

import ast
import json
import pathlib
import socket
import threading
from typing import List, Optional, Set

import pytest
from fakehttp import TIMEOUT, call, chat_body, connect, raw_exchange

from passthrough_client.testing import FakeUpstream, RecordedHeaders, Reply

# -- recording -------------------------------------------------------------------------


def test_requests_are_recorded_with_path_query_body_and_json(upstream: FakeUpstream) -> None:
    """Method, path with query, raw body and parsed JSON are recorded."""
    call(upstream, "POST", "/v1/embeddings?api-version=2", {"model": "e", "input": "x"})
    call(upstream, "GET", "/v1/models")
    first, second = upstream.requests
    assert (first.method, first.path) == ("POST", "/v1/embeddings?api-version=2")
    assert ({"model": "e", "input": "x"}, first.json) == (json.loads(first.body), first.json)
    assert (second.body, second.json) == (b"", None)


def test_recorded_headers_are_case_insensitive_and_iterate_as_sent(
    upstream: FakeUpstream,
) -> None:
    """Header look-up ignores case; iteration yields (name, value) pairs as sent."""
    call(upstream, "GET", "/v1/models", headers={"AuThorization": "Bearer k", "X-Two": "a "})
    headers = upstream.requests[0].headers
    assert "Bearer k" == headers.get("authorization") == headers["AUTHORIZATION"]
    assert ("AuThorization", "Bearer k") in list(headers)
    assert dict(headers)["X-Two"] == "a " and "x-two" in headers
    assert (headers.get("missing"), headers.get("missing", "d")) == (None, "d")


def test_recorded_headers_keep_repeated_names() -> None:
    """get() returns the first value and get_all() every value of a repeated header."""
    headers = RecordedHeaders([("A", "1"), ("b", "2"), ("a", "3")])
    assert (headers.get("a"), headers.get_all("A"), len(headers)) == ("1", ["1", "3"], 3)
    with pytest.raises(KeyError):
        headers["c"]


def test_keep_alive_requests_share_a_connection_id(upstream: FakeUpstream) -> None:
    """Requests over one persistent connection share an id; a new connection gets another."""
    conn = connect(upstream)
    for _ in range(3):
        conn.request("GET", "/v1/models")
        conn.getresponse().read()
    conn.close()
    call(upstream, "GET", "/v1/models")
    assert [r.connection_id for r in upstream.requests] == [1, 1, 1, 2]
    assert upstream.connections_opened == 2


def test_clear_forgets_recorded_requests(upstream: FakeUpstream) -> None:
    """clear() empties the request list, and recording goes on afterwards."""
    call(upstream, "GET", "/v1/models")
    upstream.clear()
    assert upstream.requests == []
    call(upstream, "GET", "/v1/models?again")
    assert [r.path for r in upstream.requests] == ["/v1/models?again"]


def test_concurrent_clients_are_all_served_and_recorded(upstream: FakeUpstream) -> None:
    """16 threads with keep-alive connections are all answered and recorded."""
    errors: List[BaseException] = []

    def worker(n: int) -> None:
        conn = connect(upstream)
        try:
            for i in range(25):
                body = json.dumps(chat_body(f"t{n} c{i}"))
                conn.request("POST", "/v1/chat/completions", body)
                reply = json.loads(conn.getresponse().read())
                assert f"t{n} c{i}" == reply["choices"][0]["message"]["content"]
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert (errors, len(upstream.requests)) == ([], 400)
    assert upstream.connections_opened == 16


# -- robustness and shutdown -----------------------------------------------------------


def test_garbage_request_does_not_stop_the_server(upstream: FakeUpstream) -> None:
    """Bytes that are not HTTP get an error or a close, and the server keeps serving."""
    answer = raw_exchange(upstream, b"\x16\x03\x01 definitely not http\r\n\r\n")
    assert answer == b"" or b"400" in answer
    assert call(upstream, "GET", "/v1/models")[0] == 200


def stop_in_thread(upstream: FakeUpstream) -> bool:
    """Call stop() in a thread; True when it returned within the guard time."""
    thread = threading.Thread(target=upstream.stop)
    thread.start()
    thread.join(timeout=10.0)  # stop() takes about a second; the replies last far longer
    return not thread.is_alive()


@pytest.mark.parametrize(
    "reply", [None, Reply.hang(60), Reply.trickle(b"x" * 100, 0.5), Reply.sse(["a"], end="hang")]
)
def test_stop_returns_with_connections_open(reply: Optional[Reply]) -> None:
    """stop() closes open connections (idle, hanging, trickling) instead of waiting."""
    upstream = FakeUpstream().start()
    if reply is not None:
        upstream.enqueue(reply)
    conn = connect(upstream)
    conn.request("GET", "/v1/models")
    if reply is None:
        conn.getresponse().read()  # leave the keep-alive connection idle
    else:
        assert upstream.wait_for_requests(1, TIMEOUT)
    try:
        assert stop_in_thread(upstream)
    finally:
        conn.close()
    with pytest.raises(OSError):
        socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT)


def test_wait_for_requests_times_out_false(upstream: FakeUpstream) -> None:
    """wait_for_requests returns False when the count is not reached in time."""
    assert upstream.wait_for_requests(0, 0.01)
    assert not upstream.wait_for_requests(1, 0.01)


def test_testing_modules_import_only_the_standard_library() -> None:
    """The testing package imports the standard library and itself only (no requests)."""
    package = pathlib.Path(__file__).resolve().parent.parent / "passthrough_client" / "testing"
    modules = sorted(package.glob("*.py"))
    imported: Set[str] = set()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add("." * node.level + (node.module or "").split(".")[0])
    helpers = {f".{path.stem}" for path in modules} | {"."}
    stdlib = {"__future__", "contextlib", "dataclasses", "gzip", "hashlib", "http", "json"}
    stdlib |= {"re", "select", "selectors", "socket", "socketserver", "ssl", "struct"}
    stdlib |= {"threading", "time", "argparse", "signal", "sys"}  # argparse...: serve.py
    assert len(modules) >= 5, modules  # __init__, __main__, server, routes, replies, serve
    assert imported <= stdlib | {"typing"} | helpers
