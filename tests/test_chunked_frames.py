"""Chunked bodies read several frames at a time (``_net/chunked.py``), over raw sockets.

A scripted server writes the exact chunked bytes: many small frames in one send,
frame boundaries cut at every awkward point across sends, unusual but legal frames
(extensions, uppercase hex, leading zeros, frames over 64 KiB), broken framing after
good frames, and a frame that has only partly arrived. Every case checks the events a
real stream yields and, when the body ended cleanly, that the connection is reused:
a frame reader that lost its place in the framing shows up in one of the two.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from faultutil import bounded
from fuzzing import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scriptutil import ScriptServer, chat, read_request

from passthrough_client import (
    APIConnectionError,
    InvalidResponseError,
    PassthroughClient,
    Stream,
)

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
END = b"0\r\n\r\n"
TRAILER_END = b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
DONE = b"data: [DONE]\n\n"
PAUSE = 0.01  # between the sends of a split body: lets the client read each part alone


def chunk(content: str) -> Dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


def event(content: str) -> bytes:
    """One server-sent event carrying a chunk with ``content`` (UTF-8, not escaped)."""
    return b"data: " + json.dumps(chunk(content), ensure_ascii=False).encode() + b"\n\n"


def frame(data: bytes, size: str = "{:x}") -> bytes:
    """One chunk frame; ``size`` formats the length (``"{:X}"``, ``"{:08x};a=b"``...)."""
    return size.format(len(data)).encode() + b"\r\n" + data + b"\r\n"


def answering(pieces: Sequence[bytes], pause: float = 0.0) -> Callable[[socket.socket], None]:
    """A script answering every request on its connection with ``pieces``, each its own
    send (Nagle off), ``pause`` seconds apart."""

    def script(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while read_request(conn):
            for i, piece in enumerate(pieces):
                if i and pause:
                    time.sleep(pause)
                conn.sendall(piece)

    return script


def then_wait_for_close(pieces: Sequence[bytes]) -> Callable[[socket.socket], None]:
    """A script sending ``pieces`` for one request, then keeping the connection open
    until the client closes it (or the server stops)."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        for piece in pieces:
            conn.sendall(piece)
        while conn.recv(65536):
            pass

    return script


def then_close(pieces: Sequence[bytes]) -> Callable[[socket.socket], None]:
    """A script sending ``pieces`` for one request, then closing the connection."""

    def script(conn: socket.socket) -> None:
        read_request(conn)
        for piece in pieces:
            conn.sendall(piece)

    return script


@contextlib.contextmanager
def served(
    script: Callable[[socket.socket], None],
) -> Iterator[Tuple[ScriptServer, PassthroughClient]]:
    with (
        ScriptServer(script) as server,
        PassthroughClient(base_url=server.url, max_retries=0, environ={}) as client,
    ):
        yield server, client


def contents(stream: Stream[Any]) -> List[Optional[str]]:
    return [c.choices[0].delta.content for c in stream]


def streamed(client: PassthroughClient) -> Tuple[List[Optional[str]], Optional[str]]:
    """A whole chat stream: the chunks' contents, then ``collect()``'s content."""
    stream = chat(client, stream=True)
    seen = contents(stream)
    return seen, stream.collect().choices[0].message.content


def joined(texts: Sequence[str]) -> Optional[str]:
    """What ``collect()`` makes of these contents (``None`` when no text arrived)."""
    return "".join(texts) or None


# --- many small frames in one send -------------------------------------------------------


@pytest.mark.parametrize("done", [True, False], ids=["done", "no-done"])
@pytest.mark.parametrize("api", ["chat", "request"])
def test_many_small_frames_in_one_send(api: str, done: bool) -> None:
    """300 events, one per frame, all in one send: every event, in order; then reuse."""
    texts = [f"e{i}-é-" for i in range(300)]
    body = b"".join(frame(event(t)) for t in texts)
    body += (frame(DONE) if done else b"") + END

    with served(answering([HEAD + body])) as (server, client):
        if api == "chat":
            assert bounded(lambda: streamed(client)) == (texts, joined(texts))
        else:
            stream = client.request("POST", "chat/completions", json={"model": "m"}, stream=True)
            events = bounded(lambda: list(stream))
            assert events == [chunk(t) for t in texts]
        assert bounded(lambda: streamed(client)) == (texts, joined(texts))
        assert len(server.connections) == 1  # the second call reused the first connection
        assert server.errors == []


