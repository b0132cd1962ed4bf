"""``Stream``: typed chunks from a server-sent-events response, as they arrive."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar, Union

import requests

from ._assemble import ChatAccumulator, CompletionAccumulator
from ._errors import Route, translate
from ._responses import snippet
from ._send import Deadline, shutdown
from ._sse import ServerSentEvent, SSEDecoder
from .exceptions import APIConnectionError, InvalidResponseError, StreamError
from .types import ChatCompletion, ChatCompletionChunk, Completion

__all__ = ["Stream"]

T = TypeVar("T", ChatCompletionChunk, Completion)

READ_SIZE = 65536
DRAIN_BYTES = 65536
DRAIN_SECONDS = 0.5


class Stream(Generic[T]):
    """An iterator of typed chunks from a streamed ``chat`` or ``completions`` call.

    Each chunk is yielded as soon as its bytes arrive. Use it as a context manager or
    call :meth:`close` to stop early: that closes the connection, which cancels the
    generation on the server. :meth:`collect` consumes the rest and returns the
    assembled ``ChatCompletion`` (or ``Completion``), including chunks already
    iterated. ``.response`` is the underlying ``requests.Response``.

    Raises :class:`StreamError` for an error event, :class:`InvalidResponseError` for
    data that is not a JSON object, :class:`APIConnectionError` for a stream cut
    mid-event and :class:`APITimeoutError` when the call's deadline passes.
    """

    def __init__(
        self,
        response: requests.Response,
        chunk_type: type[T],
        *,
        route: Route,
        deadline: Deadline,
    ) -> None:
        self._response = response
        self._parse: Callable[[Any], T] = chunk_type.from_dict
        self._route = route
        self._deadline = deadline
        self._decoder = SSEDecoder()
        self._ready: list[ServerSentEvent] = []
        self._accumulator: Union[ChatAccumulator, CompletionAccumulator] = (
            ChatAccumulator() if chunk_type is ChatCompletionChunk else CompletionAccumulator()
        )
        self._done = False
        self._timer: Optional[threading.Timer] = deadline.watch(response)

    @property
    def response(self) -> requests.Response:
        """The HTTP response the events are read from."""
        return self._response

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        while True:
            if self._ready:
                chunk = self._handle(self._ready.pop(0))
                if chunk is not None:
                    return chunk
                continue
            if self._done:
                raise StopIteration
            self._read()

    def _read(self) -> None:
        try:
            data = self._response.raw.read1(READ_SIZE, decode_content=True)
        except Exception as exc:
            self._fail()
            raise self._translate(exc) from exc
        if data:
            self._ready = self._decoder.feed(data)
            return
        if self._decoder.pending:
            self._fail()
            raise APIConnectionError(
                f"the stream from {self._route.address} ended in the middle of an event"
            )
        self._finish(drain=False)

    def _translate(self, exc: Exception) -> Exception:
        if self._deadline.at is not None and not self._deadline.allows(0):
            return self._deadline.expired()
        if isinstance(exc, (requests.RequestException, OSError)) or type(exc).__module__.startswith(
            "urllib3"
        ):
            return translate(exc, self._route)
        return exc

    def _handle(self, event: ServerSentEvent) -> Optional[T]:
        if event.data == "[DONE]":
            self._finish(drain=True)
            return None
        payload = self._decode(event)
        if event.event == "error" or (isinstance(payload, dict) and payload.get("error")):
            self._fail()
            raise StreamError(_error_message(payload), body=payload)
        if not isinstance(payload, dict):
            self._fail()
            raise InvalidResponseError(
                f"a stream event is not a JSON object: {snippet(event.data)!r}"
            )
        chunk: T = self._parse(payload)
        self._accumulator.add(chunk)  # type: ignore[arg-type]
        return chunk

    def _decode(self, event: ServerSentEvent) -> Any:
        try:
            return json.loads(event.data)
        except ValueError:
            if event.event == "error":
                return event.data
            self._fail()
            raise InvalidResponseError(
                f"a stream event is not JSON: {snippet(event.data)!r}"
            ) from None

    def _finish(self, *, drain: bool) -> None:
        """The stream ended normally: give the connection back to the pool if we can."""
        self._done = True
        self._ready = []
        self._cancel_timer()
        if drain and not _drain(self._response):
            self._response.close()
            return
        self._response.raw.release_conn()

    def _fail(self) -> None:
        self._done = True
        self._ready = []
        self._cancel_timer()
        self._response.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop reading and close the connection (the server sees the cancel)."""
        if not self._done:
            self._fail()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def collect(self) -> Union[ChatCompletion, Completion]:
        """Consume the rest and return the assembled completion (all chunks, also earlier ones)."""
        for _ in self:
            pass
        return self._accumulator.result()


def _error_message(payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        message = error.get("message") or json.dumps(error)[:500]
    elif isinstance(error, str):
        message = error
    else:
        message = json.dumps(payload)[:500] if payload is not None else "error event"
    return f"the service reported an error in the stream: {message}"


def _drain(response: requests.Response) -> bool:
    """Read what follows ``[DONE]`` (at most 64 KiB and 0.5 s); whether the body ended."""
    timer = threading.Timer(DRAIN_SECONDS, shutdown, (response,))
    timer.daemon = True
    timer.start()
    read = 0
    try:
        while read <= DRAIN_BYTES:
            data = response.raw.read1(READ_SIZE, decode_content=True)
            if not data:
                return True
            read += len(data)
    except Exception:
        return False
    finally:
        timer.cancel()
    return False
