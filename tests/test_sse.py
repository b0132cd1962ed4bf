"""Tests for passthrough_client._rules.sse: the incremental server-sent-events parser."""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passthrough_client._rules.sse import ServerSentEvent, SSEDecoder

Expected = Tuple[str, str, Optional[str], Optional[int]]

BOM = b"\xef\xbb\xbf"


def feed_all(pieces: Iterable[bytes]) -> Tuple[List[ServerSentEvent], bool]:
    """Feed the pieces to a fresh decoder; return all events and the final pending flag."""
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    events += decoder.end()
    return events, decoder.pending


def split_at(body: bytes, cuts: Sequence[int]) -> List[bytes]:
    """Cut ``body`` at the given offsets."""
    bounds = [0, *sorted(cuts), len(body)]
    return [body[start:stop] for start, stop in zip(bounds, bounds[1:])]


# (id, input bytes, expected events, expected pending at the end)
RULES: List[Tuple[str, bytes, List[Expected], bool]] = [
    ("lf", b"data: a\n\n", [("message", "a", None, None)], False),
    ("crlf", b"data: a\r\n\r\n", [("message", "a", None, None)], False),
    ("cr", b"data: a\r\r", [("message", "a", None, None)], False),
    (
        "cr-cr-two-events",
        b"data: a\r\rdata: b\r\r",
        [("message", "a", None, None), ("message", "b", None, None)],
        False,
    ),
    (
        "lf-cr-is-two-endings",
        b"data: a\n\rdata: b\n\n",
        [("message", "a", None, None), ("message", "b", None, None)],
        False,
    ),
    (
        "mixed-endings",
        b"data: a\r\ndata: b\rdata: c\n\r\n",
        [("message", "a\nb\nc", None, None)],
        False,
    ),
    ("multi-line-data", b"data: a\ndata: b\n\n", [("message", "a\nb", None, None)], False),
    ("no-space", b"data:a\n\n", [("message", "a", None, None)], False),
    ("one-space-stripped", b"data:  a\n\n", [("message", " a", None, None)], False),
    ("trailing-space-kept", b"data: a \n\n", [("message", "a ", None, None)], False),
    ("colon-in-value", b"data: a: b\n\n", [("message", "a: b", None, None)], False),
    ("no-colon-empty-value", b"data\n\n", [("message", "", None, None)], False),
    ("two-empty-data-lines", b"data\ndata:\n\n", [("message", "\n", None, None)], False),
    ("empty-data-dispatches", b"data:\n\n", [("message", "", None, None)], False),
    ("comment-ignored", b": keep-alive\n\ndata: a\n\n", [("message", "a", None, None)], False),
    ("comment-inside-event", b"data: a\n:x\ndata: b\n\n", [("message", "a\nb", None, None)], False),
    ("event-type", b"event: add\ndata: a\n\n", [("add", "a", None, None)], False),
    (
        "event-type-reset",
        b"event: add\ndata: a\n\ndata: b\n\n",
        [("add", "a", None, None), ("message", "b", None, None)],
        False,
    ),
    ("empty-event-is-message", b"event:\ndata: a\n\n", [("message", "a", None, None)], False),
    ("no-data-not-dispatched", b"event: add\n\n", [], False),
    ("no-data-resets-type", b"event: add\n\ndata: a\n\n", [("message", "a", None, None)], False),
    ("blank-lines-alone", b"\n\r\n\r", [], False),
    ("id", b"id: 7\ndata: a\n\n", [("message", "a", "7", None)], False),
    ("id-after-data", b"data: a\nid: 7\n\n", [("message", "a", "7", None)], False),
    (
        "id-persists",
        b"id: 7\ndata: a\n\ndata: b\n\n",
        [("message", "a", "7", None), ("message", "b", "7", None)],
        False,
    ),
    ("id-without-data-kept", b"id: 7\n\ndata: a\n\n", [("message", "a", "7", None)], False),
    (
        "id-with-nul-ignored",
        b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n",
        [("message", "a", "7", None), ("message", "b", "7", None)],
        False,
    ),
    (
        "empty-id-resets",
        b"id: 7\ndata: a\n\nid\ndata: b\n\n",
        [("message", "a", "7", None), ("message", "b", "", None)],
        False,
    ),
    ("retry", b"retry: 3000\ndata: a\n\n", [("message", "a", None, 3000)], False),
    (
        "retry-per-event",
        b"retry: 5\ndata: a\n\ndata: b\n\n",
        [("message", "a", None, 5), ("message", "b", None, None)],
        False,
    ),
    (
        "retry-without-data-dropped",
        b"retry: 5\n\ndata: a\n\n",
        [("message", "a", None, None)],
        False,
    ),
    ("retry-not-digits", b"retry: 3s\ndata: a\n\n", [("message", "a", None, None)], False),
    ("retry-negative", b"retry: -1\ndata: a\n\n", [("message", "a", None, None)], False),
    ("retry-empty", b"retry:\ndata: a\n\n", [("message", "a", None, None)], False),
    (
        "retry-non-ascii-digit",
        "retry: \u0663\ndata: a\n\n".encode(),
        [("message", "a", None, None)],
        False,
    ),
    (
        "retry-invalid-keeps-valid",
        b"retry: 5\nretry: x\ndata: a\n\n",
        [("message", "a", None, 5)],
        False,
    ),
    ("unknown-field", b"foo: bar\ndata: a\n\n", [("message", "a", None, None)], False),
    ("field-names-case-sensitive", b"Data: a\n\n", [], False),
    ("field-name-with-space", b"data : a\n\n", [], False),
    ("bom", BOM + b"data: a\n\n", [("message", "a", None, None)], False),
    ("second-bom-not-stripped", BOM + BOM + b"data: a\n\n", [], False),
    (
        "bom-not-at-start-kept",
        b"data: " + BOM + b"a\n\n",
        [("message", "\ufeffa", None, None)],
        False,
    ),
    (
        "invalid-utf8-replaced",
        b"data: \xff\xfea\n\n",
        [("message", "\ufffd\ufffda", None, None)],
        False,
    ),
    (
        "invalid-utf8-event-and-id",
        b"event: \xff\nid: \xfe\ndata: a\n\n",
        [("\ufffd", "a", "\ufffd", None)],
        False,
    ),
    (
        "unicode-separators-not-split",
        "data: a\u2028b\u0085c\x0bd\x0ce\n\n".encode(),
        [("message", "a\u2028b\u0085c\x0bd\x0ce", None, None)],
        False,
    ),
    ("done-is-an-event", b"data: [DONE]\n\n", [("message", "[DONE]", None, None)], False),
    ("empty-stream", b"", [], False),
    ("pending-mid-line", b"data: a\n\ndata: b", [("message", "a", None, None)], True),
    ("pending-data-without-blank", b"data: a\n", [], True),
    ("pending-data-after-cr", b"data: a\r", [], True),
    ("pending-comment-mid-line", b": keep", [], True),
    ("not-pending-after-comment", b": keep-alive\n", [], False),
    ("not-pending-after-event-field", b"event: add\n", [], False),
    ("pending-partial-bom", b"\xef\xbb", [], True),
]