# --- frame boundaries split across sends -------------------------------------------------

TEXTS = ["one", "twö", "three 🙂", "four"]
FRAMES = [frame(event(t)) for t in TEXTS]


def size_line(piece: bytes) -> int:
    return piece.index(b"\n") + 1


# Where each frame is cut: offsets from the frame's start.
FRAME_CUTS: Dict[str, Callable[[bytes], int]] = {
    "inside-size-line": lambda f: 1,
    "between-size-and-cr": lambda f: size_line(f) - 2,
    "inside-size-line-crlf": lambda f: size_line(f) - 1,
    "between-size-line-and-data": size_line,
    "inside-data": lambda f: size_line(f) + 7,
    "between-data-and-crlf": lambda f: len(f) - 2,
    "inside-data-crlf": lambda f: len(f) - 1,
    "after-frame": len,
}
# Where the end of the body is cut: offsets from the terminator's start.
END_CUTS: Dict[str, Callable[[bytes], int]] = {
    "just-before-terminator": lambda end: 0,
    "inside-terminator-line": lambda end: 1,
    "after-terminator-line": lambda end: 3,
    "inside-trailer-or-final-crlf": lambda end: len(end) - 1,
    "every-trailer-line": lambda end: 3 + end[3:].index(b"\r\n") + 2,
}


def split_body(point: str, end: bytes) -> List[bytes]:
    """The head and the body as separate sends, cut at ``point``."""
    if point in FRAME_CUTS:
        pieces: List[bytes] = []
        carry = HEAD
        for f in FRAMES:
            cut = FRAME_CUTS[point](f)
            pieces.append(carry + f[:cut])
            carry = f[cut:]
        return [*pieces, carry + end]
    cut = END_CUTS[point](end)
    return [HEAD + b"".join(FRAMES) + end[:cut], end[cut:]]


@pytest.mark.parametrize("end", [END, TRAILER_END], ids=["plain-end", "trailer"])
@pytest.mark.parametrize("point", [*FRAME_CUTS, *END_CUTS])
def test_frames_split_across_sends(point: str, end: bytes) -> None:
    """Frames cut anywhere across sends: the same events; the connection is reused."""
    pieces = [p for p in split_body(point, end) if p]
    assert b"".join(pieces) == HEAD + b"".join(FRAMES) + end

    with served(answering(pieces, PAUSE)) as (server, client):
        for _ in range(2):
            assert bounded(lambda: streamed(client)) == (TEXTS, joined(TEXTS))
        assert len(server.connections) == 1
        assert server.errors == []


def test_every_byte_its_own_send() -> None:
    """A body sent one byte at a time, trailer included: the same events, then reuse."""
    body = b"".join(FRAMES) + TRAILER_END
    pieces = [HEAD] + [body[i : i + 1] for i in range(len(body))]

    with served(answering(pieces, 0.0005)) as (server, client):
        for _ in range(2):
            assert bounded(lambda: streamed(client)) == (TEXTS, joined(TEXTS))
        assert len(server.connections) == 1


# --- unusual frames among ordinary ones --------------------------------------------------

BIG_TEXTS = [f"big{i}" for i in range(700)]  # about 90 KiB of events
UNUSUAL: Dict[str, Tuple[bytes, List[str]]] = {
    "extension": (frame(event("ext"), "{:x};name=value"), ["ext"]),
    "extensions-spaced": (frame(event("ext2"), '{:x} ; a=b;c="d e"'), ["ext2"]),
    "uppercase-hex": (frame(event("UP"), "{:X}"), ["UP"]),
    "leading-zeros": (frame(event("zeros"), "{:08x}"), ["zeros"]),
    "big-frame": (frame(b"".join(event(t) for t in BIG_TEXTS)), BIG_TEXTS),
    "empty-data-event": (frame(b"data:\n\n"), []),
    "comment": (frame(b": keep-alive\n\n"), []),
    "one-byte-frames": (b"".join(frame(bytes([b])) for b in event("bytes")), ["bytes"]),
    "event-over-two-frames": (frame(event("halves")[:9]) + frame(event("halves")[9:]), ["halves"]),
}


