"""Response bodies -> JSON values and status errors (pure apart from reading attributes)."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from ._retry import retry_after
from .exceptions import APIStatusError, InvalidResponseError, status_error_class

__all__ = ["decode_json", "snippet", "status_error"]

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
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        raise InvalidResponseError(f"the response is not JSON: {snippet(content)!r}") from None


def _message_from(body: Any, text: str) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        for key in ("message", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
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
