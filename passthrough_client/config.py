"""The configuration tree of the ``remote::passthrough`` provider block.

Frozen, keyword-only attrs classes with exactly the fields of provider-config.md.
Constructing any of them validates the whole object and raises :class:`ConfigError`
listing every problem at once, each prefixed with the path of the offending value
relative to the object (``load_config`` prefixes the rest of the path).

Lists may be given as any sequence and are stored as tuples; mappings are stored
read-only. Paths are expanded (``~``), made absolute and must exist.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping, Optional, Tuple, Union

import attrs

from ._headers import CORE_BLOCKED_HEADERS, FRAMING_HEADERS, is_token, value_problem
from ._proxy import mask_url, no_proxy_entry_error, proxy_error
from ._tls import cipher_error
from ._urls import service_url_problem
from .exceptions import ConfigError

__all__ = [
    "NetworkConfig",
    "PassthroughConfig",
    "ProxyConfig",
    "Secret",
    "TLSConfig",
    "TimeoutConfig",
]

MASK = "**********"
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")


class Secret:
    """A secret string that never shows its value in ``repr()`` or ``str()``.

    >>> s = Secret("sk-123")
    >>> s
    Secret('**********')
    >>> s.get_secret_value()
    'sk-123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret() takes a string, not {type(value).__name__}")
        self._value = value

    def get_secret_value(self) -> str:
        """Return the wrapped value."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))


# ---------------------------------------------------------------- converters


def _to_tuple(value: Any) -> Any:
    """Lists and tuples become tuples; anything else is left for validation to report."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _to_mapping(value: Any) -> Any:
    """Mappings become read-only copies; anything else is left for validation."""
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    return value


