"""``no_proxy`` entries: parsing, validation and the :class:`NoProxy` matcher (pure).

Entries are case-insensitive and match whole labels: ``example.com``, ``.example.com``
and ``*.example.com`` each match ``example.com`` and ``api.example.com`` but never
``notexample.com``; ``*`` matches everything; IPv4 and IPv6 addresses match literally
(``localhost`` does not cover ``127.0.0.1``); CIDR ranges match IP-literal hosts only;
``host:port`` and ``[v6]:port`` match that port only. Unlike
``requests.utils.should_bypass_proxies``, nothing here reads or rewrites ``os.environ``.
Re-exported by ``_proxy``, which uses the matcher to route requests.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Dict, Iterable, List, Optional, Tuple, Union

__all__ = ["NoProxy", "no_proxy_entry_error"]

_IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
_Net = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
# One parsed entry: (kind, key, port, entry as written); kind is all/ip/net/domain.
_Parsed = Tuple[str, object, Optional[int], str]

_LABEL = re.compile(r"[\w-]+")
_PORT = re.compile(r"[0-9]{1,5}")
_WHITESPACE = re.compile(r"\s")
_ADDRESSES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


# --- parsing entries -----------------------------------------------------------------


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


# --- matching ------------------------------------------------------------------------


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
