"""``PassthroughClient``: a thin composition root over transport, request and types."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, TypeVar, Union, overload

from ._call_options import NO_DEFAULTS, Defaults
from ._call_options import Call as _Call
from ._client_extras import ClientExtras
from ._client_setup import check_options, resolve_config
from ._http_info import HTTPInfo, attach, http_info
from ._json_stream import JSONObject
from ._loading import Source
from ._models import ModelCache
from ._net.body import MAX_EVENT_BYTES, MAX_RESPONSE_BYTES
from ._net.environ import environment_snapshot
from ._net.transport import Transport
from ._request import RequestBuilder, encode_body, merge_body
from ._responses import decode_json, snippet
from ._rules.mask import Masker
from ._send import Sender, TimeoutArg, check_limits
from ._streaming import Stream
from .config import PassthroughConfig
from .exceptions import InvalidResponseError, ModelNotAllowedError
from .types import ChatCompletion, ChatCompletionChunk, Completion, EmbeddingsResponse, Model

__all__ = ["PassthroughClient"]

log = logging.getLogger(__name__.rpartition(".")[0])

T = TypeVar("T")

ProviderData = Union[Mapping[str, Any], str, bytes, None]


def _unpickle_client(
    config: PassthroughConfig,
    options: dict[str, Any],
    environ: dict[str, str],
    defaults: Defaults = NO_DEFAULTS,
) -> PassthroughClient:
    client = PassthroughClient(config, environ=environ, **options)
    client._defaults = defaults  # a with_options copy keeps its per-call defaults
    return client


class PassthroughClient(ClientExtras):
    """A synchronous client for an OpenAI-compatible inference service.

    ``config`` is a :class:`PassthroughConfig`, a mapping or a file path (as
    :func:`load_config`); without one, ``PASSTHROUGH_URL`` and ``PASSTHROUGH_API_KEY``
    configure it. ``base_url``/``api_key`` override the configuration. One
    ``requests.Session`` is built here and shared by every call; the client is safe to
    share between threads. Use it as a context manager, or call :meth:`close`.
    ``max_response_bytes`` bounds a non-streaming reply's body once decoded, and
    ``max_event_bytes`` one line or event of a stream: a bigger one raises
    :class:`InvalidResponseError` (naming the limit) and is never held in memory.

    Raises :class:`ConfigError` for an invalid configuration or limit.
    """

    def __init__(
        self,
        config: Union[PassthroughConfig, Source, None] = None,
        *,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        max_retries: int = 2,
        pool_maxsize: int = 10,
        refresh_interval: float = 300.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if environ is None else environ
        check_options(max_retries, pool_maxsize, refresh_interval)
        check_limits(max_response_bytes=max_response_bytes, max_event_bytes=max_event_bytes)
        # Every constructor option, in one place: pickling rebuilds the client from
        # these (a new option only needs adding here to travel with the client).
        self._options: dict[str, Any] = {
            "max_retries": max_retries,
            "pool_maxsize": pool_maxsize,
            "refresh_interval": refresh_interval,
            "max_response_bytes": max_response_bytes,
            "max_event_bytes": max_event_bytes,
        }
        self._environ = environment_snapshot(env)
        self.config = resolve_config(config, base_url, api_key, env)
        self._transport = Transport(self.config, environ=env, pool_maxsize=pool_maxsize)
        self._requests = RequestBuilder(self.config, self._transport.headers)
        self._sender = Sender(
            self._transport,
            max_retries,
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
        )
        self._models = ModelCache(refresh=self.config.refresh_models, interval=refresh_interval)
        allowed = self.config.allowed_models
        self._allowed = None if allowed is None else frozenset(allowed)
        if self._transport.tls.verify is False:
            log.warning("TLS certificate verification is disabled (network.tls.verify: false)")

    def __repr__(self) -> str:
        base = (self.config.base_url or "(from provider data)").split("?", 1)[0]
        key = "set" if self.config.api_key else "none"
        return f"<PassthroughClient base_url={base!r} api_key={key}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as configuration, options and the environment read at construction.

        The copy (in a ``spawn`` pool or a Dask worker) resolves the same settings
        without reading that process's environment, and opens its own connections.
        The configuration's secrets travel inside the pickle.
        """
        options, environ = dict(self._options), dict(self._environ)
        return (_unpickle_client, (self.config, options, environ, self._defaults))

    def __enter__(self) -> PassthroughClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close all pooled connections (a ``with_options`` copy leaves them to the original)."""
        if not self._shared:
            self._transport.close()

    @property
    def session(self) -> Any:
        """The ``requests.Session`` this client sends through (do not modify it)."""
        return self._transport.session

    # ------------------------------------------------------------ calls

    @overload
    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        **params: Any,
    ) -> ChatCompletion: ...

    @overload
    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        **params: Any,
    ) -> Stream[ChatCompletionChunk]: ...

    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: bool = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        **params: Any,
    ) -> Union[ChatCompletion, Stream[ChatCompletionChunk]]:
        """``POST {api}/chat/completions``: a ``ChatCompletion``, or a ``Stream`` of chunks.

        ``params`` go into the body verbatim (top-level ``None`` values omitted), then
        ``extra_body`` is merged over it (shallow). Raises :class:`ModelNotAllowedError`
        before any traffic for a model outside ``allowed_models``.
        """
        call = _Call(
            provider_data, extra_headers, timeout, deadline, max_retries,
            first_event_timeout, idle_timeout,
        )  # fmt: skip
        body = self._body({"model": model, "messages": messages}, stream, params, extra_body)
        if stream:
            return self._stream("/chat/completions", body, ChatCompletionChunk, call)
        return self._post("/chat/completions", body, call, ChatCompletion.from_dict)

    @overload
    def completions(
        self,
        *,
        model: str,
        prompt: Any,
        stream: Literal[False] = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        **params: Any,
    ) -> Completion: ...

    @overload
    def completions(
        self,
        *,
        model: str,
        prompt: Any,
        stream: Literal[True],
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        **params: Any,
    ) -> Stream[Completion]: ...

    def completions(
        self,
        *,
        model: str,
        prompt: Any,
        stream: bool = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        first_event_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        **params: Any,
    ) -> Union[Completion, Stream[Completion]]:
        """``POST {api}/completions``: a ``Completion``, or a ``Stream`` of chunks."""
        call = _Call(
            provider_data, extra_headers, timeout, deadline, max_retries,
            first_event_timeout, idle_timeout,
        )  # fmt: skip
        body = self._body({"model": model, "prompt": prompt}, stream, params, extra_body)
        if stream:
            return self._stream("/completions", body, Completion, call)
        return self._post("/completions", body, call, Completion.from_dict)

    def embeddings(
        self,
        *,
        model: str,
        input: Any,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        **params: Any,
    ) -> EmbeddingsResponse:
        """``POST {api}/embeddings``: an ``EmbeddingsResponse``."""
        call = _Call(provider_data, extra_headers, timeout, deadline, max_retries)
        body = self._body({"model": model, "input": input}, False, params, extra_body)
        return self._post("/embeddings", body, call, EmbeddingsResponse.from_dict)

    def models(
        self,
        *,
        refresh: bool = False,
        provider_data: ProviderData = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        timeout: TimeoutArg = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
    ) -> list[Model]:
        """``GET {api}/models``: the allowed models, in the service's order.

        Without provider data the list is cached (see ``refresh_models``);
        ``refresh=True`` lists afresh and raises if that fails. A call with provider
        data always lists afresh and leaves the cache alone.
        """
        call = _Call(provider_data, extra_headers, timeout, deadline, max_retries)
        if provider_data is not None:
            return self._list_models(call)
        return list(self._models.get(lambda: self._list_models(call), force=refresh))

    # ------------------------------------------------------------ internals

    def _body(
        self,
        fields: dict[str, Any],
        stream: bool,
        params: Mapping[str, Any],
        extra_body: Optional[Mapping[str, Any]],
    ) -> bytes:
        """The JSON body; the model that is actually sent must be allowed."""
        if stream:
            fields["stream"] = True
        fields = merge_body(fields, params, extra_body)
        self._check_model(fields.get("model"))
        return encode_body(fields)

    def _check_model(self, model: Any) -> None:
        if self._allowed is not None and (not isinstance(model, str) or model not in self._allowed):
            raise ModelNotAllowedError(str(model), self.config.allowed_models or ())

    def _list_models(self, call: _Call) -> list[Model]:
        payload, _, masker = self._send_json("GET", "/models", None, call)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            shown = snippet(payload, masker=masker)
            raise InvalidResponseError(f"the model list has no 'data' list: {shown}")
        with masker.applied():
            models = [Model.from_dict(item) for item in data]
        if self._allowed is None:
            return models
        return [m for m in models if m.id in self._allowed]

    def _post(self, endpoint: str, body: bytes, call: _Call, parse: Callable[[Any], T]) -> T:
        """POST, then ``parse`` the JSON object received (its errors masked), with ``.http``."""
        payload, info, masker = self._send_json("POST", endpoint, body, call)
        if not isinstance(payload, dict):
            shown = snippet(payload, masker=masker)
            raise InvalidResponseError(f"the response is not a JSON object: {shown}")
        with masker.applied():
            return attach(parse(payload), info)  # type: ignore[type-var]

    def _send_json(
        self, method: str, endpoint: str, body: Optional[bytes], call: _Call
    ) -> tuple[Any, HTTPInfo, Masker]:
        response, _, _, attempts, masker = self._open(method, endpoint, body, call, stream=False)
        return decode_json(response.content, masker), http_info(response, attempts), masker

    def _stream(
        self,
        endpoint: str,
        body: Optional[bytes],
        chunk_type: Any,
        call: _Call,
        *,
        method: str = "POST",
        join: Any = None,
    ) -> Stream[Any]:
        response, url, deadline, attempts, masker = self._open(
            method, endpoint, body, call, stream=True, join=join
        )
        stream = Stream(
            response,
            chunk_type or JSONObject,
            route=self._transport.route(url, self._sender.timeout_for(call.timeout)),
            deadline=deadline,
            masker=masker,
            max_event_bytes=self._sender.max_event_bytes,
        )
        return self._equip(stream, response, attempts, call, raw=chunk_type is None)