@pytest.mark.parametrize("kind", [*UNUSUAL, "all"])
def test_unusual_frames_among_ordinary_ones(kind: str) -> None:
    """Unusual but legal frames between ordinary ones, all in one send: the same events."""
    kinds = list(UNUSUAL) if kind == "all" else [kind]
    body = frame(event("first")) + frame(event("second"))
    texts = ["first", "second"]
    for name in kinds:
        unusual, unusual_texts = UNUSUAL[name]
        body += unusual + frame(event(f"after-{name}"))
        texts += [*unusual_texts, f"after-{name}"]
    body += frame(DONE) + END

    with served(answering([HEAD + body])) as (server, client):
        for _ in range(2):
            assert bounded(lambda: streamed(client)) == (texts, joined(texts))
        assert len(server.connections) == 1


# --- broken framing after good frames ----------------------------------------------------

GOOD = ["a", "b", "c"]
BROKE = "the connection broke while reading the response"
TOO_LONG = f"{BROKE} (a line of the response head is too long)"
# name: (what follows the good frames, the events it still holds, close after it?, the
# reason the error gives: what the client said before frames were read several at a time)
BROKEN_CASES: Dict[str, Tuple[bytes, List[str], bool, str]] = {
    "non-hex-size": (b"zz\r\nhello\r\n" + END, [], False, BROKE),
    # http.client reads past a negative size: only the close ends that read.
    "negative-size": (b"-5\r\nhello\r\n" + END, [], True, BROKE),
    "size-line-over-64k": (b"0" * 70000 + b"5\r\nhello\r\n" + END, [], False, TOO_LONG),
    "closed-in-size-line": (b"1", [], True, BROKE),
    "closed-after-size-line": (b"100\r\n", [], True, BROKE),
    "closed-mid-data": (b"100\r\n" + event("partial")[:20], [], True, BROKE),
    "closed-before-data-crlf": (frame(event("d"))[:-2], ["d"], True, BROKE),
    "closed-between-frames": (b"", [], True, BROKE),
}


@pytest.mark.parametrize("case", list(BROKEN_CASES))
def test_broken_framing_after_good_frames(case: str) -> None:
    """The good events first, then the typed error the client always raised for it."""
    rest, more, close, reason = BROKEN_CASES[case]
    body = b"".join(frame(event(t)) for t in GOOD) + rest
    script = then_close if close else then_wait_for_close

    with served(script([HEAD + body])) as (_, client):
        stream = chat(client, stream=True)
        seen = [bounded(lambda: next(stream)).choices[0].delta.content for _ in GOOD + more]
        assert seen == GOOD + more
        with pytest.raises(APIConnectionError) as caught:
            bounded(lambda: next(stream))
        assert not isinstance(caught.value, InvalidResponseError)
        assert str(caught.value).endswith(f"failed: {reason}")


# --- any events, any framing, any sends --------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(max_codepoint=0x7F), max_size=30),
    st.sampled_from(["", "\n", "\r\n", "data: x\n\n", "é", "🙂", "\u2028", "0\r\n\r\n"]),
)
SIZE_FORMATS = ["{:x}", "{:X}", "{:04x}", "{:x};ext=1"]


