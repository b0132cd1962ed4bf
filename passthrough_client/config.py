"""The configuration tree of the ``remote::passthrough`` provider block.

Frozen, keyword-only attrs classes with exactly the fields of provider-config.md.
Constructing any of them validates the whole object and raises :class:`ConfigError`
listing every problem at once, each prefixed with the path of the offending value
relative to the object (``load_config`` prefixes the rest of the path).

Lists may be given as any sequence and are stored as tuples; mappings are stored
read-only. Paths are expanded (``~``), made absolute and must exist.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping, Optional, Tuple, Union

import attrs

from ._rules.proxy import no_proxy_entry_error, proxy_error
from ._rules.tls import cipher_error
from ._secret import Secret
from ._validate import (
    Problems,
    check_api_key,
    check_bool,
    check_forward_headers,
    check_headers,
    check_http_url,
    check_path,
    check_seconds,
    check_section,
    check_str_tuple,
    expect_str,
    masked_url,
    raise_if,
    strip_items,
    strip_targets,
    to_float,
    to_mapping,
    to_secret,
    to_tuple,
)

__all__ = [
    "NetworkConfig",
    "PassthroughConfig",
    "ProxyConfig",
    "Secret",
    "TLSConfig",
    "TimeoutConfig",
]

TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")


# ---------------------------------------------------------------- pickling


def _from_fields(cls: Any, fields: dict[str, Any]) -> Any:
    return cls(**fields)


def _reduce(obj: Any) -> tuple[Any, ...]:
    """Pickle a config object as its constructor keywords.

    The read-only mappings (``MappingProxyType``) do not pickle, so they travel as
    plain dicts; the constructor makes them read-only again and re-validates.
    """
    fields = {}
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        fields[field.name] = dict(value) if isinstance(value, MappingProxyType) else value
    return (_from_fields, (type(obj), fields))


# ---------------------------------------------------------------- classes


@attrs.frozen(kw_only=True)
class TLSConfig:
    """TLS settings for connections to the inference service (``network.tls``)."""

    __reduce__ = _reduce

    verify: Union[bool, Path] = True
    min_version: Optional[Literal["TLSv1.2", "TLSv1.3"]] = None
    ciphers: Optional[Tuple[str, ...]] = attrs.field(default=None, converter=to_tuple)
    client_cert: Optional[Path] = None
    client_key: Optional[Path] = None

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        self._check_verify(out)
        if self.min_version is not None and self.min_version not in TLS_VERSIONS:
            out.append("min_version: must be 'TLSv1.2' or 'TLSv1.3'")
        self._check_ciphers(out)
        check_path(self, "client_cert", out)
        check_path(self, "client_key", out)
        if (self.client_cert is None) != (self.client_key is None):
            given, missing = (
                ("client_cert", "client_key")
                if self.client_key is None
                else ("client_key", "client_cert")
            )
            out.append(f"{missing}: required when {given} is set (mTLS needs both)")
        raise_if(out)

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
        check_path(self, "verify", out, must_be_file=False)

    def _check_ciphers(self, out: Problems) -> None:
        if self.ciphers is None or not check_str_tuple(self.ciphers, "ciphers", out):
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

    __reduce__ = _reduce

    url: Optional[str] = attrs.field(default=None, repr=masked_url)
    http: Optional[str] = attrs.field(default=None, repr=masked_url)
    https: Optional[str] = attrs.field(default=None, repr=masked_url)
    cacert: Optional[Path] = None
    no_proxy: Optional[Tuple[str, ...]] = attrs.field(default=None, converter=to_tuple)

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        for name in ("url", "http", "https"):
            value = getattr(self, name)
            if value is not None and expect_str(value, name, out):
                problem = proxy_error(value)
                if problem:
                    out.append(f"{name}: {problem}")
        if self.url is not None and (self.http is not None or self.https is not None):
            out.append("url: cannot be combined with http or https; use one or the other")
        check_path(self, "cacert", out)
        if self.no_proxy is not None and check_str_tuple(self.no_proxy, "no_proxy", out):
            for i, entry in enumerate(self.no_proxy):
                problem = no_proxy_entry_error(entry)
                if problem:
                    out.append(f"no_proxy[{i}]: {problem}")
        raise_if(out)


@attrs.frozen(kw_only=True)
class TimeoutConfig:
    """Separate connect and read timeouts in seconds (``network.timeout``).

    ``None`` parts take the client's defaults: connect 10 s, read 600 s.
    """

    __reduce__ = _reduce

    connect: Optional[float] = attrs.field(default=None, converter=to_float)
    read: Optional[float] = attrs.field(default=None, converter=to_float)

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        check_seconds(self.connect, "connect", out)
        check_seconds(self.read, "read", out)
        raise_if(out)


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


@attrs.frozen(kw_only=True)
class NetworkConfig:
    """TLS, proxy, timeout and header settings (``network``)."""

    __reduce__ = _reduce

    tls: Optional[TLSConfig] = attrs.field(default=None, eq=_section_key)
    proxy: Optional[ProxyConfig] = attrs.field(default=None, eq=_section_key)
    timeout: Union[float, TimeoutConfig, None] = attrs.field(
        default=None, converter=to_float, eq=_section_key
    )
    headers: Optional[Mapping[str, str]] = attrs.field(
        default=None, converter=to_mapping, repr=lambda h: f"<{len(h)} headers>" if h else "None"
    )

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        check_section(self, "tls", TLSConfig, out)
        check_section(self, "proxy", ProxyConfig, out)
        if not isinstance(self.timeout, TimeoutConfig):
            check_seconds(self.timeout, "timeout", out)
        check_headers(self.headers, out)
        raise_if(out)


def _default_tuple() -> Tuple[str, ...]:
    return ()


@attrs.frozen(kw_only=True)
class PassthroughConfig:
    """The whole ``remote::passthrough`` provider configuration block.

    Build it directly, or with :func:`passthrough_client.load_config` from a mapping,
    a YAML/JSON file or a Llama Stack run configuration.
    """

    __reduce__ = _reduce

    allowed_models: Optional[Tuple[str, ...]] = attrs.field(default=None, converter=to_tuple)
    refresh_models: bool = False
    api_key: Optional[Secret] = attrs.field(default=None, converter=to_secret)
    network: Optional[NetworkConfig] = attrs.field(default=None, eq=_section_key)
    base_url: Optional[str] = None
    forward_headers: Optional[Mapping[str, str]] = attrs.field(
        default=None, converter=strip_targets
    )
    extra_blocked_headers: Tuple[str, ...] = attrs.field(
        factory=_default_tuple, converter=strip_items
    )

    def __attrs_post_init__(self) -> None:
        out: Problems = []
        if self.allowed_models is not None:
            check_str_tuple(self.allowed_models, "allowed_models", out, allow_empty=False)
        check_bool(self.refresh_models, "refresh_models", out)
        check_api_key(self.api_key, out)
        check_section(self, "network", NetworkConfig, out)
        check_http_url(self.base_url, "base_url", out)
        if check_str_tuple(self.extra_blocked_headers, "extra_blocked_headers", out):
            for i, name in enumerate(self.extra_blocked_headers):
                if not name:
                    out.append(f"extra_blocked_headers[{i}]: must not be empty")
        check_forward_headers(self.forward_headers, self.extra_blocked_headers, out)
        raise_if(out)
