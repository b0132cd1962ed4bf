"""More of the client: ``request()`` for any endpoint, and ``with_options()`` copies.

A mixin of :class:`PassthroughClient`, kept apart so the composition root stays small.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Literal, Mapping, Optional, TypeVar, Union, overload

import requests

from ._call_options import NO_DEFAULTS, Call, Defaults, check_max_retries
from ._http_info import APIResponse, http_info
from ._json_stream import JSONAccumulator
from ._net.transport import Outgoing, Timeout
from ._paths import check_path, request_url
from ._request import _check_extra_headers, encode_body, endpoint_url
from ._rules.mask import Masker
from ._send import Deadline, TimeoutArg
from ._stream_clock import StreamClock, check_stream_timeouts
from ._streaming import Stream
from .exceptions import APITimeoutError, ConfigError

if TYPE_CHECKING:
    from ._net.transport import Transport
    from ._request import RequestBuilder
    from ._send import Sender

__all__ = ["ClientExtras"]

ProviderData = Union[Mapping[str, Any], str, bytes, None]
_C = TypeVar("_C", bound="ClientExtras")


class ClientExtras:
    """``request`` and ``with_options`` (mixed into :class:`PassthroughClient`)."""

    _defaults: Defaults = NO_DEFAULTS  # the per-call defaults of a with_options copy
    _shared = False  # a with_options copy: its pool belongs to the original

    if TYPE_CHECKING:
        _sender: Sender
        _requests: RequestBuilder
        _transport: Transport

        def _check_model(self, model: Any) -> None: ...

        def _stream(
            self,
            endpoint: str,
            body: Optional[bytes],
            chunk_type: Any,
            call: Call,
            *,
            method: str = "POST",
            join: Any = None,
        ) -> Stream[Any]: ...

    def with_options(
        self: _C,
        *,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> _C:
        """A client with other per-call defaults, sharing this one's pool and model cache.

        Cheap: no new session, no TLS context rebuilt. The copy's calls use
        ``timeout``/``max_retries`` unless a call gives its own; a call's
        ``extra_headers`` are merged over the copy's (the call wins per header name,
        in any case). Copies of copies accumulate, the later winning. Closing the
        copy does not close the shared pool (close the original). Invalid values
        raise :class:`ConfigError`.
        """
        if timeout is not None:
            self._sender.timeout_for(timeout)
        if max_retries is not None:
            check_max_retries(max_retries)
        if extra_headers is not None:
            if not isinstance(extra_headers, Mapping):
                raise ConfigError("extra_headers: expected a mapping of header names to values")
            _check_extra_headers(extra_headers)
        # Shares the transport, sender and model cache objects. Not copy.copy: that
        # would go through a pickling hook (__reduce__), which builds a new pool.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._defaults = self._defaults.over(timeout, max_retries, extra_headers)
        clone._shared = True
        return clone

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        stream: Literal[False] = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
    ) -> APIResponse: ...

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        stream: Literal[True],
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
    ) -> Stream[Any]: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        stream: bool = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
    ) -> Union[APIResponse, Stream[Any]]:
        """Call any endpoint of the service: ``APIResponse``, or a ``Stream`` of event objects.

        ``path`` without a leading ``/`` is joined to ``{api}`` (``"rerank"`` ->
        ``{api}/rerank``); with one, to the server root (``base_url`` without a
        trailing ``/v1``). Absolute or scheme-relative URLs and ``..`` segments (also
        percent-encoded) raise ``ValueError`` before any traffic. ``json`` is sent as
        the JSON body; a ``model`` in it must be in ``allowed_models``. ``params`` go
        into the query string. With ``stream=True`` the items are the events' parsed
        JSON objects (``collect()`` raises ``TypeError``). Same session, authorization,
        provider-data forwarding, retries, limits and errors as the other calls.
        """
        check_path(path)
        if not isinstance(method, str) or not method.isalpha():
            raise ValueError("method: expected an HTTP method such as 'POST'")
        if isinstance(json, Mapping) and "model" in json:
            self._check_model(json["model"])
        body = None if json is None else encode_body(json)
        join = functools.partial(_join, params=params)
        call = Call(
            provider_data, extra_headers, timeout, deadline, max_retries,
            first_event_timeout, idle_timeout,
        )  # fmt: skip
        if stream:
            return self._stream(path, body, None, call, method=method.upper(), join=join)
        response, _, _, attempts, _ = self._open(
            method.upper(), path, body, call, stream=False, join=join
        )
        return APIResponse(response.content, http_info(response, attempts))

    # ------------------------------------------------------------ shared by every call

    def _open(
        self,
        method: str,
        endpoint: str,
        body: Optional[bytes],
        call: Call,
        *,
        stream: bool,
        join: Any = None,
    ) -> tuple[requests.Response, str, Deadline, int, Masker]:
        """Send one call with retries: ``(response, url, deadline, attempts, masker)``.

        The copy's defaults go under the call's options. Before the first event of a
        stream, the response head counts toward ``first_event_timeout`` (else
        ``idle_timeout``): the read timeout is shortened to it, and a stall there is
        reported under that name.
        """
        if self._defaults is not NO_DEFAULTS:
            call = self._defaults.apply(call)
        if call.max_retries is not None:
            check_max_retries(call.max_retries)
        first = None
        if call.first_event_timeout is not None or call.idle_timeout is not None:
            check_stream_timeouts(call.first_event_timeout, call.idle_timeout, stream=stream)
            first = StreamClock.first_limit(call.first_event_timeout, call.idle_timeout)
        url, headers, (key, forwarded) = self._requests.build_call(
            endpoint, call.provider_data, call.extra_headers, body=body, stream=stream,
            join=join or endpoint_url,
        )  # fmt: skip
        timeout, deadline = self._sender.timeout_for(call.timeout), Deadline(call.deadline)
        if first is not None and first < timeout.read:
            timeout = Timeout(timeout.connect, first)
        masker = self._transport.masker(key, forwarded)
        outgoing = Outgoing(method, url, headers, body, masker)
        try:
            response, attempts = self._sender.send(
                outgoing, timeout=timeout, deadline=deadline, stream=stream,
                max_retries=call.max_retries,
            )  # fmt: skip
        except APITimeoutError as exc:
            if first is not None and isinstance(exc.__cause__, requests.ReadTimeout):
                clock = StreamClock(call.first_event_timeout, call.idle_timeout, started=0.0)
                raise clock.error() from exc
            raise
        return response, url, deadline, attempts, masker

    def _equip(
        self, stream: Stream[Any], response: requests.Response, attempts: int, call: Call, *,
        raw: bool,
    ) -> Stream[Any]:  # fmt: skip
        """Give a new stream its ``.http``, its event clock, and (raw) no assembling."""
        stream.http = info = http_info(response, attempts)
        if call.first_event_timeout is not None or call.idle_timeout is not None:
            started = time.monotonic() - info.elapsed  # when the last attempt was sent
            stream._clock = StreamClock(
                call.first_event_timeout, call.idle_timeout, started=started
            )
        if raw:
            stream._accumulator = JSONAccumulator()
        return stream


def _join(base_url: str, path: str, *, params: Optional[Mapping[str, Any]]) -> str:
    return request_url(base_url, path, params)
