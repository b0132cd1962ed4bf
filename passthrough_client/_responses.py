"""Response bodies -> JSON values and status errors (pure apart from reading attributes).

Text taken from a body for a message (an error message, a snippet) is masked with the
call's :class:`Masker` before it is cut, so no secret and no start of one shows. An
HTML error page (from a proxy or gateway) is shown by its title, not its markup.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional

from ._net.body import body_reader, read_error_content
from ._rules.mask import NO_MASK, Masker
from ._rules.retry import retry_after
from .exceptions import APIStatusError, InvalidResponseError, status_error_class

__all__ = [
    "decode_json",
    "html_message",
    "is_html",
    "read_error_body",
    "snippet",
    "status_error",
]

SNIPPET = 200
MESSAGE_LIMIT = 1000


def snippet(data: Any, limit: int = SNIPPET, masker: Masker = NO_MASK) -> str:
    """A short, printable excerpt of a body for error messages (at most ``limit`` chars),
    with the call's secrets masked."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data[: limit * 4]).decode("utf-8", "replace")
    elif not isinstance(data, str):
        try:
            data = json.dumps(data, ensure_ascii=False)
        except (TypeError, ValueError):
            data = repr(data)
    text = repr(masker(data[: limit * 2])[:limit])[1:-1]
    return masker(text[: limit - 3] + "..." if len(text) > limit else text)


def decode_json(content: bytes, masker: Masker = NO_MASK) -> Any:
    """Parse a JSON body; :class:`InvalidResponseError` with a snippet when it is not JSON."""
    if not content.strip():
        raise InvalidResponseError("the response body is empty (expected JSON)")
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        raise InvalidResponseError(
            f"the response is not JSON: {snippet(content, masker=masker)}"
        ) from None


HTML_SUFFIX = " (HTML page, likely from a proxy or gateway)"
_HTML_START = re.compile(rb"\s*<(!doctype\s+html|html)[\s>]", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def is_html(headers: Mapping[str, str], content: bytes) -> bool:
    """Whether a body is an HTML page: ``text/html``, or it starts like one."""
    content_type = (headers.get("content-type") or "").lower()
    return content_type.startswith("text/html") or bool(_HTML_START.match(content[:256]))


def html_message(text: str, masker: Masker = NO_MASK, limit: int = SNIPPET) -> str:
    """An HTML page's ``<title>`` (unescaped, whitespace collapsed, masked) plus
    :data:`HTML_SUFFIX`, at most ``limit`` characters: the title is shortened so the
    suffix always stays. Without a title, a short generic text with the suffix."""
    import html  # imported on use (about 2 ms): only error pages need it

    found = _TITLE.search(text[:65536])
    title = " ".join(html.unescape(found.group(1)).split()) if found else ""
    title = masker(title) or "an error page without a title"
    room = limit - len(HTML_SUFFIX)
    if len(title) > room:
        title = masker(title[: room - 3].rstrip() + "...")
    return title + HTML_SUFFIX


def _message_from(body: Any, text: str, masker: Masker) -> str:
    """``body["error"]["message"]`` when it is a string, else the body text (cut to 1000);
    masked either way."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return masker(str(error["message"]))
    return masker.cut(text, MESSAGE_LIMIT) if text else "(empty body)"


def status_error(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    response: Any = None,
    masker: Masker = NO_MASK,
) -> APIStatusError:
    """The :class:`APIStatusError` subclass for an error response, with its details.

    ``.message`` has the call's secrets masked (``.body`` keeps what was received);
    an HTML page becomes its title (see :func:`html_message`).
    """
    text = content.decode("utf-8", "replace")
    try:
        body: Any = json.loads(content) if content else text
    except (ValueError, RecursionError):
        body = text
    if isinstance(body, str) and is_html(headers, content):
        message = html_message(text, masker)
    else:
        message = _message_from(body, text, masker)
    request_id: Optional[str] = headers.get("x-request-id")
    return status_error_class(status)(
        message,
        status_code=status,
        body=body,
        request_id=request_id,
        response=response,
        retry_after=retry_after(headers),
    )


ERROR_EVENT_LIMIT = 65536


def read_error_body(response: Any) -> bytes:
    """An error response's body, read with bounds (the response may be streaming).

    An event stream yields the data of its first event (at most 64 KiB are read: a
    server may follow the error with keep-alives forever); any other body is read up
    to 1 MiB, counted after decoding its ``Content-Encoding``. Transport exceptions
    propagate for the caller to translate.
    """
    if getattr(response, "_content_consumed", False):
        return bytes(response.content or b"")
    if "text/event-stream" in response.headers.get("content-type", ""):
        return _first_event_data(response)
    return read_error_content(response)


def _first_event_data(response: Any) -> bytes:
    from ._rules.sse import SSEDecoder

    decoder = SSEDecoder()
    seen = b""
    try:
        read = body_reader(response, 65536)
        while len(seen) <= ERROR_EVENT_LIMIT:
            data = read()
            if not data:
                break
            seen += data
            for event in decoder.feed(data):
                if event.data:
                    return event.data.encode("utf-8")
    except InvalidResponseError:  # undecodable: what arrived before is all there is
        pass
    return seen[:ERROR_EVENT_LIMIT]
