"""How a stream's body ends: whether HTTP frames it, and the drain after ``[DONE]``."""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable

__all__ = ["DRAIN_BYTES", "DRAIN_SECONDS", "drain", "framed"]

DRAIN_BYTES = 65536
DRAIN_SECONDS = 0.5


def framed(raw: Any) -> bool:
    """Whether the body's end is marked by HTTP (chunked or ``Content-Length``)."""
    return bool(raw.chunked) or raw.length_remaining is not None


def drain(raw: Any, read: Callable[[], bytes]) -> bool:
    """Read what follows ``[DONE]`` (at most 64 KiB and 0.5 s); whether the body ended.

    The time bound comes from the socket's own timeout, set for each read to what
    is left of the 0.5 s: no timer thread per stream (starting one costs about
    250 microseconds, as much as a whole short stream). The timeout is put back while
    the connection is still ours; once urllib3 has returned it to the pool, its next
    request sets the timeout afresh.
    """
    sock = getattr(raw.connection, "sock", None)
    if sock is None or not framed(raw):
        return False
    before = sock.gettimeout()
    until = time.monotonic() + DRAIN_SECONDS
    drained = 0
    try:
        while drained <= DRAIN_BYTES:
            left = until - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(left if before is None else min(left, before))
            data = read()
            if not data:
                return True
            drained += len(data)
    except Exception:
        return False
    finally:
        if raw.connection is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(before)
    return False
