"""The whole error tree of passthrough_client.

::

    PassthroughError
    ├── ConfigError(PassthroughError, ValueError)          .errors
    ├── ProviderDataError(PassthroughError, ValueError)    .key
    ├── ModelNotAllowedError(PassthroughError, ValueError) .model .allowed
    ├── APIConnectionError                                 DNS/TCP/proxy/TLS; cause chained
    │   └── APITimeoutError                                connect/read timeout, deadline
    ├── APIStatusError   .status_code .message .body .request_id .response .retry_after
    │   ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
    │   │   NotFoundError 404, ConflictError 409, UnprocessableEntityError 422,
    │   │   RateLimitError 429, InternalServerError >= 500
    ├── InvalidResponseError                               not JSON / wrong shape
    └── StreamError                                        error event in a stream; .body

Every exception pickles: the response object of an ``APIStatusError`` is dropped on
the way, its status code, message, body, request id and retry-after survive. No
exception text ever contains an API key, a proxy password or a forwarded header
value: the code that raises these builds messages from names, never from secrets.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "InternalServerError",
    "InvalidResponseError",
    "ModelNotAllowedError",
    "NotFoundError",
    "PassthroughError",
    "PermissionDeniedError",
    "ProviderDataError",
    "RateLimitError",
    "StreamError",
    "UnprocessableEntityError",
    "status_error_class",
]


class PassthroughError(Exception):
    """Base class of every error this package raises."""


class ConfigError(PassthroughError, ValueError):
    """The configuration is invalid; ``.errors`` lists every problem found.

    Each entry starts with the path of the offending value (``network.tls.verify: ...``).
    """

    def __init__(self, errors: Sequence[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(self.errors)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errors,))


class ProviderDataError(PassthroughError, ValueError):
    """Provider data is malformed or holds a value that may not be forwarded.

    ``.key`` names the offending provider-data key (``None`` when the whole document is
    at fault). The message never contains the value.
    """

    def __init__(self, message: str, key: Optional[str] = None) -> None:
        super().__init__(message)
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.key))


class ModelNotAllowedError(PassthroughError, ValueError):
    """The model is not in the configuration's ``allowed_models``."""

    def __init__(self, model: str, allowed: Sequence[str]) -> None:
        self.model = model
        self.allowed = tuple(allowed)
        listed = ", ".join(repr(m) for m in self.allowed) or "none"
        super().__init__(f"model {model!r} is not allowed; allowed models: {listed}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.model, self.allowed))


class APIConnectionError(PassthroughError):
    """The request did not get a usable response: DNS, TCP, proxy, TLS or a broken body.

    The message says which step failed; the underlying exception is chained.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,))


class APITimeoutError(APIConnectionError):
    """A connect or read timeout expired, or the call's ``deadline`` passed."""


class APIStatusError(PassthroughError):
    """The service answered with an error status (or a redirect that is not followed).

    ``.body`` is the parsed JSON body (or its text), ``.message`` the service's error
    message, ``.request_id`` the ``x-request-id`` header, ``.retry_after`` the wait the
    service asked for in seconds (or ``None``), ``.response`` the ``requests.Response``
    (``None`` after unpickling).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: Optional[str] = None,
        response: Any = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.message = message
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.response = response
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "status_code": self.status_code,
            "body": self.body,
            "request_id": self.request_id,
            "retry_after": self.retry_after,
        }
        return (_rebuild_status_error, (type(self), self.message, kwargs))


def _rebuild_status_error(
    cls: type[APIStatusError], message: str, kwargs: dict[str, Any]
) -> APIStatusError:
    return cls(message, **kwargs)


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 500 and above."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the ``APIStatusError`` subclass for an HTTP status code."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)


class InvalidResponseError(PassthroughError):
    """The service's body is not JSON or does not have the expected shape.

    The message carries a snippet of at most 200 characters of what was received.
    """


class StreamError(PassthroughError):
    """The service reported an error inside a stream; ``.body`` holds the payload."""

    def __init__(self, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.body = body

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.body))
