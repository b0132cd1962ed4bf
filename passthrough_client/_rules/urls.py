"""The rule for service URLs (``base_url``, ``passthrough_url``), pure."""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import urlsplit

__all__ = ["service_url_problem"]

# Whitespace and control characters: urlsplit would silently drop CR/LF/TAB.
_BAD_CHARACTER = re.compile(r"[\s\x00-\x1f\x7f\x85\u2028\u2029]")


def service_url_problem(url: str) -> Optional[str]:
    """Why ``url`` is not an http(s) URL with a host (never quoting it), or ``None``."""
    if _BAD_CHARACTER.search(url):
        return "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "not a valid URL (check the host and port)"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http:// or https:// URL with a host" + _scheme_hint(url)
    if ":" not in host and not _valid_host_name(host):
        return "the host name is not valid (empty label or a label over 63 characters)"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not supported; use an API key"
    return None


def _valid_host_name(host: str) -> bool:
    """Whether every label of a (possibly internationalised) host name is 1-63 characters."""
    try:
        host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    return True


def _scheme_hint(url: str) -> str:
    """A hint for ``host:port/path`` written without a scheme (the URL is not quoted)."""
    if "://" in url:
        return ""
    try:
        host = urlsplit("http://" + url).hostname
    except ValueError:
        return ""
    return "; it has no scheme: did you mean http://... or https://...?" if host else ""