@pytest.mark.parametrize(
    ("body", "expected", "pending"),
    [pytest.param(body, expected, pending, id=name) for name, body, expected, pending in RULES],
)
def test_rules(body: bytes, expected: List[Expected], pending: bool) -> None:
    """Each WHATWG rule gives the expected events and pending flag."""
    assert (expected, pending) == feed_all([body])


@pytest.mark.parametrize(
    ("body", "expected", "pending"),
    [pytest.param(body, expected, pending, id=name) for name, body, expected, pending in RULES],
)
def test_rules_byte_by_byte(body: bytes, expected: List[Expected], pending: bool) -> None:
    """Each rule holds when the stream arrives one byte per read."""
    assert (expected, pending) == feed_all(body[i : i + 1] for i in range(len(body)))


def test_crlf_split_across_feeds_is_one_line_ending() -> None:
    """A CR ending one read and an LF starting the next are one line ending."""
    assert feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == (
        [("message", "a\nb", None, None)],
        False,
    )


def test_crlf_split_survives_an_empty_feed() -> None:
    """An empty read between the CR and the LF does not turn the LF into a blank line."""
    assert feed_all([b"data: a\r", b"", b"\ndata: b\n\n"]) == (
        [("message", "a\nb", None, None)],
        False,
    )


def test_cr_then_cr_in_next_feed_is_a_blank_line() -> None:
    """A CR after a read ending in CR is a blank line that dispatches."""
    assert feed_all([b"data: a\r", b"\r"])[0] == [("message", "a", None, None)]


