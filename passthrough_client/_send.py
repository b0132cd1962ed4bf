"""Sending one call: retries, deadlines, status errors, body limits and per-attempt logging.

The deadline covers the whole call: a :class:`._watchdog.Watchdog` is armed before
anything is sent, and shuts down the socket in use (connecting, sending the body,
waiting for the response head, reading the body) when the deadline passes. Whatever
failure that causes is reported as the deadline's ``APITimeoutError``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Optional, Union

import requests

from ._net.body import (
    MAX_EVENT_BYTES,
    MAX_RESPONSE_BYTES,
    TRANSPORT_ERRORS,
    read_body,
    transport_error,
)
from ._net.compat import shutdown_response
from ._net.errors import is_connect_failure, translate
from ._net.transport import Outgoing, Timeout, Transport
from ._net.watchdog import Watchdog, watching
from ._responses import read_error_body, status_error
from ._rules.mask import NO_MASK, Masker
from ._rules.proxy import mask_url
from ._rules.retry import MAX_WAIT, backoff, retry_after, should_retry_status
from .config import TimeoutConfig
from .exceptions import APIConnectionError, APIStatusError, APITimeoutError, ConfigError

__all__ = ["Deadline", "Sender", "TimeoutArg", "check_limits", "shutdown"]

log = logging.getLogger(__name__.rpartition(".")[0])

TimeoutArg = Union[None, float, "tuple[float, float]", TimeoutConfig]


class Deadline:
    """A total time budget for one call (``None`` seconds: unbounded)."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: Optional[float]) -> None:
        if seconds is not None and not _positive(seconds):
            raise ConfigError("deadline: must be a number of seconds > 0")
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> Optional[float]:
        """Seconds left (``None`` when unbounded); raises when none are left."""
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> APITimeoutError:
        """The error for a passed deadline."""
        return APITimeoutError(f"the call's deadline of {self.seconds:g} s passed")

    def allows(self, wait: float) -> bool:
        """Whether waiting ``wait`` seconds still leaves time before the deadline."""
        return self.at is None or time.monotonic() + wait < self.at

    def cap(self, timeout: Timeout) -> Timeout:
        """The timeout shortened so no single wait passes the deadline."""
        left = self.remaining()
        if left is None:
            return timeout
        return Timeout(min(timeout.connect, left), min(timeout.read, left))

    def watchdog(self) -> Optional[Watchdog]:
        """A watchdog armed for the time left (``None`` when unbounded)."""
        left = self.remaining()
        return None if left is None else Watchdog(left)


def shutdown(response: requests.Response) -> None:
    """Unblock a pending read on the response's socket (from another thread)."""
    shutdown_response(response.raw)


def check_limits(**limits: Any) -> None:
    """Raise :class:`ConfigError` naming each byte-limit keyword whose value is not a
    whole number >= 1."""
    problems = [
        f"{name}: must be a whole number of bytes >= 1, got {value!r}"[:200]
        for name, value in limits.items()
        if isinstance(value, bool) or not isinstance(value, int) or value < 1
    ]
    if problems:
        raise ConfigError(problems)


