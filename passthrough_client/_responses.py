"""Response bodies -> JSON values and status errors (pure apart from reading attributes)."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from ._compat import read_decoded
from ._retry import retry_after
from .exceptions import APIStatusError, InvalidResponseError, status_error_class

__all__ = [
    "decode_json",
    "read_error_body",
    "snippet",
    "status_error",
]

SNIPPET = 200
MESSAGE_LIMIT = 1000


def snippet(data: Any, limit: int = SNIPPET) -> str:
    """A short, printable excerpt of a body for error messages (at most ``limit`` chars)."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data[: limit * 4]).decode("utf-8", "replace")
    elif not isinstance(data, str):
        try:
            data = json.dumps(data, ensure_ascii=False)
        except (TypeError, ValueError):
            data = repr(data)
    text = repr(data[:limit])[1:-1]
    return text[: limit - 3] + "..." if len(text) > limit else text


def decode_json(content: bytes) -> Any:
    """Parse a JSON body; :class:`InvalidResponseError` with a snippet when it is not JSON."""
    if not content.strip():
        raise InvalidResponseError("the response body is empty (expected JSON)")
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        raise InvalidResponseError(f"the response is not JSON: {snippet(content)}") from None


def _message_from(body: Any, text: str) -> str:
    """``body["error"]["message"]`` when it is a string, else the body text (cut to 1000)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return str(error["message"])
    return text[:MESSAGE_LIMIT] if text else "(empty body)"


def status_error(
    status: int, headers: Mapping[str, str], content: bytes, response: Any = None
) -> APIStatusError:
    """The :class:`APIStatusError` subclass for an error response, with its details."""
    text = content.decode("utf-8", "replace")
    try:
        body: Any = json.loads(content) if content else text
    except (ValueError, RecursionError):
        body = text
    request_id: Optional[str] = headers.get("x-request-id")
    return status_error_class(status)(
        _message_from(body, text),
        status_code=status,
        body=body,
        request_id=request_id,
        response=response,
        retry_after=retry_after(headers),
    )


ERROR_BODY_LIMIT = 1 << 20
ERROR_EVENT_LIMIT = 65536


def read_error_body(response: Any) -> bytes:
    """An error response's body, read with bounds (the response may be streaming).

    An event stream yields the data of its first event (at most 64 KiB are read: a
    server may follow the error with keep-alives forever); any other body is read up
    to 1 MiB. Transport exceptions propagate for the caller to translate.
    """
    if getattr(response, "_content_consumed", False):
        return bytes(response.content or b"")
    if "text/event-stream" in response.headers.get("content-type", ""):
        return _first_event_data(response)
    chunks: list[bytes] = []
    size = 0
    while size <= ERROR_BODY_LIMIT:
        data = response.raw.read(65536, decode_content=True)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks)[:ERROR_BODY_LIMIT]


def _first_event_data(response: Any) -> bytes:
    from ._sse import SSEDecoder

    decoder = SSEDecoder()
    seen = b""
    while len(seen) <= ERROR_EVENT_LIMIT:
        data = read_decoded(response.raw, 65536)
        if not data:
            break
        seen += data
        for event in decoder.feed(data):
            if event.data:
                return event.data.encode("utf-8")
    return seen[:ERROR_EVENT_LIMIT]