def test_feed_returns_events_as_soon_as_completed() -> None:
    """Each feed returns exactly the events its bytes complete."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b\n") == [("message", "a", None, None)]
    assert decoder.feed(b"\n") == [("message", "b", None, None)]


def test_multibyte_character_split_across_feeds() -> None:
    """A UTF-8 character cut between reads is decoded whole."""
    text = "h\u00e9\u20ac\U0001f600"
    body = f"data: {text}\n\n".encode()
    cut = body.index("\U0001f600".encode()) + 2
    assert [("message", text, None, None)] == feed_all([body[:cut], body[cut:]])[0]


def test_bom_split_across_feeds_is_ignored() -> None:
    """A BOM arriving in three reads is still dropped."""
    assert feed_all([b"\xef", b"\xbb", b"\xbfdata: a\n\n"])[0] == [("message", "a", None, None)]


def test_partial_bom_prefix_is_kept_when_no_bom_follows() -> None:
    """Bytes held while checking for a BOM are parsed once they turn out not to be one."""
    assert feed_all([b"event: \xef", b"\xbb\ndata: a\n\n"])[0] == [("\ufffd", "a", None, None)]


def test_long_line_over_many_feeds() -> None:
    """A data line spread over many reads is joined in order."""
    text = "".join(chr(0x41 + i % 26) for i in range(5000))
    body = f"data: {text}\n\n".encode()
    assert [("message", text, None, None)] == feed_all(split_at(body, range(7, len(body), 97)))[0]


def test_id_persists_across_feeds() -> None:
    """The last event id carries over to events completed by later reads."""
    decoder = SSEDecoder()
    decoder.feed(b"id: 42\ndata: a\n\n")
    assert decoder.feed(b"data: b\n\n") == [("message", "b", "42", None)]


def test_event_is_an_immutable_named_tuple() -> None:
    """Events expose their fields by name and cannot be changed."""
    (event,) = SSEDecoder().feed(b"event: e\nid: 1\nretry: 2\ndata: d\n\n")
    assert (event.event, event.data, event.id, event.retry) == ("e", "d", "1", 2)
    with pytest.raises(AttributeError):
        event.data = "x"  # type: ignore[misc]


def test_end_returns_nothing_and_keeps_pending() -> None:
    """end() dispatches no unfinished event and leaves pending readable."""
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n")
    assert (decoder.end(), decoder.pending) == ([], True)


def test_pending_clears_once_event_dispatched() -> None:
    """pending goes from True to False when the blank line arrives."""
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n")
    decoder.feed(b"\n")
    assert decoder.pending is False


# --- properties ---------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
DIGITS = st.text("0123456789", min_size=1, max_size=6)
FIELD = st.one_of(
    st.tuples(st.just("data"), TEXT),
    st.tuples(st.just("event"), TEXT),
    st.tuples(st.just("id"), st.one_of(TEXT, TEXT.map(lambda t: t + "\x00"))),
    st.tuples(st.just("retry"), st.one_of(DIGITS, TEXT)),
    st.tuples(st.just(""), TEXT),  # a comment
    st.tuples(st.sampled_from(["foo", "dat", "retryx"]), TEXT),
)
ENDING = st.sampled_from([b"\n", b"\r\n", b"\r"])
BLOCK = st.lists(st.tuples(FIELD, ENDING, st.booleans()), min_size=1, max_size=5)


@st.composite
def event_streams(draw: st.DrawFn) -> Tuple[bytes, List[Expected], bool]:
    """A valid-ish stream, the events the WHATWG rules give for it, and whether it is cut."""
    blocks = draw(st.lists(st.tuples(BLOCK, ENDING), max_size=6))
    body, expected, last_id = draw(st.sampled_from([b"", BOM])), [], None
    for lines, blank in blocks:
        data, event, retry = [], "", None
        for (name, value), ending, spaced in lines:
            sep = b": " if spaced or value.startswith(" ") else b":"
            body += name.encode() + sep + value.encode() + ending
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id" and "\x00" not in value:
                last_id = value
            elif name == "retry" and value and set(value) <= set("0123456789"):
                retry = int(value)
        # A CR line ending followed by an LF blank line would be one CRLF line ending.
        body += b"\r\n" if body.endswith(b"\r") and blank.startswith(b"\n") else blank
        if data:
            expected.append((event or "message", "\n".join(data), last_id, retry))
    cut = draw(st.booleans())
    if cut:
        body += b"data: " + draw(TEXT).encode() + draw(st.sampled_from([b"", b"\n"]))
    return body, expected, cut


@given(stream=event_streams(), data=st.data())
def test_any_split_gives_the_same_events(
    stream: Tuple[bytes, List[Expected], bool], data: st.DataObject
) -> None:
    """However the bytes are cut into reads, the events and pending flag are the same."""
    body = stream[0]
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=len(body)))
    whole = feed_all([body])
    assert whole == feed_all(split_at(body, cuts))
    assert whole == feed_all(body[i : i + 1] for i in range(len(body)))


@given(stream=event_streams())
def test_generated_stream_gives_the_modelled_events(
    stream: Tuple[bytes, List[Expected], bool],
) -> None:
    """A generated stream parses to the events built from its fields, pending iff cut."""
    body, expected, cut = stream
    assert (expected, cut) == feed_all([body])


NOISE = st.lists(
    st.one_of(
        st.sampled_from([b"\r", b"\n", b":", b" ", b"data", b"id", b"event", b"retry", b"\x00"]),
        st.sampled_from([BOM, b"\xef\xbb", b"\xff", b"\xe2\x82", b"9" * 5000]),
        st.binary(max_size=6),
    ),
    max_size=40,
).map(b"".join)


@given(body=NOISE, data=st.data())
def test_arbitrary_bytes_never_raise_and_decode_to_text(body: bytes, data: st.DataObject) -> None:
    """Any bytes, cut anywhere, parse without error into events of text, split-invariantly."""
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=8))
    events, pending = feed_all(split_at(body, cuts))
    assert (events, pending) == feed_all([body])
    for event in events:
        assert (str, str) == (type(event.event), type(event.data))
        assert event.id is None or isinstance(event.id, str)
        assert event.retry is None or isinstance(event.retry, int)


DATA_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8).map(
            str.encode
        ),
        st.sampled_from([b"\xff", b"\xe2\x82", b"\xf0\x9f", b" ", b"data: ", b"[DONE]", b":"]),
    ),
    max_size=4,
).map(b"".join)
ODD = st.sampled_from(
    [b"", b": ping\n\n", b"event: x\n", b"\n", b"data:x\r\n", b"id: 7\n", b"data: y"]
)


@given(
    events=st.lists(st.tuples(DATA_TEXT, ODD), min_size=1, max_size=12),
    limit=st.sampled_from([None, 8, 64, 10**6]),
)
def test_reads_of_whole_data_events_match_byte_by_byte(
    events: List[Tuple[bytes, bytes]], limit: Optional[int]
) -> None:
    """A read of whole ``data:`` events (the fast path) gives what feeding bytes one by one does.

    The reads start after a first one, as in a stream; some reads mix in other lines,
    unfinished events or CR line endings, which must not take the fast path.
    """
    reads = [b": start\n\n"] + [b"data: " + text + b"\n\n" + odd for text, odd in events]
    reads.append(b"".join(b"data: " + text + b"\n\n" for text, _ in events))

    def run(pieces: Iterable[bytes]) -> Tuple[List[Expected], bool]:
        decoder = SSEDecoder(limit)
        got: List[Expected] = []
        try:
            for piece in pieces:
                got.extend(tuple(event) for event in decoder.feed(piece))  # type: ignore[misc]
        except Exception as exc:  # the limit: both ways must fail alike
            got.append((type(exc).__name__, "", None, None))
        return got, decoder.pending

    whole = run(reads)
    by_byte = run(bytes([b]) for piece in reads for b in piece)
    assert whole == by_byte
