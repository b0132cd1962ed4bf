"""Proxy choice and ``no_proxy`` matching (pure: no sockets, no ``os.environ``).

A :class:`ProxyPlan` is built once per client, either from ``network.proxy`` or, when
that section is absent, from an injected environment mapping; :meth:`ProxyPlan.route`
then says for each request URL which proxy to use (or none) and why. Everything that
can be precomputed is: a route is a ``urlsplit`` and a few dict lookups.

``no_proxy`` entries (:class:`NoProxy`) are case-insensitive and match whole labels:
``example.com``, ``.example.com`` and ``*.example.com`` each match ``example.com`` and
``api.example.com`` but never ``notexample.com``; ``*`` matches everything; IPv4 and
IPv6 addresses match literally (``localhost`` does not cover ``127.0.0.1``); CIDR
ranges match IP-literal hosts only; ``host:port`` and ``[v6]:port`` match that port
only. Unlike ``requests.utils.should_bypass_proxies``, nothing here reads or rewrites
``os.environ``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Dict, Iterable, List, Mapping, Optional, Protocol, Tuple, Type, Union
from urllib.parse import urlsplit

import attrs

from .exceptions import ConfigError

__all__ = [
    "NoProxy",
    "ProxyPlan",
    "ProxyRoute",
    "mask_url",
    "no_proxy_entry_error",
    "proxy_error",
]

_IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
_Net = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
# One parsed entry: (kind, key, port, entry as written); kind is all/ip/net/domain.
_Parsed = Tuple[str, object, Optional[int], str]
_Labelled = Tuple[Optional[str], str]  # (proxy URL or None, reason when used)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMES = ("http", "https")
_LABEL = re.compile(r"[\w-]+")
_PORT = re.compile(r"[0-9]{1,5}")
_WHITESPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_MASK = "**********"
_ADDRESSES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


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


# --- no_proxy entries -------------------------------------------------------------


def _parse_port(text: str) -> Union[int, str]:
    """The port number, or an error message."""
    if _PORT.fullmatch(text) and 0 < int(text) <= 65535:
        return int(text)
    return f"bad port {text!r} (expected 1-65535)"


def _split_port(entry: str) -> Union[Tuple[str, Optional[str], bool], str]:
    """Split ``host[:port]`` / ``[v6][:port]`` into (host, port text, bracketed)."""
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            return "unclosed '['"
        rest = entry[close + 1 :]
        if rest and not rest.startswith(":"):
            return "unexpected text after ']'"
        return entry[1:close], (rest[1:] if rest else None), True
    if entry.count(":") == 1:  # two or more colons: a bare IPv6 address or range
        host, port = entry.split(":")
        return host, port, False
    return entry, None, False


def _parse_ip_or_net(host: str) -> Union[_IP, _Net, str, None]:
    """An address or network for IP-shaped text, None for a name, or an error message."""
    if "/" in host:
        try:
            return ipaddress.ip_network(host, strict=False)
        except ValueError:
            return f"bad CIDR range {host!r}"
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return "not a valid IPv6 address" if ":" in host else None


def _parse_domain(host: str) -> Union[Tuple[str, object], str]:
    """``("domain", name)`` with wildcard and trailing dot removed, or an error message."""
    name = host[2:] if host.startswith("*.") else host[1:] if host.startswith(".") else host
    name = name[:-1] if name.endswith(".") else name
    if "*" in name:
        return "'*' is only allowed alone or as a leading '*.'"
    if not name or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return "not a valid host name"
    if name != host and isinstance(_parse_ip_or_net(name), _ADDRESSES):
        return "a leading '.' or '*.' does not apply to an IP address; use a CIDR range"
    return ("domain", name)


def _parse_host(host: str, bracketed: bool) -> Union[Tuple[str, object], str]:
    """Classify the host part of an entry as (kind, key), or return an error message."""
    if host == "*":
        return "'*' matches every host and takes no port or brackets"
    ip = _parse_ip_or_net(host)
    if isinstance(ip, str):
        return ip
    if ip is not None:
        if bracketed and ip.version != 6:
            return "brackets are only for IPv6 addresses"
        return ("ip" if isinstance(ip, _ADDRESSES) else "net", ip)
    if bracketed:
        return "brackets are only for IPv6 addresses"
    return _parse_domain(host)


def _parse_entry(entry: str) -> Union[_Parsed, str, None]:
    """Parse one entry; None for an empty entry, a message for a malformed one."""
    written = entry.strip()
    text = written.lower()
    if not text:
        return None
    if _WHITESPACE.search(text):
        return "contains whitespace"
    if "," in text:
        return "contains ','; give one host per entry"
    if text == "*":
        return ("all", None, None, written)
    split = _split_port(text)
    if isinstance(split, str):
        return split
    host, port_text, bracketed = split
    port = None if port_text is None else _parse_port(port_text)
    if isinstance(port, str):
        return port
    parsed = _parse_host(host, bracketed)
    if isinstance(parsed, str):
        return parsed
    return (parsed[0], parsed[1], port, written)


def no_proxy_entry_error(entry: str) -> Optional[str]:
    """A message when a no_proxy entry is malformed, else None.

    Malformed: empty, whitespace or ``,`` inside, bad CIDR range, bad port, stray
    ``*``, brackets around anything but an IPv6 address, invalid host name characters.

    Used by config validation; the caller prefixes the config path. Surrounding
    whitespace is allowed (it is trimmed when matching). Example::

        >>> no_proxy_entry_error("10.0.0.0/33")
        "invalid no_proxy entry '10.0.0.0/33': bad CIDR range '10.0.0.0/33'"
    """
    parsed = _parse_entry(entry)
    if parsed is None:
        return "empty no_proxy entry"
    if isinstance(parsed, str):
        return f"invalid no_proxy entry {entry!r}: {parsed}"
    return None


def _as_ip(host: str) -> Optional[_IP]:
    """The address when ``host`` is an IP literal (cheap pre-check first), else None."""
    if ":" not in host and not host[-1:].isdigit():
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _first(records: Optional[List[Tuple[Optional[int], str]]], port: int) -> Optional[str]:
    """The first record whose port is unset or equal to ``port``."""
    for wanted, entry in records or ():
        if wanted is None or wanted == port:
            return entry
    return None


class NoProxy:
    """Matcher for no_proxy entries; built once, matched per request (fast).

    Malformed entries (see :func:`no_proxy_entry_error`) are skipped and listed in
    :attr:`ignored`, as curl ignores what it cannot parse in ``NO_PROXY``; empty
    entries are dropped silently.
    """

    __slots__ = ("_all", "_domains", "_ips", "_nets", "entries", "ignored")

    def __init__(self, entries: Iterable[str]) -> None:
        self._all: Optional[str] = None
        self._domains: Dict[str, List[Tuple[Optional[int], str]]] = {}
        self._ips: Dict[object, List[Tuple[Optional[int], str]]] = {}
        self._nets: List[Tuple[_Net, Optional[int], str]] = []
        accepted: List[str] = []
        ignored: List[str] = []
        for entry in entries:
            parsed = _parse_entry(entry)
            if isinstance(parsed, str):
                ignored.append(entry)
            elif parsed is not None:
                self._add(parsed)
                accepted.append(parsed[3])
        #: The entries in use, trimmed, in the order given.
        self.entries: Tuple[str, ...] = tuple(accepted)
        #: Entries that were skipped because they are malformed, as written.
        self.ignored: Tuple[str, ...] = tuple(ignored)

    def _add(self, parsed: _Parsed) -> None:
        kind, key, port, written = parsed
        if kind == "all":
            self._all = self._all or written
        elif isinstance(key, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            self._nets.append((key, port, written))
        elif isinstance(key, str):
            self._domains.setdefault(key, []).append((port, written))
        else:
            self._ips.setdefault(key, []).append((port, written))

    def __bool__(self) -> bool:
        """Whether any entry can match at all."""
        return bool(self.entries)

    def __repr__(self) -> str:
        return f"NoProxy({list(self.entries)!r})"

    def match(self, host: str, port: int) -> Optional[str]:
        """Return the entry (as written, trimmed) that matches host:port, or None.

        ``host`` may be bracketed or not, in any case, with a trailing dot. The most
        specific domain entry wins (``api.corp`` before ``.corp``).
        """
        if self._all is not None:
            return self._all
        host = host.lower()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif host.endswith("."):
            host = host[:-1]
        ip = _as_ip(host)
        if ip is not None:
            return self._match_ip(ip, port)
        return self._match_domain(host, port)

    def _match_ip(self, ip: _IP, port: int) -> Optional[str]:
        found = _first(self._ips.get(ip), port)
        if found is not None:
            return found
        for net, wanted, entry in self._nets:
            if net.version == ip.version and ip in net and wanted in (None, port):
                return entry
        return None

    def _match_domain(self, name: str, port: int) -> Optional[str]:
        while name:
            found = _first(self._domains.get(name), port)
            if found is not None:
                return found
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1 :]
        return None


# --- proxy URLs --------------------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``**********`` (user kept).

    URLs without credentials are returned unchanged.

    Works on text that is not a valid URL too (it never raises), including a
    scheme-less ``user:pass@proxy:3128``. Example::

        >>> mask_url("http://bob:s3cret@proxy:3128")
        'http://bob:**********@proxy:3128'
    """
    start = url.find("://")
    start = 0 if start < 0 else start + 3
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
        head = value.find("://")
        start = 0 if head < 0 else head + 3
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
        self._direct = {
            s: ProxyRoute(proxy_url=None, reason=f"no proxy configured for {s} ({source})")
            for s in _SCHEMES
        }
        self._bypass = {
            e: ProxyRoute(proxy_url=None, reason=f"no_proxy entry {e!r} matched")
            for e in self._no_proxy.entries
        }

    @property
    def source(self) -> str:
        """Where the proxy settings came from: ``network.proxy`` or ``environment``."""
        return self._source

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
            return self._direct.get(scheme) or ProxyRoute(
                proxy_url=None, reason=f"no proxy configured for {scheme} ({self._source})"
            )
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
