"""From configuration to a ``requests.Session``: TLS, proxies, timeouts, redirects.

:class:`Transport` is built once per client from the configuration and the environment
(read once, here). It owns the session, sends prepared requests through the adapter
(no per-request environment merging, no cookies: a multi-tenant client must not carry
one caller's cookies to the next), follows only same-origin 307/308 redirects and
translates every transport failure into this package's exceptions.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping, Optional, Union
from urllib.parse import urljoin, urlsplit

import attrs
import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import LocationValueError

from ._adapter import PassthroughAdapter
from ._errors import Route, is_stale, translate
from ._proxy import ProxyPlan, mask_url
from ._tls import build_proxy_ssl_context, build_ssl_context, describe_trust
from ._version import __version__
from .config import NetworkConfig, PassthroughConfig, TimeoutConfig, TLSConfig
from .exceptions import APIConnectionError, APIStatusError, ConfigError

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "Outgoing", "Timeout", "Transport", "origin_of"]

DEFAULT_CONNECT = 10.0
DEFAULT_READ = 600.0
MAX_REDIRECTS = 5
USER_AGENT = f"passthrough-client/{__version__}"
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@attrs.frozen
class Timeout:
    """Connect and read timeouts in seconds."""

    connect: float
    read: float

    @classmethod
    def resolve(cls, value: Union[float, tuple[float, float], TimeoutConfig, None]) -> Timeout:
        """Fill a float, a ``(connect, read)`` pair or a ``TimeoutConfig`` with defaults."""
        if value is None:
            return DEFAULT_TIMEOUT
        if isinstance(value, TimeoutConfig):
            return cls(value.connect or DEFAULT_CONNECT, value.read or DEFAULT_READ)
        if isinstance(value, tuple):
            return cls(float(value[0]), float(value[1]))
        return cls(float(value), float(value))


DEFAULT_TIMEOUT = Timeout(DEFAULT_CONNECT, DEFAULT_READ)


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with default ports filled in, for same-origin checks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def _mtime(path: Optional[Path]) -> float:
    try:
        return os.stat(path).st_mtime if path is not None else 0.0
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=32)
def _service_context(key: tuple[Any, ...]) -> ssl.SSLContext:
    verify, min_version, ciphers, cert, client_key, keylog, extra_ca, _ = key
    return build_ssl_context(
        verify=verify,
        min_version=min_version,
        ciphers=ciphers,
        client_cert=cert,
        client_key=client_key,
        extra_ca=extra_ca,
        keylog=keylog,
    )


@functools.lru_cache(maxsize=32)
def _proxy_context(key: tuple[Any, ...]) -> ssl.SSLContext:
    cacert, min_version, ciphers, keylog, _ = key
    return build_proxy_ssl_context(
        cacert=cacert, min_version=min_version, ciphers=ciphers, keylog=keylog
    )


def _tls_from_environ(environ: Mapping[str, str]) -> tuple[TLSConfig, Optional[str]]:
    """The TLS settings when the configuration has no ``network.tls`` section, and the
    variable they came from (``None``: defaults)."""
    for name in _CA_VARIABLES:
        value = environ.get(name)
        if value:
            path = Path(os.path.abspath(os.path.expanduser(value)))
            if not path.exists():
                raise ConfigError(f"{name}: the CA bundle it names does not exist: {value}")
            return TLSConfig(verify=path), name
    return TLSConfig(), None


@attrs.frozen
class Outgoing:
    """One request as the client built it: method, URL, headers and body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: Optional[bytes] = None


