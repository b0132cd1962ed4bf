"""HTTP header rules shared by configuration validation and provider-data forwarding (pure)."""

from __future__ import annotations

import re
from typing import Optional

__all__ = [
    "CORE_BLOCKED_HEADERS",
    "FRAMING_HEADERS",
    "MAX_VALUE_BYTES",
    "is_token",
    "value_problem",
]

#: Headers that frame the HTTP message; the transport owns them.
FRAMING_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "trailer", "upgrade"}
)

#: Names that ``forward_headers`` may never target (provider-config.md), lower case.
CORE_BLOCKED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "cookie",
        "set-cookie",
        "forwarded",
        "proxy-authorization",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-prefix",
        "x-real-ip",
    }
)

#: Largest header value accepted, in UTF-8 bytes.
MAX_VALUE_BYTES = 8192

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# C0 controls (TAB included), DEL, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def is_token(name: str) -> bool:
    """Whether ``name`` is a valid HTTP header name (an RFC 9110 token)."""
    return _TOKEN.fullmatch(name) is not None


def value_problem(value: str) -> Optional[str]:
    """Why ``value`` cannot be sent verbatim as a header value, or ``None`` when it can.

    The reason never quotes the value, so it is safe to put in an error message.
    """
    if _CONTROL.search(value):
        return "value contains a control character"
    if value != value.strip():
        return "value has leading or trailing whitespace"
    if not value.isascii():
        if any(ord(c) > 0xFF for c in value):
            return "value contains a character outside Latin-1"
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            return f"value is longer than {MAX_VALUE_BYTES} bytes"
    elif len(value) > MAX_VALUE_BYTES:
        return f"value is longer than {MAX_VALUE_BYTES} bytes"
    return None
