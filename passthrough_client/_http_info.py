"""Response metadata: ``HTTPInfo``, the ``.http`` of responses, and ``APIResponse``.

``.http`` is kept beside the typed fields, never among them: it is not part of
``to_dict()``, ``==``, ``hash`` or ``repr``, and objects built with ``from_dict`` (or
directly) have ``None``. The client attaches it after building a response, the way
``keep_raw`` keeps the received JSON, so the hot paths that build responses pay
nothing for it.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, NamedTuple, Optional, TypeVar

import attrs

from ._responses import decode_json
from ._wire import Wire

__all__ = ["APIResponse", "HTTPInfo", "Headers", "WithHTTP", "attach", "http_info"]

_W = TypeVar("_W", bound="WithHTTP")


class Headers(Mapping[str, str]):
    """Response headers: read-only, looked up by name in any case."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        # requests' CaseInsensitiveDict already looks up in any case; it is wrapped,
        # not copied (a copy would cost every call), and never handed out.
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        return self._headers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)

    def __len__(self) -> int:
        return len(self._headers)

    def __repr__(self) -> str:
        return f"Headers({dict(self._headers.items())!r})"


class HTTPInfo(NamedTuple):
    """What HTTP said about a response: the ``.http`` of responses and streams.

    ``status_code``; ``headers`` (read-only, case-insensitive); ``request_id`` (the
    ``x-request-id`` header, or ``None``); ``url`` (without its query); ``elapsed``
    (seconds from sending the last attempt until its response head arrived) and
    ``attempts`` (1 + the retries it took). Immutable; a named tuple because one is
    built for every call (about six times cheaper than a frozen attrs class), so
    ``chat()`` stays as fast as before. ``repr`` leaves the headers out.
    """

    status_code: int
    headers: Mapping[str, str]
    request_id: Optional[str] = None
    url: str = ""
    elapsed: float = 0.0
    attempts: int = 1

    def __repr__(self) -> str:
        return (
            f"HTTPInfo(status_code={self.status_code!r}, request_id={self.request_id!r}, "
            f"url={self.url!r}, elapsed={self.elapsed!r}, attempts={self.attempts!r})"
        )


def http_info(response: Any, attempts: int) -> HTTPInfo:
    """The ``HTTPInfo`` of a ``requests.Response`` that took ``attempts`` attempts."""
    headers = response.headers
    return HTTPInfo(
        response.status_code,
        Headers(headers),
        headers.get("x-request-id"),
        (response.url or "").split("?", 1)[0],
        response.elapsed.total_seconds(),
        attempts,
    )


@attrs.frozen(slots=True, kw_only=True)
class WithHTTP(Wire):
    """Base of the responses a call returns: ``.http`` is kept aside, like the raw JSON."""

    _http: Optional[HTTPInfo] = attrs.field(default=None, init=False, repr=False, eq=False)

    @property
    def http(self) -> Optional[HTTPInfo]:
        """The response's :class:`HTTPInfo`; ``None`` when not received by a call."""
        return self._http


def attach(obj: _W, info: Optional[HTTPInfo]) -> _W:
    """Set ``obj.http`` to ``info`` (bypassing the frozen ``__setattr__``); return ``obj``."""
    object.__setattr__(obj, "_http", info)
    return obj


class APIResponse:
    """The answer of :meth:`PassthroughClient.request`: the body as received, and ``.http``.

    ``content`` is the body's bytes; ``text`` decodes it (UTF-8 unless the response
    names another charset); ``json()`` parses it, raising ``InvalidResponseError`` for
    a body that is not JSON.
    """

    __slots__ = ("content", "http")

    def __init__(self, content: bytes, http: HTTPInfo) -> None:
        self.content = content
        self.http = http

    @property
    def status_code(self) -> int:
        """The HTTP status (always below 300: other answers raise ``APIStatusError``)."""
        return self.http.status_code

    @property
    def text(self) -> str:
        """The body as text: UTF-8 unless ``Content-Type`` names a charset (no Latin-1 guess)."""
        charset = _charset(self.http.headers.get("content-type", ""))
        try:
            return self.content.decode(charset or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``InvalidResponseError`` when it is not JSON."""
        return decode_json(self.content)

    def __repr__(self) -> str:
        return (
            f"<APIResponse [{self.http.status_code}] {self.http.url} ({len(self.content)} bytes)>"
        )


def _charset(content_type: str) -> Optional[str]:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None
