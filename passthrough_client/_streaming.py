"""``Stream``: typed chunks from a server-sent-events response, as they arrive.

Each event is handed out as soon as its bytes are in, whatever the transfer encoding:
the body is read with :func:`._compat.read_available`, which returns whatever has
arrived, also part of an HTTP chunk (urllib3's ``read_chunked`` would wait for the
whole chunk; ``iter_lines``/``iter_content`` for 512 bytes, or for the end of a
close-delimited body, NOTES.md). The ``Content-Encoding`` is decoded here, piece by
piece (:mod:`._decode`), and one line or event over ``max_event_bytes`` raises
``InvalidResponseError``: a compression bomb or an endless line stops at the limit.

How a stream ends:

- ``data: [DONE]``: iteration ends at once. The rest of a framed body is drained (at
  most 64 KiB and 0.5 s, bounded by the socket's timeout rather than a timer thread)
  so the connection goes back to the pool; otherwise the connection is closed.
- The body ends without ``[DONE]``: a clean end. When the HTTP framing completed
  (chunked terminator, full ``Content-Length``), an unfinished last event with data is
  still handled, since some servers leave out the last blank line (one with empty
  data, a lone ``data:``, is ignored); an unfinished event at the end of a
  close-delimited body means the stream was cut: ``APIConnectionError``.
- An exception that is not the stream's own error interrupts it (``KeyboardInterrupt``
  during a read, say): the stream is closed, and iterating again or ``collect()``
  raises ``APIConnectionError`` ("stream was interrupted") rather than ending as if
  the stream were complete. After the stream's own error (``StreamError``...), it is
  simply over.
- A body without a single event that is JSON or not ``text/event-stream``: the service
  ignored ``stream``. ``StreamError`` for a JSON error object, else
  ``InvalidResponseError`` with a snippet.

The call's deadline is enforced by a timer that shuts the socket down (a read timeout
bounds each read only, never a trickling stream); a read that then fails or ends
raises ``APITimeoutError``.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any, Callable, Generic, Optional, TypeVar, Union

import requests

from ._assemble import ChatAccumulator, CompletionAccumulator
from ._http_info import HTTPInfo, attach
from ._json_stream import JSONAccumulator
from ._net.body import MAX_EVENT_BYTES, body_reader, transport_error
from ._net.errors import Route, translate
from ._responses import snippet
from ._rules.mask import NO_MASK, Masker
from ._rules.sse import ServerSentEvent, SSEDecoder
from ._send import Deadline, shutdown
from ._stream_clock import StreamClock, socket_of
from ._stream_end import drain as drain_body
from ._stream_end import framed
from ._stream_errors import error_message, json_or_none
from ._stream_events import Then, build_chunks
from .exceptions import APIConnectionError, InvalidResponseError, PassthroughError, StreamError
from .types import ChatCompletion, ChatCompletionChunk, Completion

__all__ = ["Stream"]

T = TypeVar("T", ChatCompletionChunk, Completion)

READ_SIZE = 65536
HEAD_BYTES = 65536  # kept of a body that has not produced an event yet, to explain it


class Stream(Generic[T]):
    """An iterator of typed chunks from a streamed ``chat`` or ``completions`` call.

    Each chunk is yielded as soon as its bytes arrive. Use it as a context manager or
    call :meth:`close` to stop early: that closes the connection, which cancels the
    generation on the server (so does dropping an unfinished stream). :meth:`collect`
    consumes the rest and returns the assembled ``ChatCompletion`` (or
    ``Completion``), including chunks already iterated. ``.response`` is the
    underlying ``requests.Response``.

    Raises :class:`StreamError` for an error event (after the chunks before it),
    :class:`InvalidResponseError` for data that is not a JSON object,
    :class:`APIConnectionError` for a stream cut mid-event and
    :class:`APITimeoutError` when a read times out or the call's deadline passes.
    """

    #: The response's :class:`HTTPInfo` (set by the client; ``None`` otherwise).
    http: Optional[HTTPInfo] = None
    _clock: Optional[StreamClock] = None  # first_event_timeout/idle_timeout, set by the client

    def __init__(
        self,
        response: requests.Response,
        chunk_type: type[T],
        *,
        route: Route,
        deadline: Deadline,
        masker: Masker = NO_MASK,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._done = False  # first: close() and __del__ rely on it
        self._masker = masker  # the call's secrets, masked in errors built from events
        self._interrupted: Optional[str] = None  # what interrupted an iteration
        self._response = response
        self._raw: Any = response.raw
        self._parse: Callable[[Any], T] = chunk_type.from_dict
        self._route = route
        self._deadline = deadline
        self._decoder = SSEDecoder(max_event_bytes)
        # The chunks of the last read, handed out one by one (see build_chunks); then what
        # ended the read's events, if anything: [DONE] or an error to raise.
        self._chunks: list[T] = []
        self._next = 0  # index of the next chunk of _chunks to hand out
        self._settled = 0  # chunks of _chunks before this one are in the accumulator
        self._then: Optional[Then] = None
        self._eof = False
        self._head: Optional[bytearray] = bytearray()  # the body, until an event arrives
        self._accumulator: Union[ChatAccumulator, CompletionAccumulator] = (
            ChatAccumulator() if chunk_type is ChatCompletionChunk else CompletionAccumulator()
        )
        self._lock = threading.Lock()  # orders the deadline timer against the end
        self._expired = False
        self._timer: Optional[threading.Timer] = None
        try:
            self._read_more = body_reader(response, READ_SIZE)
        except InvalidResponseError:  # a Content-Encoding the client cannot decode
            self._fail()
            raise
        self._timer = self._watch()

    @property
    def response(self) -> requests.Response:
        """The HTTP response the events are read from."""
        return self._response

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        i = self._next
        if i < len(self._chunks):  # the usual case: a chunk of the last read
            self._next = i + 1
            return self._chunks[i]
        return self._advance()

    def _advance(self) -> T:
        """Read on until a chunk is ready, or the stream ends (``StopIteration``) or fails."""
        try:
            while True:
                i = self._next
                if i < len(self._chunks):
                    self._next = i + 1
                    return self._chunks[i]
                if self._then is not None:
                    self._take_then()
                elif self._done:
                    if self._interrupted:
                        raise APIConnectionError(
                            f"stream was interrupted ({self._interrupted}); it was closed "
                            "and cannot be read further"
                        )
                    raise StopIteration
                elif self._eof:
                    self._finish(drain=False)
                else:
                    self._read()
        except StopIteration:
            raise
        except PassthroughError:  # the stream's own verdict: it is over, and says why
            self._fail()
            raise
        except BaseException as exc:  # a KeyboardInterrupt, or a failure of ours
            if self._interrupted is None:  # only the first: later ones repeat this note
                self._interrupted = f"by {type(exc).__name__}"
            self._fail()
            raise

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(
            "a Stream cannot be pickled: it reads from an open connection of this "
            "process; collect() it (or pickle its chunks) and send the result instead"
        )

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A stream dropped unfinished (a ``break`` out of the loop) closes its
        # connection now, not when the garbage collector or the deadline timer runs.
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        """Stop reading and close the connection (the server sees the cancel).

        Safe to call more than once, and from another thread to cancel a stream
        that is waiting for data: the waiting iteration then simply ends.
        """
        if not self._done:
            self._fail()

    def collect(self) -> Union[ChatCompletion, Completion]:
        """Consume the rest and return the assembled completion (all chunks, also earlier ones).

        Its ``.http`` is the stream's. Raises ``TypeError`` for a stream of
        ``client.request(..., stream=True)``, whose events have no known shape.
        """
        if isinstance(self._accumulator, JSONAccumulator):
            raise TypeError(JSONAccumulator.WHY)
        for _ in self:
            pass
        self._settle()
        return attach(self._accumulator.result(), self.http)

    # ------------------------------------------------------------ reading

    def _read(self) -> None:
        clock = self._clock
        try:
            if clock is not None:
                clock.wait(socket_of(self._raw))
            data = self._read_more()
        except Exception as exc:
            if self._done:  # closed from another thread while waiting
                return
            if isinstance(exc, PassthroughError):  # e.g. a body that cannot be decoded
                raise
            if clock is not None and not self._expired and clock.expired():
                raise self._failure(clock.error()) from exc
            raise self._failure(self._broken(exc)) from exc
        if self._done:
            return
        if data:
            events = self._decoder.feed(data)
            if self._head is not None:
                self._keep(data, events)
            if clock is not None and clock.after_read(events):
                raise self._failure(clock.error())
        else:
            self._eof = True
            events = self._at_eof()
        self._settle()
        self._chunks, self._then = build_chunks(events, self._parse)
        self._next = self._settled = 0

    def _keep(self, data: bytes, events: list[ServerSentEvent]) -> None:
        """Remember the start of a body that has produced no event yet."""
        if events:
            self._head = None
        elif self._head is not None and len(self._head) < HEAD_BYTES:
            self._head += data

    def _at_eof(self) -> list[ServerSentEvent]:
        """The body ended: the events still to handle; raises when it was cut."""
        if self._expired:
            raise self._failure(self._deadline.expired())
        if self._head:
            self._check_is_stream(bytes(self._head))
        if not self._decoder.pending:
            return []
        event = self._decoder.flush()
        if framed(self._raw) or (event is not None and event.data == "[DONE]"):
            return [] if event is None else [event]
        raise self._failure(
            APIConnectionError(
                f"the stream from {self._route.address} ended in the middle of an event"
            )
        )

    def _check_is_stream(self, head: bytes) -> None:
        """Raise when a body without any event is not an event stream at all."""
        content_type = self._response.headers.get("Content-Type", "")
        is_json = head.lstrip()[:1] in (b"{", b"[")
        if not is_json and content_type.lower().startswith("text/event-stream"):
            return
        payload = json_or_none(head) if is_json else None
        if isinstance(payload, dict) and payload.get("error"):
            raise self._failure(StreamError(error_message(payload), body=payload))
        raise self._failure(
            InvalidResponseError(
                "the service did not answer with an event stream "
                f"(Content-Type: {content_type or 'none'}): {snippet(head)!r}"
            )
        )

    def _broken(self, exc: Exception) -> APIConnectionError:
        if self._expired or (self._deadline.at is not None and not self._deadline.allows(0)):
            return self._deadline.expired()
        return translate(transport_error(exc), self._route)

    # ------------------------------------------------------------ events

    def _take_then(self) -> None:
        """Act on what ended the last read's chunks: finish at [DONE], or raise."""
        then, self._then = self._then, None
        assert then is not None
        if then.error is None:
            self._finish(drain=True)
        elif then.mask:
            raise self._failure(then.error)
        else:
            self._fail()
            raise then.error

    def _settle(self) -> None:
        """Add the chunks handed out since the last call to the accumulator."""
        end = self._next
        if end > self._settled:
            self._accumulator.add_all(self._chunks[self._settled : end])  # type: ignore[arg-type]
            self._settled = end

    # ------------------------------------------------------------ the end

    def _finish(self, *, drain: bool) -> None:
        """The stream ended normally: give the connection back to the pool if we can."""
        if self._stop() and (not drain or drain_body(self._raw, self._read_more)):
            self._raw.release_conn()
        else:
            self._response.close()

    def _fail(self) -> None:
        self._stop()
        shutdown(self._response)  # also wakes a read waiting in another thread
        self._response.close()

    def _failure(self, error: Exception) -> Exception:
        self._fail()
        self._masker.rewrite(error)  # the service's text may quote a secret of the call
        return error

    def _stop(self) -> bool:
        """Mark the stream done and disarm the deadline; False if the deadline fired."""
        with self._lock:
            self._done = True
            self._settle()  # collect() after close() still holds the chunks handed out
            self._chunks = []
            self._then = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return not self._expired

    def _watch(self) -> Optional[threading.Timer]:
        """Arm the deadline's timer (holding only a weak reference to the stream)."""
        try:
            left = self._deadline.remaining()
        except Exception:
            self._fail()
            raise
        if left is None:
            return None
        timer = threading.Timer(left, _on_deadline, (weakref.ref(self),))
        timer.daemon = True
        timer.start()
        return timer

    def _expire(self) -> None:
        """Called by the timer when the deadline passes: unblock and fail the read."""
        with self._lock:
            if not self._done:
                self._expired = True
                shutdown(self._response)

    def __str__(self) -> str:  # the display methods: IPython/Jupyter, print()
        """Summarise without reading: what it yields, whether it is open, the HTTP status."""
        kind, state, status = (value for _, value in self._summary_rows())
        hint = ": iterate it or call .collect()" if state == "open" else ""
        return f"Stream of {kind} ({state}, HTTP {status}){hint}"

    def _summary_rows(self) -> list[tuple[str, str]]:
        # Displaying must never consume the stream: only what is already known.
        chat = isinstance(self._accumulator, ChatAccumulator)
        kind = "ChatCompletionChunk" if chat else "Completion"
        state = "finished or closed" if self._done else "open"
        status = f"{self._response.status_code} {self._response.reason or ''}".strip()
        return [("yields", kind), ("state", state), ("status", status)]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's text display: the summary, never reading from the stream."""
        printer.text(str(self))

    def _repr_html_(self) -> str:
        """Jupyter's HTML display: the summary as an escaped table, never reading."""
        from ._display import html_table  # imported on use: only notebooks need it

        return html_table("Stream", self._summary_rows())


def _on_deadline(ref: weakref.ref[Stream[Any]]) -> None:
    stream = ref()
    if stream is not None:
        stream._expire()
