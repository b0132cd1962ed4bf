"""Which redirects may be followed (pure: no sockets).

Only 307 and 308 within the origin are followed (DESIGN §3). The origin of a
``Location`` is judged by the same parser that opens the connection: requests' own URL
preparation (``PreparedRequest.prepare_url``: IDNA, requoting) and then urllib3's
``parse_url``, which is what urllib3 picks the host to connect to with. Judging it with
another parser (``urllib.parse``) lets ``http://other:1\\@origin/`` look like ``origin``
while the connection goes to ``other``, with the API key and the forwarded headers.

On top of that, a ``Location`` that parsers are known to read differently is treated as
another origin whatever it resolves to: one with a backslash, whitespace or a control
character, credentials (userinfo), or a scheme without ``//`` (``http:other/``).
"""

from __future__ import annotations

import functools
import re
from typing import Optional
from urllib.parse import urljoin

import requests
from urllib3.exceptions import LocationValueError
from urllib3.util import parse_url

__all__ = ["Origin", "location_problem", "origin_of", "prepared_url", "redirect_target"]

Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# C0 controls, space, DEL, C1 controls and NBSP: parsers disagree on all of them.
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\xa0]")


@functools.lru_cache(maxsize=256)  # the same few URLs on every call: parse them once
def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` of ``url`` exactly as the connection will be opened.

    Default ports are filled in and letter case does not matter (``HTTP://H:80/`` and
    ``http://h/`` are one origin). Raises ``ValueError`` for a URL that cannot be sent.
    """
    parts = parse_url(prepared_url(url))
    scheme = (parts.scheme or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    return scheme, (parts.host or "").lower(), port


def prepared_url(url: str) -> str:
    """``url`` exactly as requests will send it; ``ValueError`` when it cannot be sent."""
    request = requests.PreparedRequest()
    try:
        request.prepare_url(url, None)
    except (requests.RequestException, LocationValueError, ValueError) as exc:
        raise ValueError("not a valid URL") from exc
    return str(request.url)


def location_problem(location: str) -> Optional[str]:
    """Why a ``Location`` is treated as another origin before any parsing, else ``None``."""
    if "\\" in location:
        return "it contains a backslash"
    if _UNSAFE.search(location) or any(c.isspace() for c in location):
        return "it contains whitespace or a control character"
    scheme = _SCHEME.match(location)
    if scheme and not location[scheme.end() :].startswith("//"):
        return "it has a scheme without '//'"
    if location.startswith("//") or scheme:
        start = location.index("//") + 2
        authority = re.split(r"[/?#]", location[start:], maxsplit=1)[0]
        if "@" in authority:
            return "it carries credentials (userinfo)"
    return None


def redirect_target(url: str, location: str) -> tuple[str, Optional[str]]:
    """``(target, problem)``: the URL a ``Location`` leads to, as it would be sent, and
    why it may not be followed (``None``: same origin as ``url``, follow it).

    ``target`` is the prepared URL; sending it again prepares to the same URL, so the
    origin judged here is the one the connection goes to. Raises ``ValueError`` when
    the target is not a valid URL.
    """
    problem = location_problem(location)
    if problem is not None:
        return location, problem
    target = prepared_url(urljoin(url, location))
    if parse_url(target).auth is not None:
        return target, "it carries credentials (userinfo)"
    if origin_of(target) != origin_of(url) or prepared_url(target) != target:
        return target, "it leads to another origin"
    return target, None
