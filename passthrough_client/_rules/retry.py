"""Retry rules (pure): which failures are retried and how long to wait.

Retried: failures to establish the connection (of a proxy's answers to CONNECT, only a
5xx: a 407 or 403 is final) and the statuses 408, 429, 502, 503 and 504; a response
header ``x-should-retry: true|false`` overrides the status rule. The wait is
``retry-after-ms`` (which wins) or ``Retry-After`` (seconds or an HTTP date) when given
and at most 60 s, else ``min(0.5 * 2**n, 8)`` seconds with jitter. A ``Retry-After``
over 60 s is not waited for.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from typing import Mapping, Optional

__all__ = [
    "MAX_WAIT",
    "RETRY_STATUSES",
    "backoff",
    "retry_after",
    "should_retry_connect_status",
    "should_retry_status",
]

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
MAX_WAIT = 60.0


def should_retry_status(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a response with this status and these headers is worth another attempt."""
    override = headers.get("x-should-retry", "").strip().lower()
    if override == "true":
        return True
    if override == "false":
        return False
    return status in RETRY_STATUSES


def retry_after(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """The wait in seconds the service asked for, or ``None`` when it asked for none.

    ``retry-after-ms`` wins when it holds a number; else ``Retry-After`` as seconds or
    an HTTP date (a past date: ``0.0``). Values that are negative, not finite or not
    understood count as not given; this never raises.
    """
    millis = _seconds(headers.get("retry-after-ms") or "")
    if millis is not None:
        return millis / 1000.0
    text = (headers.get("retry-after") or "").strip()
    if not text:
        return None
    seconds = _seconds(text)
    return seconds if seconds is not None else _from_http_date(text, now)


def _seconds(text: str) -> Optional[float]:
    """A finite number >= 0 from ``text``, else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _from_http_date(text: str, now: Optional[float]) -> Optional[float]:
    try:
        when = email.utils.parsedate_to_datetime(text)
        stamp = when.timestamp() if when is not None else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if stamp is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, stamp - current)


def backoff(attempt: int) -> float:
    """Exponential backoff for retry number ``attempt`` (0-based), with jitter."""
    base = min(0.5 * 2.0 ** min(attempt, 16), 8.0)  # capped exponent: no float overflow
    return base * (0.75 + 0.25 * random.random())


def should_retry_connect_status(status: int) -> bool:
    """Whether a proxy's answer to CONNECT is worth another attempt: only a 5xx (the
    proxy could not reach the service). A 407 or 403 is final: repeating credentials
    the proxy refused only locks accounts under a lockout policy."""
    return status >= 500