class Transport:
    """The session and everything needed to send one request; built once per client.

    The environment is read here, once, from ``environ`` (never ``os.environ`` itself):
    ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` only when the configuration
    has no ``network.proxy``; ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``, else
    ``SSL_CERT_FILE`` only when it has no ``network.tls``; ``SSLKEYLOGFILE`` (TLS key
    logging, for debugging) always. ``sources`` says where each setting came from.

    Raises ``ConfigError`` for an unusable setting, naming the variable when it came
    from the environment.
    """

    def __init__(
        self, config: PassthroughConfig, *, environ: Mapping[str, str], pool_maxsize: int = 10
    ) -> None:
        network = config.network or NetworkConfig()
        tls, variable = (
            (network.tls, None) if network.tls is not None else _tls_from_environ(environ)
        )
        self.sources: dict[str, str] = {
            "tls": "config" if network.tls is not None else _env_source(variable),
            "proxy": "config" if network.proxy is not None else _proxy_source(environ),
            "timeout": "config" if network.timeout is not None else "default",
            "headers": "config" if network.headers else "default",
        }
        self.proxy_plan = ProxyPlan.from_config(network.proxy, environ)
        self.timeout = Timeout.resolve(network.timeout)
        self.headers: Mapping[str, str] = dict(network.headers or {})
        self.tls = tls
        cacert = network.proxy.cacert if network.proxy is not None else None
        label = f" (from {variable})" if variable else ""
        self.trust = describe_trust(tls.verify) + label
        self.proxied_trust = describe_trust(tls.verify, cacert) + label
        self.proxy_trust = f"proxy CA file {cacert}" if cacert else describe_trust(True)
        keylog = environ.get("SSLKEYLOGFILE") or None
        try:
            self.session = self._build_session(tls, cacert, keylog, pool_maxsize)
        except ConfigError as exc:
            if variable is None:
                raise
            errors = [e.replace("network.tls.verify", variable) for e in exc.errors]
            raise ConfigError(errors) from None
        self._adapter: PassthroughAdapter = self.session.get_adapter("https://")  # type: ignore[assignment]

    def _build_session(
        self, tls: TLSConfig, cacert: Optional[Path], keylog: Optional[str], pool_maxsize: int
    ) -> requests.Session:
        ciphers = tls.ciphers
        verify = tls.verify if isinstance(tls.verify, Path) else None
        paths = (verify, tls.client_cert, tls.client_key, cacert)
        stamp = tuple(_mtime(p) for p in paths)
        base = (tls.verify, tls.min_version, ciphers, tls.client_cert, tls.client_key, keylog)
        direct = _service_context((*base, None, stamp))
        proxied = _service_context((*base, cacert, stamp)) if cacert is not None else direct
        https_proxy = any(u.lower().startswith("https:") for u in self.proxy_plan.proxy_urls)
        proxy_ctx = (  # only an HTTPS proxy needs one: skip loading a trust store otherwise
            _proxy_context((cacert, tls.min_version, ciphers, keylog, stamp))
            if https_proxy
            else None
        )
        adapter = PassthroughAdapter(
            ssl_context=direct,
            proxied_ssl_context=proxied,
            proxy_ssl_context=proxy_ctx,
            pool_maxsize=pool_maxsize,
        )
        session = requests.Session()
        session.trust_env = False
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def route(self, url: str) -> Route:
        """Where a request to ``url`` goes (for messages), and the proxy it takes."""
        return self._route(origin_of(url), url)

    def _route(self, origin: tuple[str, str, int], url: str) -> Route:
        chosen = self.proxy_plan.route(url)
        address = f"{origin[1]}:{origin[2]}"
        proxy = mask_url(chosen.proxy_url) if chosen.proxy_url else None
        trust = self.proxied_trust if proxy else self.trust
        return Route(address=address, proxy=proxy, trust=trust, proxy_trust=self.proxy_trust)

    def send(self, outgoing: Outgoing, *, timeout: Timeout, stream: bool) -> requests.Response:
        """Send one request, following same-origin 307/308 redirects (at most 5).

        Raises :class:`APIConnectionError` (or :class:`APITimeoutError`) for transport
        failures and :class:`APIStatusError` for a redirect that is not followed.
        """
        start_origin = origin_of(outgoing.url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_once(outgoing, timeout, stream)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = self._redirect_target(response, outgoing.url, start_origin)
            outgoing = attrs.evolve(outgoing, url=target)
        raise _redirect_error(response, f"more than {MAX_REDIRECTS} redirects")

    def _redirect_target(
        self, response: requests.Response, url: str, origin: tuple[str, str, int]
    ) -> str:
        location = response.headers.get("location")
        _discard(response)
        if response.status_code not in (307, 308):
            raise _redirect_error(response, "only 307 and 308 redirects are followed")
        if not location:
            raise _redirect_error(response, "redirect without a Location header")
        try:
            target = urljoin(url, location)
            same = origin_of(target) == origin
        except ValueError:  # a bad port or brackets in the Location
            raise _redirect_error(response, "redirect to an invalid URL") from None
        if not same:
            raise _redirect_error(response, "redirect to another origin is not followed")
        return target

    def _send_once(self, outgoing: Outgoing, timeout: Timeout, stream: bool) -> requests.Response:
        url = outgoing.url
        try:
            request = _prepare(outgoing)
            chosen = self.proxy_plan.route(url)
        except (requests.RequestException, ValueError) as exc:
            raise _invalid_url(url) from exc
        proxies = {urlsplit(url).scheme: chosen.proxy_url} if chosen.proxy_url else {}
        for attempt in (0, 1):
            try:
                sent = time.monotonic()
                response = self._adapter.send(
                    request, stream=True, timeout=(timeout.connect, timeout.read), proxies=proxies
                )
                response.elapsed = timedelta(seconds=time.monotonic() - sent)  # to the head
                if not stream:
                    response.content  # noqa: B018 - load the body inside the error mapping
                return response
            except Exception as exc:
                if attempt == 0 and is_stale(exc):
                    continue  # a reused connection died before answering: once more, new socket
                if isinstance(exc, (requests.exceptions.InvalidURL, LocationValueError)):
                    raise _invalid_url(url) from exc
                if isinstance(exc, (requests.RequestException, OSError)):
                    raise translate(exc, self.route(url)) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every pooled connection."""
        self.session.close()


def _prepare(outgoing: Outgoing) -> requests.PreparedRequest:
    request = requests.PreparedRequest()
    request.prepare_method(outgoing.method)
    request.prepare_url(outgoing.url, None)
    request.headers = CaseInsensitiveDict(outgoing.headers)
    request.body = outgoing.body
    request.hooks = {"response": []}
    return request


def _invalid_url(url: str) -> APIConnectionError:
    """Nothing was sent: the URL (from base_url, passthrough_url or a redirect) is invalid."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return APIConnectionError(
        f"cannot send to {mask_url(url.split('?', 1)[0])}: not a valid URL (host {host!r})"
    )


def _env_source(variable: Optional[str]) -> str:
    return f"environment ({variable})" if variable else "default"


def _proxy_source(environ: Mapping[str, str]) -> str:
    names = [
        n
        for n in environ
        if n.upper() in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY") and environ[n]
    ]
    return f"environment ({', '.join(sorted(names))})" if names else "default"


def _discard(response: requests.Response) -> None:
    """Read a small redirect body so the connection can be reused, then release it."""
    with contextlib.suppress(Exception):  # a broken redirect body only costs the connection
        response.raw.read(65536, decode_content=False)
    response.close()


def _redirect_error(response: requests.Response, why: str) -> APIStatusError:
    location = response.headers.get("location") or ""
    target = mask_url(location) if location else "nowhere"
    return APIStatusError(
        f"{why} (HTTP {response.status_code} to {target})",
        status_code=response.status_code,
        request_id=response.headers.get("x-request-id"),
    )
