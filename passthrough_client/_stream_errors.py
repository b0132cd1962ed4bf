"""The errors a stream raises for an event: an error event, or data that is not JSON."""

from __future__ import annotations

import json
from typing import Any

from ._responses import snippet
from ._rules.sse import ServerSentEvent
from .exceptions import InvalidResponseError, StreamError

__all__ = ["MESSAGE_LIMIT", "bad_event", "error_message", "json_or_none", "not_json"]

MESSAGE_LIMIT = 1000


def json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def not_json(event: ServerSentEvent) -> Exception:
    if event.event == "error":
        return StreamError(error_message(event.data), body=event.data)
    return InvalidResponseError(f"a stream event is not JSON: {snippet(event.data)!r}")


def bad_event(event: ServerSentEvent, payload: Any) -> Exception:
    if event.event == "error" or (isinstance(payload, dict) and payload.get("error")):
        return StreamError(error_message(payload), body=payload)
    return InvalidResponseError(f"a stream event is not a JSON object: {snippet(event.data)!r}")


def error_message(payload: Any) -> str:
    """``str()`` of a ``StreamError``: the service's own message wherever it put it."""
    error = payload.get("error") if isinstance(payload, dict) else payload
    message: Any = None
    for source in (error, payload):
        if isinstance(source, dict):
            message = next(
                (source[k] for k in ("message", "detail") if isinstance(source.get(k), str)),
                None,
            )
        elif isinstance(source, str) and source:
            message = source
        if message:
            break
    if not message:
        message = json.dumps(payload, ensure_ascii=False) if payload is not None else "(empty)"
    return f"the service reported an error in the stream: {str(message)[:MESSAGE_LIMIT]}"