def _to_float(value: Any) -> Any:
    """Integers become floats (booleans are not numbers here)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _to_secret(value: Any) -> Any:
    """A plain string given for a secret field is wrapped in :class:`Secret`."""
    return Secret(value) if isinstance(value, str) else value


def _strip_targets(value: Any) -> Any:
    """``forward_headers`` target names are trimmed of surrounding whitespace."""
    if isinstance(value, Mapping):
        return MappingProxyType(
            {k: v.strip() if isinstance(v, str) else v for k, v in value.items()}
        )
    return value


def _strip_items(value: Any) -> Any:
    value = _to_tuple(value)
    if isinstance(value, tuple):
        return tuple(v.strip() if isinstance(v, str) else v for v in value)
    return value


# ---------------------------------------------------------------- validation helpers


Problems = list[str]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _expect_str(value: Any, path: str, out: Problems) -> bool:
    if isinstance(value, str):
        return True
    hint = "; quote it" if isinstance(value, (int, float)) else ""
    out.append(f"{path}: expected a string, got {_type_name(value)}{hint}")
    return False


def _check_path(obj: Any, name: str, out: Problems, *, must_be_file: bool = True) -> None:
    """Expand, absolutize and check a path field in place (post-init normalisation)."""
    value = getattr(obj, name)
    if value is None:
        return
    if not isinstance(value, (str, os.PathLike)):
        out.append(f"{name}: expected a path, got {_type_name(value)}")
        return
    written = os.fspath(value)
    if not written:
        out.append(f"{name}: the path is empty")
        return
    resolved = Path(os.path.abspath(os.path.expanduser(written)))
    if not resolved.exists():
        out.append(f"{name}: file not found: {written}")
    elif must_be_file and not resolved.is_file():
        out.append(f"{name}: not a file: {written}")
    object.__setattr__(obj, name, resolved)


def _check_str_tuple(value: Any, path: str, out: Problems, *, allow_empty: bool = True) -> bool:
    if not isinstance(value, tuple):
        out.append(f"{path}: expected a list of strings, got {_type_name(value)}")
        return False
    ok = True
    for i, item in enumerate(value):
        if not _expect_str(item, f"{path}[{i}]", out):
            ok = False
        elif not allow_empty and not item.strip():
            out.append(f"{path}[{i}]: must not be empty")
            ok = False
    return ok


def _check_http_url(value: Any, path: str, out: Problems) -> None:
    if value is None or not _expect_str(value, path, out):
        return
    problem = service_url_problem(value)
    if problem:
        out.append(f"{path}: {problem}")


def _raise_if(problems: Problems) -> None:
    if problems:
        raise ConfigError(problems)


def _masked_url(value: Any) -> str:
    return repr(mask_url(value)) if isinstance(value, str) else repr(value)


# ---------------------------------------------------------------- classes


@attrs.frozen(kw_only=True)
class TLSConfig:
    """TLS settings for connections to the inference service (``network.tls``)."""

    verify: Union[bool, Path] = True
    min_version: Optional[Literal["TLSv1.2", "TLSv1.3"]] = None
    ciphers: Optional[Tuple[str, ...]] = attrs.field(default=None, converter=_to_tuple)
    client_cert: Optional[Path] = None
    client_key: Optional[Path] = None

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        self._check_verify(out)
        if self.min_version is not None and self.min_version not in TLS_VERSIONS:
            out.append("min_version: must be 'TLSv1.2' or 'TLSv1.3'")
        self._check_ciphers(out)
        _check_path(self, "client_cert", out)
        _check_path(self, "client_key", out)
        if (self.client_cert is None) != (self.client_key is None):
            given, missing = (
                ("client_cert", "client_key")
                if self.client_key is None
                else ("client_key", "client_cert")
            )
            out.append(f"{missing}: required when {given} is set (mTLS needs both)")
        _raise_if(out)

    def _check_verify(self, out: Problems) -> None:
        value = self.verify
        if isinstance(value, bool):
            return
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            out.append(
                f"verify: the string {value!r} looks like a boolean; "
                "write true or false without quotes, or give a path"
            )
            return
        _check_path(self, "verify", out, must_be_file=False)

    def _check_ciphers(self, out: Problems) -> None:
        if self.ciphers is None or not _check_str_tuple(self.ciphers, "ciphers", out):
            return
        if not self.ciphers:
            out.append("ciphers: must not be empty (omit it for the default)")
        for i, entry in enumerate(self.ciphers):
            problem = cipher_error(entry)
            if problem:
                out.append(f"ciphers[{i}]: {problem}")


@attrs.frozen(kw_only=True)
class ProxyConfig:
    """Proxy settings (``network.proxy``); credentials in URLs are masked in ``repr``."""

    url: Optional[str] = attrs.field(default=None, repr=_masked_url)
    http: Optional[str] = attrs.field(default=None, repr=_masked_url)
    https: Optional[str] = attrs.field(default=None, repr=_masked_url)
    cacert: Optional[Path] = None
    no_proxy: Optional[Tuple[str, ...]] = attrs.field(default=None, converter=_to_tuple)

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        for name in ("url", "http", "https"):
            value = getattr(self, name)
            if value is not None and _expect_str(value, name, out):
                problem = proxy_error(value)
                if problem:
                    out.append(f"{name}: {problem}")
        if self.url is not None and (self.http is not None or self.https is not None):
            out.append("url: cannot be combined with http or https; use one or the other")
        _check_path(self, "cacert", out)
        if self.no_proxy is not None and _check_str_tuple(self.no_proxy, "no_proxy", out):
            for i, entry in enumerate(self.no_proxy):
                problem = no_proxy_entry_error(entry)
                if problem:
                    out.append(f"no_proxy[{i}]: {problem}")
        _raise_if(out)


def _check_seconds(value: Any, path: str, out: Problems) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        out.append(f"{path}: expected a number of seconds, got {_type_name(value)}")
    elif not math.isfinite(value) or value <= 0:
        out.append(f"{path}: must be a finite number of seconds > 0")


@attrs.frozen(kw_only=True)
class TimeoutConfig:
    """Separate connect and read timeouts in seconds (``network.timeout``).

    ``None`` parts take the client's defaults: connect 10 s, read 600 s.
    """

    connect: Optional[float] = attrs.field(default=None, converter=_to_float)
    read: Optional[float] = attrs.field(default=None, converter=_to_float)

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        _check_seconds(self.connect, "connect", out)
        _check_seconds(self.read, "read", out)
        _raise_if(out)


def _check_section(obj: Any, name: str, cls: type, out: Problems) -> None:
    value = getattr(obj, name)
    if value is not None and not isinstance(value, cls):
        out.append(f"{name}: expected {cls.__name__}, got {_type_name(value)}")


def _section_key(value: Any) -> Any:
    """Equality key of a section: one left all-default compares equal to ``None``.

    ``dump_config`` omits all-default sections, so this keeps
    ``load_config(dump_config(c)) == c``. The section's presence still matters to the
    transport: a present ``tls``/``proxy`` section keeps the environment's CA and proxy
    variables out.
    """
    if attrs.has(type(value)) and value == type(value)():
        return None
    return value


def _check_headers(headers: Any, out: Problems) -> None:
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        out.append(f"headers: expected a mapping, got {_type_name(headers)}")
        return
    seen: dict[str, str] = {}
    for name, value in headers.items():
        path = f"headers[{name!r}]"
        if not isinstance(name, str) or not is_token(name):
            out.append(f"{path}: not a valid header name")
            continue
        lower = name.lower()
        if lower in FRAMING_HEADERS:
            out.append(f"{path}: {name} is set by the transport and cannot be configured")
        if lower in seen:
            out.append(f"{path}: duplicate of {seen[lower]!r} (header names ignore case)")
        seen[lower] = name
        if _expect_str(value, path, out):
            problem = value_problem(value)
            if problem:
                out.append(f"{path}: {problem}")


@attrs.frozen(kw_only=True)
class NetworkConfig:
    """TLS, proxy, timeout and header settings (``network``)."""

    tls: Optional[TLSConfig] = attrs.field(default=None, eq=_section_key)
    proxy: Optional[ProxyConfig] = attrs.field(default=None, eq=_section_key)
    timeout: Union[float, TimeoutConfig, None] = attrs.field(
        default=None, converter=_to_float, eq=_section_key
    )
    headers: Optional[Mapping[str, str]] = attrs.field(
        default=None, converter=_to_mapping, repr=lambda h: f"<{len(h)} headers>" if h else "None"
    )

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        _check_section(self, "tls", TLSConfig, out)
        _check_section(self, "proxy", ProxyConfig, out)
        if not isinstance(self.timeout, TimeoutConfig):
            _check_seconds(self.timeout, "timeout", out)
        _check_headers(self.headers, out)
        _raise_if(out)


def _check_forward_headers(config: PassthroughConfig, out: Problems) -> None:
    value = config.forward_headers
    if value is None:
        return
    if not isinstance(value, Mapping):
        out.append(f"forward_headers: expected a mapping, got {_type_name(value)}")
        return
    blocked = set(CORE_BLOCKED_HEADERS)
    if isinstance(config.extra_blocked_headers, tuple):
        blocked.update(h.lower() for h in config.extra_blocked_headers if isinstance(h, str))
    for key, target in value.items():
        path = f"forward_headers[{key!r}]"
        if not isinstance(key, str) or not key:
            out.append(f"{path}: provider-data keys must be non-empty strings")
        elif key.startswith("__"):
            out.append(f"{path}: keys starting with '__' are reserved")
        if not _expect_str(target, path, out):
            continue
        if not is_token(target):
            out.append(f"{path}: {target!r} is not a valid header name")
        elif target.lower() in blocked:
            out.append(f"{path}: header {target!r} is blocked and cannot be forwarded")


def _check_api_key(value: Any, out: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, Secret):
        out.append(f"api_key: expected a string, got {_type_name(value)}; quote it")
        return
    key = value.get_secret_value()
    problem = value_problem(key) if key else None
    if problem is None and key and value_problem(f"Bearer {key}"):
        problem = "the key is too long for a header"
    if problem:
        out.append(f"api_key: {problem.replace('value', 'the key', 1)} (it is sent as a header)")


def _check_bool(value: Any, path: str, out: Problems) -> None:
    if not isinstance(value, bool):
        out.append(f"{path}: expected true or false, got {_type_name(value)}")


def _default_tuple() -> Tuple[str, ...]:
    return ()


@attrs.frozen(kw_only=True)
class PassthroughConfig:
    """The whole ``remote::passthrough`` provider configuration block.

    Build it directly, or with :func:`passthrough_client.load_config` from a mapping,
    a YAML/JSON file or a Llama Stack run configuration.
    """

    allowed_models: Optional[Tuple[str, ...]] = attrs.field(default=None, converter=_to_tuple)
    refresh_models: bool = False
    api_key: Optional[Secret] = attrs.field(default=None, converter=_to_secret)
    network: Optional[NetworkConfig] = attrs.field(default=None, eq=_section_key)
    base_url: Optional[str] = None
    forward_headers: Optional[Mapping[str, str]] = attrs.field(
        default=None, converter=_strip_targets
    )
    extra_blocked_headers: Tuple[str, ...] = attrs.field(
        factory=_default_tuple, converter=_strip_items
    )

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        if self.allowed_models is not None:
            _check_str_tuple(self.allowed_models, "allowed_models", out, allow_empty=False)
        _check_bool(self.refresh_models, "refresh_models", out)
        _check_api_key(self.api_key, out)
        _check_section(self, "network", NetworkConfig, out)
        _check_http_url(self.base_url, "base_url", out)
        if _check_str_tuple(self.extra_blocked_headers, "extra_blocked_headers", out):
            for i, name in enumerate(self.extra_blocked_headers):
                if not name:
                    out.append(f"extra_blocked_headers[{i}]: must not be empty")
        _check_forward_headers(self, out)
        _raise_if(out)