class Sender:
    """Sends a call with the client's retry policy and response size limits."""

    def __init__(
        self,
        transport: Transport,
        max_retries: int,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._transport = transport
        self._max_retries = max_retries
        self.max_response_bytes = max_response_bytes
        self.max_event_bytes = max_event_bytes

    def timeout_for(self, value: TimeoutArg) -> Timeout:
        """The per-call timeout: the call's own, else the configuration's.

        Raises :class:`ConfigError` for a value that is not seconds > 0, a
        ``(connect, read)`` pair of them, or a ``TimeoutConfig``.
        """
        if value is None:
            return self._transport.timeout
        if isinstance(value, TimeoutConfig):
            return Timeout.resolve(value)
        parts = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if len(parts) != 2 or not all(_positive(p) for p in parts):
            raise ConfigError(
                "timeout: expected seconds > 0, a (connect, read) pair of them, or a TimeoutConfig"
            )
        return Timeout(float(parts[0]), float(parts[1]))

    def send(
        self,
        outgoing: Outgoing,
        *,
        timeout: Timeout,
        deadline: Deadline,
        stream: bool,
        max_retries: Optional[int] = None,
    ) -> tuple[requests.Response, int]:
        """A 2xx response and the attempts it took (``max_retries``: the client's when ``None``).

        Without ``stream`` the body has been read (``.content``), within
        ``max_response_bytes``. Raises this package's errors otherwise.
        """
        retries = self._max_retries if max_retries is None else max_retries
        dog = deadline.watchdog()
        try:
            with watching(dog):
                return self._send(outgoing, timeout, deadline, stream, dog, retries)
        finally:
            if dog is not None:
                dog.cancel()

    def _send(
        self,
        outgoing: Outgoing,
        timeout: Timeout,
        deadline: Deadline,
        stream: bool,
        dog: Optional[Watchdog],
        retries: int,
    ) -> tuple[requests.Response, int]:
        attempt = 0
        while True:
            error, wait = self._attempt(outgoing, timeout, deadline, stream, attempt, dog)
            if isinstance(error, requests.Response):
                return error, attempt + 1
            if wait is None or attempt >= retries:
                raise error
            if not deadline.allows(wait):
                raise error
            log.warning(
                "retrying %s %s in %.2f s after %s (attempt %d of %d)",
                outgoing.method,
                _no_query(outgoing.url),
                wait,
                _kind(error),
                attempt + 2,
                retries + 1,
            )
            time.sleep(wait)
            attempt += 1

    def _attempt(
        self,
        outgoing: Outgoing,
        timeout: Timeout,
        deadline: Deadline,
        stream: bool,
        attempt: int,
        dog: Optional[Watchdog],
    ) -> tuple[Any, Optional[float]]:
        """``(response, None)`` on success, else ``(error, wait or None when final)``."""
        method, url = outgoing.method, outgoing.url
        capped = deadline.cap(timeout)
        started = time.monotonic()
        try:
            response = self._transport.send(outgoing, timeout=capped, stream=True)
        except APIStatusError as exc:  # a redirect that is not followed
            _log_attempt(method, url, str(exc.status_code), started, exc.request_id, attempt)
            return exc, None
        except APIConnectionError as exc:
            _log_attempt(method, url, _failure(exc), started, None, attempt)
            if _passed(deadline, dog):
                raise deadline.expired() from exc
            retry = exc.__cause__ is not None and is_connect_failure(exc.__cause__)
            return exc, backoff(attempt) if retry else None
        _log_attempt(
            method,
            url,
            str(response.status_code),
            started,
            response.headers.get("x-request-id"),
            attempt,
        )
        if response.status_code < 300:
            if not stream:
                self._read_within(response, url, capped, deadline, dog, self._read_ok)
            elif dog is not None and dog.fired:  # a head cut short by the deadline
                response.close()
                raise deadline.expired()
            return response, None
        return self._status_failure(response, url, capped, deadline, attempt, dog, outgoing.masker)

    def _read_ok(self, response: requests.Response) -> bytes:
        return read_body(response, self.max_response_bytes, "max_response_bytes")

    def _status_failure(
        self,
        response: requests.Response,
        url: str,
        timeout: Timeout,
        deadline: Deadline,
        attempt: int,
        dog: Optional[Watchdog],
        masker: Masker = NO_MASK,
    ) -> tuple[APIStatusError, Optional[float]]:
        content = self._read_within(response, url, timeout, deadline, dog, read_error_body)
        error = status_error(response.status_code, response.headers, content, response, masker)
        response.close()
        if not should_retry_status(response.status_code, response.headers):
            return error, None
        asked = retry_after(response.headers)
        if asked is not None and asked > MAX_WAIT:
            return error, None
        return error, asked if asked is not None else backoff(attempt)

    def _read_within(
        self,
        response: requests.Response,
        url: str,
        timeout: Timeout,
        deadline: Deadline,
        dog: Optional[Watchdog],
        read: Callable[[requests.Response], bytes],
    ) -> bytes:
        """Read the body with ``read``; a failure after the deadline is the deadline's."""
        try:
            content = read(response)
        except Exception as exc:
            response.close()
            if _passed(deadline, dog):
                raise deadline.expired() from exc
            if isinstance(exc, TRANSPORT_ERRORS):
                raise translate(transport_error(exc), self._transport.route(url, timeout)) from exc
            raise
        if dog is not None and dog.fired:  # the read ended early because of the deadline
            raise deadline.expired()
        return content


def _passed(deadline: Deadline, dog: Optional[Watchdog]) -> bool:
    """Whether the call's deadline has passed (its watchdog fired, or the clock says so)."""
    return (dog is not None and dog.fired) or (deadline.at is not None and not deadline.allows(0))


def _positive(value: object) -> bool:
    """Whether ``value`` is a finite number of seconds > 0 (``bool`` is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 < value < math.inf


def _no_query(url: str) -> str:
    return mask_url(url.split("?", 1)[0])


def _kind(error: Any) -> str:
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code}"
    return type(error).__name__


def _failure(error: APIConnectionError) -> str:
    """The kind of connection failure, in words (messages never hold secrets)."""
    return f"{type(error).__name__} ({error.message})"


def _log_attempt(
    method: str, url: str, outcome: str, started: float, request_id: Optional[str], attempt: int
) -> None:
    if log.isEnabledFor(logging.DEBUG):
        elapsed = (time.monotonic() - started) * 1000
        log.debug(
            "%s %s -> %s in %.1f ms (request id %s, attempt %d)",
            method,
            _no_query(url),
            outcome,
            elapsed,
            request_id or "-",
            attempt + 1,
        )
