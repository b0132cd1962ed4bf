"""One call's request: URL, headers and body, built from configuration and provider data.

Headers, later wins: the defaults (``User-Agent``, ``Accept``), ``network.headers``,
forwarded provider-data headers, the ``Authorization`` of the precedence rule (config
``api_key`` > ``passthrough_api_key`` > a forwarded ``Authorization`` >
``network.headers``), then the call's ``extra_headers``.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from ._forward import Forwarded, parse_provider_data, resolve_provider_data
from ._net.transport import USER_AGENT
from ._rules.decode import ACCEPT_ENCODING
from ._rules.headers import FRAMING_HEADERS, is_token, value_problem
from .config import PassthroughConfig
from .exceptions import ConfigError

__all__ = ["RequestBuilder", "Secrets", "api_root", "encode_body", "endpoint_url", "merge_body"]

log = logging.getLogger(__name__.rpartition(".")[0])

Secrets = tuple[Optional[str], tuple[str, ...]]  # (the API key in use, forwarded values)


def api_root(base_url: str) -> str:
    """``base_url`` with ``/v1`` appended unless its path already ends in ``/v1``.

    Trailing slashes never produce ``//`` or ``/v1/v1``; a path prefix is kept. Any
    query string is left out here (see :func:`endpoint_url`).
    """
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@functools.lru_cache(maxsize=256)  # the same few URLs on every call: parse them once
def endpoint_url(base_url: str, endpoint: str) -> str:
    """The URL of ``endpoint`` (e.g. ``/chat/completions``) under ``base_url``'s API root.

    A query string in ``base_url`` (``?api-version=...``) is kept, after the endpoint.
    """
    query = urlsplit(base_url).query
    return api_root(base_url) + endpoint + (f"?{query}" if query else "")


def merge_body(
    fields: dict[str, Any], params: Mapping[str, Any], extra: Optional[Mapping[str, Any]]
) -> dict[str, Any]:
    """The call's ``fields``, then ``params`` without top-level ``None``, then ``extra``.

    ``extra`` (the call's ``extra_body``) is merged shallowly and wins; nested values are
    never touched. Returns a new dict.
    """
    body = dict(fields)
    body.update((key, value) for key, value in params.items() if value is not None)
    if extra:
        body.update(extra)
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    """``body`` as compact UTF-8 JSON.

    Raises ``TypeError`` for a value JSON cannot hold and ``ValueError`` for NaN, an
    infinity or a circular reference (the message names the problem, never a value).
    """
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8"
        )
    except TypeError as exc:
        raise TypeError(f"the request body cannot be sent as JSON: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"the request body cannot be sent as JSON: {exc}") from None


def _set(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing any other spelling of the same name."""
    lower = name.lower()
    for existing in [k for k in headers if k.lower() == lower]:
        del headers[existing]
    headers[name] = value


def _check_extra_headers(extra: Mapping[str, str]) -> None:
    problems = []
    for name, value in extra.items():
        path = f"extra_headers[{name!r}]"
        if not isinstance(name, str) or not is_token(name):
            problems.append(f"{path}: not a valid header name")
        elif name.lower() in FRAMING_HEADERS:
            problems.append(f"{path}: set by the transport, cannot be given")
        elif not isinstance(value, str):
            problems.append(f"{path}: expected a string value")
        else:
            problem = value_problem(value)
            if problem:
                problems.append(f"{path}: {problem}")
    if problems:
        raise ConfigError(problems)


def _nothing_applies(forwarded: Forwarded) -> bool:
    """Whether provider data contributed nothing: no forwarded header, URL or key."""
    return not forwarded.matched and forwarded.base_url is None and not forwarded.api_key


class RequestBuilder:
    """Builds URLs and headers for one client; the config-derived parts are computed once."""

    def __init__(self, config: PassthroughConfig, network_headers: Mapping[str, str]) -> None:
        self._forward = config.forward_headers
        self._base_url = config.base_url or None
        key = config.api_key.get_secret_value() if config.api_key else ""  # validated by config
        self._key = key or None
        self._auth = f"Bearer {key}" if key else None
        # Accept-Encoding: only what _decode can decode within the size limits.
        base = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        for name, value in network_headers.items():
            _set(base, name, value)
        self._base = base
        self._plain = dict(base)
        if self._auth:
            _set(self._plain, "Authorization", self._auth)

    def build(
        self,
        endpoint: str,
        provider_data: Any,
        extra_headers: Optional[Mapping[str, str]],
        *,
        body: Optional[bytes] = None,
        stream: bool = False,
        join: Callable[[str, str], str] = endpoint_url,
    ) -> tuple[str, dict[str, str]]:
        """``(url, headers)`` for a call to ``endpoint`` (e.g. ``/chat/completions``).

        Raises :class:`ProviderDataError` for provider data that may not be sent,
        :class:`ConfigError` without a base URL (naming ``passthrough_url``) or for
        invalid ``extra_headers``; nothing has been sent then.
        """
        url, headers, _ = self.build_call(
            endpoint, provider_data, extra_headers, body=body, stream=stream, join=join
        )
        return url, headers

    def build_call(
        self,
        endpoint: str,
        provider_data: Any,
        extra_headers: Optional[Mapping[str, str]],
        *,
        body: Optional[bytes] = None,
        stream: bool = False,
        join: Callable[[str, str], str] = endpoint_url,
    ) -> tuple[str, dict[str, str], Secrets]:
        """:meth:`build`, plus the call's secrets: ``(api_key, forwarded values)``, the
        key in use and the forwarded header values, for masking shown text."""
        if extra_headers:
            _check_extra_headers(extra_headers)
        secrets: Secrets
        if provider_data is None:
            base_url, headers, secrets = self._base_url, dict(self._plain), (self._key, ())
        else:
            base_url, headers, secrets = self._with_provider_data(provider_data)
        if base_url is None:
            raise ConfigError(
                "passthrough_url: the configuration has no base_url and the provider data "
                "has no passthrough_url"
            )
        if stream:
            _set(headers, "Accept", "text/event-stream")
        if body is not None:
            # An explicit length: some servers refuse chunked request bodies.
            _set(headers, "Content-Type", "application/json")
            _set(headers, "Content-Length", str(len(body)))
        for name, value in (extra_headers or {}).items():
            _set(headers, name, value)
        return join(base_url, endpoint), headers, secrets

    def _with_provider_data(
        self, provider_data: Any
    ) -> tuple[Optional[str], dict[str, str], Secrets]:
        data = parse_provider_data(provider_data)
        forwarded = resolve_provider_data(data, self._forward)
        headers = dict(self._base)
        for name, value in forwarded.headers.items():
            _set(headers, name, value)
        auth = self._auth or (f"Bearer {forwarded.api_key}" if forwarded.api_key else None)
        if auth:
            _set(headers, "Authorization", auth)
        if self._forward and _nothing_applies(forwarded):
            log.warning("provider data given, but none of its keys is listed in forward_headers")
        secrets = (self._key or forwarded.api_key, tuple(forwarded.headers.values()))
        return self._base_url or forwarded.base_url, headers, secrets
