"""Stream timeouts: ``first_event_timeout`` and ``idle_timeout`` of streaming calls.

A socket read timeout cannot tell a stalled generation from a server that only sends
``: ping`` comments: every comment is data to the socket. This clock counts events
only (comments and events without data reset nothing):

- before the first event: ``first_event_timeout`` seconds from sending the request,
  or ``idle_timeout`` when ``first_event_timeout`` is ``None``;
- after an event: ``idle_timeout`` seconds until the next one.

The stream asks :meth:`StreamClock.wait` before each read and shortens the socket's
timeout to it, so a silent server is noticed on time, and calls
:meth:`StreamClock.after_read` after each read, so a chatty server that never sends an
event is noticed too. Exceeding a limit raises :class:`APITimeoutError` naming it; the
stream is then closed and nothing is retried.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Optional, Sequence

from .exceptions import APITimeoutError, ConfigError

__all__ = ["StreamClock", "check_stream_timeouts"]


def check_stream_timeouts(first_event: Any, idle: Any, *, stream: bool) -> None:
    """Raise :class:`ConfigError` for invalid values, or for either one without a stream."""
    problems = []
    for name, value in (("first_event_timeout", first_event), ("idle_timeout", idle)):
        if value is None:
            continue
        if not _is_seconds(value):
            problems.append(f"{name}: must be a number of seconds > 0")
        elif not stream:
            problems.append(f"{name}: only applies to streaming calls (stream=True)")
    if problems:
        raise ConfigError(problems)


def _is_seconds(value: Any) -> bool:
    """A finite number > 0 (``bool`` is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 < value < math.inf


class StreamClock:
    """The event clock of one stream; ``started`` is when its request was sent."""

    __slots__ = ("_at", "_first", "_idle", "_name", "_read_timeout", "_value")

    def __init__(
        self, first_event: Optional[float], idle: Optional[float], *, started: float
    ) -> None:
        self._first = first_event
        self._idle = idle
        self._read_timeout: Optional[float] = None
        self._at: Optional[float] = None
        self._name, self._value = "", 0.0
        self._arm(first_event if first_event is not None else idle, started, first=True)

    @staticmethod
    def first_limit(first_event: Optional[float], idle: Optional[float]) -> Optional[float]:
        """Seconds allowed from sending until the first event (``None``: no limit)."""
        return first_event if first_event is not None else idle

    def _arm(self, seconds: Optional[float], since: float, *, first: bool) -> None:
        if seconds is None:
            self._at = None
            return
        self._at = since + seconds
        if first and self._first is not None:
            self._name, self._value = "first_event_timeout", self._first
        else:
            self._name, self._value = "idle_timeout", seconds

    def expired(self) -> bool:
        """Whether the current limit has passed."""
        return self._at is not None and time.monotonic() >= self._at

    def error(self) -> APITimeoutError:
        """The error for the limit that passed, naming it and its value."""
        if self._name == "first_event_timeout":
            what = "no event arrived within first_event_timeout"
        else:
            what = "no event arrived within idle_timeout"
        return APITimeoutError(f"{what} ({self._value:g} s); the stream was closed")

    def wait(self, sock: Any) -> None:
        """Before a read: shorten ``sock``'s timeout to the time left; raise when none is."""
        if sock is None or (self._at is None and self._read_timeout is None):
            return
        if self._read_timeout is None:
            self._read_timeout = sock.gettimeout() or math.inf  # the call's read timeout
        if self._at is None:  # no limit any more: the call's read timeout again
            timeout = self._read_timeout
        else:
            timeout = self._at - time.monotonic()
            if timeout <= 0:
                raise self.error()
        with contextlib.suppress(OSError):  # a socket closed meanwhile fails the read anyway
            sock.settimeout(None if timeout == math.inf else min(timeout, self._read_timeout))

    def after_read(self, events: Sequence[Any]) -> bool:
        """After a read that decoded ``events``: restart on an event with data (empty
        ``data:`` is no more an event than a keep-alive comment); whether a limit passed."""
        if any(e.data and not e.data.isspace() for e in events):
            self._arm(self._idle, time.monotonic(), first=False)
            return False
        return self.expired()


def socket_of(raw: Any) -> Any:
    """The socket under a urllib3 response, or ``None`` once it is gone."""
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    return getattr(connection, "sock", None)
