"""Proxy choice (pure: no sockets, no ``os.environ``).

A :class:`ProxyPlan` is built once per client, either from ``network.proxy`` or, when
that section is absent, from an injected environment mapping; :meth:`ProxyPlan.route`
then says for each request URL which proxy to use (or none) and why. Everything that
can be precomputed is: a route is a ``urlsplit`` and a few dict lookups.

``no_proxy`` entries are matched by :class:`NoProxy` (rules in ``_no_proxy``, re-exported
here with :func:`no_proxy_entry_error`). Unlike ``requests.utils.should_bypass_proxies``,
nothing here reads or rewrites ``os.environ``.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, Mapping, Optional, Protocol, Tuple, Type
from urllib.parse import urlsplit

import attrs

from ..exceptions import ConfigError
from .no_proxy import NoProxy, no_proxy_entry_error

__all__ = [
    "NoProxy",
    "ProxyPlan",
    "ProxyRoute",
    "mask_url",
    "no_proxy_entry_error",
    "proxy_error",
]

_Labelled = Tuple[Optional[str], str]  # (proxy URL or None, reason when used)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMES = ("http", "https")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_MASK = "**********"


class _ProxySettings(Protocol):
    """What :meth:`ProxyPlan.from_config` needs of ``config.ProxyConfig``."""

    @property
    def url(self) -> Optional[str]: ...

    @property
    def http(self) -> Optional[str]: ...

    @property
    def https(self) -> Optional[str]: ...

    @property
    def no_proxy(self) -> Optional[Iterable[str]]: ...


# --- proxy URLs --------------------------------------------------------------------


def _authority_start(url: str) -> int:
    """Where the authority begins: after ``://``, or at 0 for text without a scheme."""
    head = url.find("://")
    return 0 if head < 0 else head + 3


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``**********`` (user kept).

    URLs without credentials are returned unchanged.

    Works on text that is not a valid URL too (it never raises), including a
    scheme-less ``user:pass@proxy:3128``. Example::

        >>> mask_url("http://bob:s3cret@proxy:3128")
        'http://bob:**********@proxy:3128'
    """
    start = _authority_start(url)
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        if 0 <= found < end:
            end = found
    at = url.rfind("@", start, end)
    colon = url.find(":", start, at) if at >= 0 else -1
    if colon < 0:
        return url
    return url[: colon + 1] + _MASK + url[at:]


def _shown(value: str) -> str:
    """``repr`` of a proxy URL for an error message: masked, and when the URL is too
    malformed for :func:`mask_url` to find the credentials, everything before the last
    ``@`` is hidden."""
    masked = mask_url(value)
    if masked == value and "@" in value:
        start = _authority_start(value)
        masked = value[:start] + _MASK + value[value.rfind("@") :]
    return repr(masked)


def proxy_error(value: str) -> Optional[str]:
    """Message when a proxy URL is not an http:// or https:// URL with a host, else None.

    Used by config validation (the caller prefixes the path). Also rejects whitespace
    or control characters and a bad port. The message never contains the password.
    """
    shown = _shown(value)
    if _CONTROL.search(value):
        return f"proxy URL {shown} contains whitespace or a control character"
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        return f"proxy URL {shown} must start with http:// or https://"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return f"proxy URL {shown} is not a valid URL (bad port or brackets)"
    if not parts.hostname:
        return f"proxy URL {shown} has no host"
    if port == 0:
        return f"proxy URL {shown} has port 0"
    return None


# --- routes and plans --------------------------------------------------------------


def _repr_url(url: Optional[str]) -> str:
    return "None" if url is None else repr(mask_url(url))


def _direct(scheme: str, source: str) -> ProxyRoute:
    """The route of a scheme that has no proxy in ``source``."""
    return ProxyRoute(proxy_url=None, reason=f"no proxy configured for {scheme} ({source})")


@attrs.frozen(kw_only=True)
class ProxyRoute:
    """The way one request goes: through ``proxy_url`` or direct (``None``), and why.

    ``reason`` is human text for logs and ``doctor``: the setting that chose the proxy
    (``network.proxy.https``, ``HTTPS_PROXY``), ``no_proxy entry '.corp' matched`` or
    ``no proxy configured for http (environment)``. The repr masks the password.
    """

    proxy_url: Optional[str] = attrs.field(repr=_repr_url)
    reason: str


class ProxyPlan:
    """Which proxy (if any) each request takes. Built once per client.

    ``http``/``https`` are the proxy URLs per scheme (``None``: direct), ``no_proxy``
    the bypass entries, ``source`` where they came from (``network.proxy`` or
    ``environment``); a proxied route's reason is ``f"{source}.{scheme}"``. Use
    :meth:`from_config` to follow the configuration-versus-environment rules.
    """

    __slots__ = ("_bypass", "_direct", "_no_proxy", "_proxied", "_source")

    def __init__(
        self, *, http: Optional[str], https: Optional[str], no_proxy: Iterable[str], source: str
    ) -> None:
        urls = {"http": (http, f"{source}.http"), "https": (https, f"{source}.https")}
        self._setup(urls, no_proxy, source)

    @classmethod
    def _labelled(
        cls, urls: Mapping[str, _Labelled], no_proxy: Iterable[str], source: str
    ) -> ProxyPlan:
        """A plan whose proxied routes carry their own reasons (``HTTPS_PROXY``...)."""
        plan = cls.__new__(cls)
        plan._setup(urls, no_proxy, source)
        return plan

    def _setup(self, urls: Mapping[str, _Labelled], no_proxy: Iterable[str], source: str) -> None:
        self._source = source
        self._no_proxy = NoProxy(no_proxy)
        self._proxied = {s: ProxyRoute(proxy_url=u, reason=r) for s, (u, r) in urls.items() if u}
        self._direct = {s: _direct(s, source) for s in _SCHEMES}
        self._bypass = {
            e: ProxyRoute(proxy_url=None, reason=f"no_proxy entry {e!r} matched")
            for e in self._no_proxy.entries
        }

    @property
    def source(self) -> str:
        """Where the proxy settings came from: ``network.proxy`` or ``environment``."""
        return self._source

    @property
    def proxy_urls(self) -> tuple[str, ...]:
        """Every proxy URL this plan may route through (none: always direct)."""
        return tuple(r.proxy_url for r in self._proxied.values() if r.proxy_url)

    @property
    def no_proxy(self) -> NoProxy:
        """The bypass matcher (its ``ignored`` lists malformed entries)."""
        return self._no_proxy

    def __repr__(self) -> str:
        http, https = (self._proxied.get(s) for s in _SCHEMES)
        return (
            f"ProxyPlan(http={_repr_url(http.proxy_url if http else None)}, "
            f"https={_repr_url(https.proxy_url if https else None)}, "
            f"no_proxy={self._no_proxy!r}, source={self._source!r})"
        )

    def route(self, url: str) -> ProxyRoute:
        """The route for a full request URL; ports default to 80/443 by scheme.

        Raises ``ValueError`` when the URL's port is not a number in 0-65535.
        """
        parts = urlsplit(url)
        scheme = parts.scheme
        proxied = self._proxied.get(scheme)
        if proxied is None:
            return self._direct.get(scheme) or _direct(scheme, self._source)
        if self._no_proxy:
            port = parts.port or _DEFAULT_PORTS[scheme]
            entry = self._no_proxy.match(parts.hostname or "", port)
            if entry is not None:
                return self._bypass[entry]
        return proxied

    @classmethod
    def from_config(cls, proxy: Optional[_ProxySettings], environ: Mapping[str, str]) -> ProxyPlan:
        """The plan for ``network.proxy`` or, only when it is None, for ``environ``.

        With a config section the environment is not consulted at all: ``url`` serves
        both schemes, else ``http``/``https`` per scheme (a scheme without one goes
        direct). Without one, ``http_proxy``/``https_proxy``/``all_proxy``/``no_proxy``
        are read from ``environ`` only (never ``os.environ``) in any letter case, the
        lowercase name winning; empty values count as unset; the uppercase
        ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set (CGI, "httpoxy");
        values without a scheme get ``http://``. Raises ``ConfigError`` naming the
        variable when a proxy variable in use is not an http(s) URL (e.g. socks5).
        """
        if proxy is None:
            return _from_environ(cls, environ)
        if proxy.url:
            proxies = {s: (proxy.url, "network.proxy.url") for s in _SCHEMES}
        else:
            proxies = {s: (getattr(proxy, s), f"network.proxy.{s}") for s in _SCHEMES}
        return cls._labelled(proxies, proxy.no_proxy or (), "network.proxy")


# --- the environment ---------------------------------------------------------------

_ENV_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _env_lookup(environ: Mapping[str, str]) -> Dict[str, Tuple[str, str]]:
    """Lowercased name -> (variable used, value): lowercase wins, then upper, then mixed.

    Empty values count as unset; the uppercase ``HTTP_PROXY`` (and any case but the
    lowercase one) is skipped when ``REQUEST_METHOD`` is set.
    """
    cgi = "REQUEST_METHOD" in environ
    found: Dict[str, Tuple[int, str, str]] = {}
    for key, value in environ.items():
        name = key.lower()
        if name not in _ENV_NAMES or not value.strip():
            continue
        rank = 0 if key == name else 1 if key == name.upper() else 2
        if cgi and name == "http_proxy" and rank:
            continue
        if name not in found or rank < found[name][0]:
            found[name] = (rank, key, value.strip())
    return {name: (key, value) for name, (_, key, value) in found.items()}


def _env_proxy(value: str) -> str:
    """A scheme-less proxy value (``proxy:3128``) is taken as ``http://`` (like curl)."""
    return value if "://" in value else f"http://{value}"


def _from_environ(cls: Type[ProxyPlan], environ: Mapping[str, str]) -> ProxyPlan:
    found = _env_lookup(environ)
    fallback = found.get("all_proxy")
    proxies: Dict[str, _Labelled] = {}
    errors = []
    for scheme in _SCHEMES:
        chosen = found.get(f"{scheme}_proxy") or fallback
        if chosen is None:
            proxies[scheme] = (None, "")
            continue
        key, url = chosen[0], _env_proxy(chosen[1])
        problem = proxy_error(url)
        if problem is not None:
            errors.append(f"{key}: {problem}")
        proxies[scheme] = (url, key)
    if errors:
        raise ConfigError(sorted(set(errors)))
    no_proxy = found.get("no_proxy", ("", ""))[1].split(",")
    return cls._labelled(proxies, no_proxy, "environment")
