"""Provider data -> outbound headers, base URL and API key (pure, default-deny).

Provider data is the per-request JSON object a caller sends in the
``X-LlamaStack-Provider-Data`` header (or ``X-OGX-Provider-Data``). It often carries
other providers' settings and secrets, so nothing from it is sent unless the
configuration's ``forward_headers`` (provider-data key -> header name) lists the key.
The two special keys ``passthrough_url`` and ``passthrough_api_key`` are always read.

Every value that leaves is checked, never repaired: a value that cannot be sent as it
is raises ``ProviderDataError`` naming the key and the reason. No message built here
contains a value, and no foreign exception (whose text might) is chained.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Union
from urllib.parse import urlsplit, urlunsplit

import attrs

from ._rules.urls import service_url_problem
from .exceptions import ProviderDataError

__all__ = [
    "ALT_PROVIDER_DATA_HEADER",
    "PROVIDER_DATA_HEADER",
    "Forwarded",
    "header_value",
    "parse_provider_data",
    "provider_data_from_headers",
    "resolve_provider_data",
]

PROVIDER_DATA_HEADER = "X-LlamaStack-Provider-Data"
"""The header Llama Stack reads provider data from; wins over the alternative."""

ALT_PROVIDER_DATA_HEADER = "X-OGX-Provider-Data"
"""The alternative provider-data header, used when the Llama Stack one is absent."""

_MAX_VALUE_BYTES = 8192
_URL_KEY = "passthrough_url"
_API_KEY_KEY = "passthrough_api_key"
_KEY_REPR_LIMIT = 100
# The control characters of DESIGN.md §4: C0 (TAB included), DEL, NEL, LS, PS.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
_NOT_LATIN1 = re.compile("[^\x00-\xff]")
_HEADER_SLOTS = {PROVIDER_DATA_HEADER.lower(): 0, ALT_PROVIDER_DATA_HEADER.lower(): 1}
_INVALID = object()


def _show_key(key: object) -> str:
    """Render a (caller-controlled) key for a message: escaped and bounded."""
    text = repr(key)
    return text if len(text) <= _KEY_REPR_LIMIT else text[: _KEY_REPR_LIMIT - 3] + "..."


def _error(key: str, reason: str) -> ProviderDataError:
    return ProviderDataError(f"provider data key {_show_key(key)}: {reason}", key=key)


def _mask_headers(headers: Mapping[str, str]) -> str:
    return repr({name: "***" for name in headers})


def _mask_secret(value: Optional[str]) -> str:
    return "None" if value is None else "'***'"


def _mask_url(url: Optional[str]) -> str:
    """Show a URL without its user information and query (either may hold a secret)."""
    if url is None:
        return "None"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "'***'"
    host = parts.netloc.rpartition("@")[2]
    netloc = "***@" + host if "@" in parts.netloc else host
    query = "***" if parts.query else ""
    return repr(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


@attrs.frozen(kw_only=True)
class Forwarded:
    """What one request's provider data contributes, ready to send.

    ``headers`` maps the configured header name to its value; ``base_url`` and
    ``api_key`` are ``passthrough_url`` and ``passthrough_api_key`` (``None`` when
    absent or null); ``matched`` is true when at least one ``forward_headers`` key was
    present with a non-null value. The repr shows header names only and masks the key.
    """

    headers: Mapping[str, str] = attrs.field(repr=_mask_headers)
    base_url: Optional[str] = attrs.field(repr=_mask_url)
    api_key: Optional[str] = attrs.field(repr=_mask_secret)
    matched: bool


_NOTHING = Forwarded(headers=MappingProxyType({}), base_url=None, api_key=None, matched=False)


def _json_number(value: Union[int, float]) -> Optional[str]:
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # NaN/Infinity, or an int past sys.get_int_max_str_digits()
        return None


def _render_number(key: str, value: Union[int, float]) -> str:
    """JSON spelling of a number (``json.dumps``); NaN and infinities are refused."""
    text = _json_number(value)
    if text is None:  # raised outside the ``except``: nothing chained
        raise _error(key, "value is not a finite number of forwardable size")
    return text


def _render(key: str, value: Any) -> str:
    """Turn one provider-data value into header text (not yet checked)."""
    if isinstance(value, str):
        return str.__str__(value)  # the exact characters, even for a str subclass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _render_number(key, value)
    if isinstance(value, Mapping):
        raise _error(key, "value is a nested object")
    if isinstance(value, (list, tuple)):
        raise _error(key, "value is a list")
    if value is None:
        raise _error(key, "value is null")
    raise _error(key, f"value has unsupported type {type(value).__name__!r}")


def _check_text(key: str, text: str) -> str:
    """Refuse text that is not a safe, unaltered header value; return it unchanged."""
    if len(text) > _MAX_VALUE_BYTES:  # cheap early exit: a character is >= 1 byte
        raise _error(key, f"value is longer than {_MAX_VALUE_BYTES} UTF-8 bytes")
    if _CONTROL.search(text):
        raise _error(key, "value contains a control character")
    if text[:1].isspace() or text[-1:].isspace():
        raise _error(key, "value has leading or trailing whitespace")
    if not text.isascii():
        if _NOT_LATIN1.search(text):
            raise _error(key, "value contains a character outside Latin-1")
        if len(text.encode("utf-8")) > _MAX_VALUE_BYTES:
            raise _error(key, f"value is longer than {_MAX_VALUE_BYTES} UTF-8 bytes")
    return text


def header_value(key: str, value: Any) -> str:
    """Validate and render the value of provider-data key ``key`` as header text.

    Strings are kept verbatim; ints and floats get their JSON spelling (``1``,
    ``1.5``); booleans become ``true``/``false``. An empty string is forwarded as an
    empty header value (legal HTTP, and requests sends it), never dropped.

    Raises ``ProviderDataError`` (``.key == key``) for null, a nested object or list,
    NaN or an infinity, a control character (C0 including TAB, DEL, U+0085, U+2028,
    U+2029), leading or trailing whitespace, a character outside Latin-1, or more than
    8192 UTF-8 bytes. The message names the key and the reason, never the value.
    """
    return _check_text(key, _render(key, value))


def _check_url(url: str) -> str:
    """Refuse anything but an http(s) URL with a host, a valid port and no credentials."""
    problem = service_url_problem(url)
    if problem:
        raise _error(_URL_KEY, f"value {problem}")
    return url


def _special(data: Mapping[str, Any], key: str, check: Callable[[str], str]) -> Optional[str]:
    """Read one of the always-read keys; ``None`` when absent or null.

    Rendered like any forwarded value (DESIGN §4): strings as they are, numbers and
    booleans in JSON spelling; a nested value is an error.
    """
    value = data.get(key)
    if value is None:
        return None
    return check(header_value(key, value))


def _headers(
    data: Mapping[str, Any], forward_headers: Mapping[str, str]
) -> tuple[Mapping[str, str], bool]:
    """Apply ``forward_headers``: listed, non-null keys only; later same header wins."""
    chosen: dict[str, tuple[str, str]] = {}
    for key, name in forward_headers.items():
        value = data.get(key)
        if value is not None:
            chosen[name.lower()] = (name, header_value(key, value))
    return MappingProxyType(dict(chosen.values())), bool(chosen)


def resolve_provider_data(
    data: Optional[Mapping[str, Any]], forward_headers: Optional[Mapping[str, str]]
) -> Forwarded:
    """Apply the default-deny policy to one request's provider data.

    Only keys listed in ``forward_headers`` become headers, under their configured
    names; every other key is ignored whatever it holds. Missing and null keys are
    skipped. When two listed keys target the same header (any case), the later one in
    ``forward_headers`` order that is present wins, under its own spelling; every
    present listed value is still validated, so a bad value never passes unnoticed.
    ``passthrough_url`` (an http(s) URL with a host) and ``passthrough_api_key`` are
    always read and must be strings; an empty ``passthrough_api_key`` is returned as it
    is (``""``). Raises ``ProviderDataError`` (see ``header_value``).
    """
    if data is None:
        return _NOTHING
    if not isinstance(data, Mapping):
        raise ProviderDataError("provider data must be a JSON object")
    base_url = _special(data, _URL_KEY, _check_url)
    api_key = _special(data, _API_KEY_KEY, str)
    headers, matched = _headers(data, forward_headers or {})
    return Forwarded(headers=headers, base_url=base_url, api_key=api_key, matched=matched)


def _loads(text: Union[str, bytes, bytearray]) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError/UnicodeDecodeError hold the text
        return _INVALID


def _parse_json(text: Union[str, bytes, bytearray]) -> dict[str, Any]:
    """Parse a JSON object; errors name no part of the text and chain nothing."""
    parsed = _loads(text)
    if parsed is _INVALID:
        raise ProviderDataError("provider data is not valid JSON")
    if not isinstance(parsed, dict):
        raise ProviderDataError("provider data must be a JSON object")
    return parsed


def parse_provider_data(
    data: Union[Mapping[str, Any], str, bytes, None],
) -> Optional[Mapping[str, Any]]:
    """Return provider data as a mapping: a mapping as is, JSON text parsed, ``None`` kept.

    Raises ``ProviderDataError`` (``.key is None``) for invalid JSON, a JSON value that
    is not an object, or another type; the message never contains the text.
    """
    if data is None or isinstance(data, Mapping):
        return data
    if isinstance(data, (str, bytes, bytearray)):
        return _parse_json(data)
    raise ProviderDataError(f"provider data must be a JSON object, not {type(data).__name__}")


def _raw_provider_data(headers: Mapping[str, str]) -> Any:
    """Find the provider-data header text, any case; the Llama Stack header wins.

    The same header given twice (two spellings in a plain dict, or a repeated header)
    with different values is ambiguous and refused.
    """
    found: list[Any] = [None, None]
    for name, value in headers.items():
        slot = _HEADER_SLOTS.get(name.lower()) if isinstance(name, str) else None
        if slot is None or value is None:
            continue
        if found[slot] is not None and found[slot] != value:
            raise ProviderDataError("provider data header given more than once")
        found[slot] = value
    return found[0] if found[0] is not None else found[1]


def provider_data_from_headers(headers: Mapping[str, str]) -> Optional[dict[str, Any]]:
    """Extract and parse provider data from request headers.

    Looks up ``X-LlamaStack-Provider-Data``, else ``X-OGX-Provider-Data``, in any case
    and in any mapping (a plain dict, requests' ``CaseInsensitiveDict``, ...); the
    Llama Stack header wins when both are present. Returns ``None`` when neither is
    present. Raises ``ProviderDataError`` when the chosen header is not a JSON object
    (an empty value included) or one header appears twice with different values.
    """
    raw = _raw_provider_data(headers)
    if raw is None:
        return None
    if not isinstance(raw, (str, bytes, bytearray)):
        raise ProviderDataError("provider data header value must be text")
    return _parse_json(raw)
