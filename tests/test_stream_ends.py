"""How streams end: unfinished last events, interrupted reads; and deep ``to_dict``.

Over real sockets: FakeUpstream for framed bodies, a scripted raw-socket server for
close-delimited ones and stalls, and a child process that gets a real SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
from faultutil import bounded
from scriptutil import ScriptServer, read_request

from passthrough_client import APIConnectionError, PassthroughClient
from passthrough_client.testing import FakeUpstream, Reply


def delta(content: str) -> str:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return "data: " + json.dumps(chunk)


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    with PassthroughClient(base_url=upstream.url, max_retries=0, environ={}) as client:
        yield client


def framed(events: List[str], chunked: bool) -> Reply:
    """A cleanly framed event-stream body: chunked, or with a Content-Length."""
    if chunked:
        return Reply.sse(events)
    return Reply.text(200, "".join(events), content_type="text/event-stream")


def contents(client: PassthroughClient) -> List[Optional[str]]:
    stream = client.chat(model="m", messages=[], stream=True)
    return bounded(lambda: [c.choices[0].delta.content for c in stream])


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize("last", ["data:", "data: ", "data:\r", "data"])
def test_an_unfinished_last_event_with_empty_data_ends_the_stream(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool, last: str
) -> None:
    """A cleanly framed body ending in a lone unfinished ``data:`` simply ends."""
    upstream.enqueue(framed([delta("a") + "\n\n", last], chunked))
    assert contents(client) == ["a"]


@pytest.mark.parametrize("empty", ["data:\n\n", "data: \n\n", "data\ndata:\n\n"])
def test_a_complete_event_with_empty_data_is_skipped(
    client: PassthroughClient, upstream: FakeUpstream, empty: str
) -> None:
    """``data:`` with nothing (dispatched by WHATWG rules) is an event without data: skipped."""
    upstream.enqueue(framed([delta("a") + "\n\n", empty, delta("b") + "\n\n"], True))
    assert contents(client) == ["a", "b"]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_unfinished_last_event_with_data_is_dispatched(
    client: PassthroughClient, upstream: FakeUpstream, chunked: bool
) -> None:
    """A cleanly framed body whose last event lacks its blank line still delivers it."""
    upstream.enqueue(framed([delta("a") + "\n\n", delta("b") + "\n"], chunked))
    assert contents(client) == ["a", "b"]


def test_a_close_delimited_body_cut_mid_event_is_a_connection_error() -> None:
    """Without framing, an unfinished last event means the stream was cut."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            + (delta("a") + "\n\n" + delta("b")[:30]).encode()
        )

    with (
        ScriptServer(script) as server,
        PassthroughClient(base_url=server.url, max_retries=0, environ={}) as client,
    ):
        stream = client.chat(model="m", messages=[], stream=True)
        assert next(stream).choices[0].delta.content == "a"
        with pytest.raises(APIConnectionError, match="middle of an event"):
            bounded(lambda: next(stream))


CHILD = """
import json, sys
from passthrough_client import PassthroughClient, APIConnectionError
client = PassthroughClient(base_url=sys.argv[1], max_retries=0, environ={})
stream = client.chat(model="m", messages=[], stream=True)
first = next(stream).choices[0].delta.content
print("ready", flush=True)
outcome = {"first": first}
try:
    next(stream)
    outcome["second"] = "no interrupt"
except KeyboardInterrupt:
    outcome["interrupt"] = True
for name, action in (("collect", stream.collect), ("next", lambda: next(stream))):
    try:
        action()
        outcome[name] = "returned"
    except APIConnectionError as exc:
        outcome[name] = str(exc)
    except StopIteration:
        outcome[name] = "ended"
print(json.dumps(outcome), flush=True)
"""


def wait_until_asleep(pid: int, seconds: float = 10.0) -> None:
    """Wait until process ``pid`` sleeps in a system call (state ``S`` in Linux's
    ``/proc``), at most ``seconds``; without ``/proc``, wait one second."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        time.sleep(1.0)
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stat.read_text().rpartition(")")[2].split()[0] == "S":
            return
        time.sleep(0.01)


def test_a_stream_interrupted_by_ctrl_c_is_closed_and_says_so(tmp_path: Path) -> None:
    """After a real SIGINT in the middle of a read, collect() and next() raise, not end."""
    closed = []

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            + (delta("a") + "\n\n").encode()
        )
        conn.settimeout(15)
        closed.append(conn.recv(1) == b"")  # the client closes the stream: EOF here

    script_file = tmp_path / "child.py"
    script_file.write_text(textwrap.dedent(CHILD))
    with ScriptServer(script) as server:
        child = subprocess.Popen(
            [sys.executable, str(script_file), server.url],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            assert child.stdout is not None
            assert bounded(child.stdout.readline, 30) == "ready\n"
            # The child's only thread blocks next in the read: once it sleeps, it is there
            # (a fixed pause could end before a stalled child got that far).
            wait_until_asleep(child.pid)
            child.send_signal(signal.SIGINT)
            outcome = json.loads(bounded(child.stdout.readline, 15))
        finally:
            child.kill()
            child.wait(10)
        deadline = time.monotonic() + 5
        while not closed and time.monotonic() < deadline:
            time.sleep(0.05)
    assert outcome["first"] == "a" and outcome["interrupt"] is True
    assert "stream was interrupted" in outcome["collect"]
    assert "stream was interrupted" in outcome["next"]
    assert closed == [True]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [600, 900])
def test_to_dict_of_a_deeply_nested_reply_works(upstream: FakeUpstream, depth: int) -> None:
    """A reply nested as deep as the JSON parser accepts converts without RecursionError."""
    body = (
        '{"id": "x", "object": "chat.completion", "created": 0, "model": "m", '
        f'"choices": [], "vendor": {nested(depth)}}}'
    )
    upstream.enqueue(Reply.text(200, body, content_type="application/json"))
    with PassthroughClient(base_url=upstream.url, max_retries=0, environ={}) as client:
        reply = bounded(lambda: client.chat(model="m", messages=[]))
    data: Any = reply.to_dict()["vendor"]
    levels = 0
    while data:
        data = data[0]
        levels += 1
    assert depth - 1 == levels