def reframe(data: bytes, sizes: Sequence[int], formats: Sequence[str]) -> List[bytes]:
    """``data`` cut into chunk frames of the ``sizes`` (cycled), sizes spelled as
    ``formats`` (cycled)."""
    out = []
    pos = i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        out.append(frame(data[pos : pos + size], formats[i % len(formats)]))
        pos += size
        i += 1
    return out


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    texts=st.lists(TEXT, min_size=1, max_size=25),
    sizes=st.lists(st.integers(1, 400), min_size=1, max_size=12),
    formats=st.lists(st.sampled_from(SIZE_FORMATS), min_size=1, max_size=4),
    trailer=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
    frame_cuts=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 15)), max_size=4),
)
# A size line alone at the start of what has arrived (found by this property).
@example(texts=["a"], sizes=[1], formats=["{:x}"], trailer=False, cuts=[], frame_cuts=[(0, 3)])
def test_any_framing_and_sends_yield_the_events_sent(
    texts: List[str],
    sizes: List[int],
    formats: List[str],
    trailer: bool,
    cuts: List[int],
    frame_cuts: List[Tuple[int, int]],
) -> None:
    """Events re-framed into random frames (cutting events, lines and UTF-8 characters)
    and sent in random pieces (anywhere, and near frame starts, where size lines are):
    the chunks are the events, ``collect()`` their text; a second call reuses the
    connection."""
    frames = reframe(b"".join(event(t) for t in texts), sizes, formats)
    starts = [len(HEAD) + sum(map(len, frames[:i])) for i in range(len(frames))]
    response = HEAD + b"".join(frames) + (TRAILER_END if trailer else END)
    points = {c % len(response) for c in cuts}
    points |= {min(starts[k % len(starts)] + offset, len(response)) for k, offset in frame_cuts}
    edges = sorted(points | {0, len(response)})
    pieces = [response[a:b] for a, b in zip(edges, edges[1:])]

    with served(answering(pieces, 0.001)) as (server, client):
        assert bounded(lambda: streamed(client)) == (texts, joined(texts))
        assert bounded(lambda: streamed(client)) == (texts, joined(texts))
        assert len(server.connections) == 1


# --- a frame that has only partly arrived ------------------------------------------------


FIRST_CUTS: Dict[str, Callable[[bytes], int]] = {
    # How much of the big frame (its data, then its CRLF) has arrived.
    "after-first-event": lambda data: len(event("first")),
    "mid-second-event": lambda data: len(event("first")) + len(event("second")) // 2,
    "all-data-no-crlf": len,
    "data-and-cr": lambda data: len(data) + 1,
}


@pytest.mark.parametrize("before", [0, 3], ids=["alone", "after-small-frames"])
@pytest.mark.parametrize("cut", list(FIRST_CUTS))
def test_events_of_a_partly_arrived_frame_are_yielded_before_the_rest(
    before: int, cut: str
) -> None:
    """A frame not all arrived (or missing its CRLF): its first event is yielded at once;
    the server sends the rest only once the test holds that event."""
    small = [f"s{i}" for i in range(before)]
    data = event("first") + event("second") + event("third")
    framed = data + b"\r\n"
    arrived = FIRST_CUTS[cut](data)
    got_first = threading.Event()
    order: List[str] = []

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            HEAD
            + b"".join(frame(event(t)) for t in small)
            + f"{len(data):x}\r\n".encode()
            + framed[:arrived]
        )
        # The test sets got_first once next() returned "first": a client that waits
        # for more of the frame never does, and the wait gives up (the test then fails).
        order.append("released" if got_first.wait(10) else "gave up waiting")
        conn.sendall(framed[arrived:] + END)
        read_request(conn)  # a second request on this connection
        conn.sendall(HEAD + frame(event("again")) + END)

    with served(script) as (server, client):
        stream = chat(client, stream=True)
        for text in small:
            assert bounded(lambda: next(stream)).choices[0].delta.content == text
        first = bounded(lambda: next(stream), 30)
        assert order == []  # the rest was not sent yet: "first" came from what had arrived
        got_first.set()
        assert first.choices[0].delta.content == "first"
        assert bounded(lambda: contents(stream)) == ["second", "third"]
        assert order == ["released"]
        assert bounded(lambda: streamed(client)) == (["again"], "again")
        assert len(server.connections) == 1
