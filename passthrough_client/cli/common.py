"""What the commands share: exit codes, masking for display, opening a client, errors.

Imported by ``main`` and by every command module (``config``, ``demo``, ``doctor``,
``batch``); it imports none of them, so the command line has no import circle.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional, TextIO

from .._client import PassthroughClient
from .._loading import load_config
from ..exceptions import (
    APIConnectionError,
    APIStatusError,
    ConfigError,
    InvalidResponseError,
    ModelNotAllowedError,
    PassthroughError,
    ProviderDataError,
    StreamError,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "PACKAGE",
    "describe_error",
    "mask_header",
    "open_client",
    "print_json",
    "source_of",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
MASK = "**********"
SAMPLE_SOURCE = "the sample configuration (PASSTHROUGH_URL, PASSTHROUGH_API_KEY)"
#: The package's own import name (a vendored copy logs under its own name).
PACKAGE = __name__.rsplit(".", 2)[0]
_SECRET_NAME = re.compile(r"auth|cookie|key|token|secret|passw|credential|session", re.I)


def mask_header(name: str, value: str) -> str:
    """``value`` as it may be shown: credentials masked, the auth scheme kept.

    ``Authorization: Bearer sk-...`` shows as ``Bearer **********``; any header whose
    name suggests a credential (key, token, secret, cookie, ...) is masked whole.
    """
    if name.lower() in ("authorization", "proxy-authorization"):
        scheme, _, rest = value.partition(" ")
        return f"{scheme} {MASK}" if rest else MASK
    return MASK if _SECRET_NAME.search(name) else value


def source_of(config_path: Optional[str], provider_id: Optional[str] = None) -> str:
    """Say where the configuration comes from, for messages."""
    if config_path is None:
        return SAMPLE_SOURCE
    return config_path if provider_id is None else f"{config_path}, provider_id {provider_id!r}"


def open_client(
    config_path: Optional[str],
    *,
    max_retries: int = 2,
    environ: Optional[Mapping[str, str]] = None,
    provider_id: Optional[str] = None,
) -> PassthroughClient:
    """A client for ``config_path``, or for the sample configuration when it is ``None``.

    ``provider_id`` picks one provider of a run configuration (as ``load_config``'s).
    Raises :class:`ConfigError`; without a file, the message says how to set the URL.
    """
    try:
        if config_path is None:
            return PassthroughClient(max_retries=max_retries, environ=environ)
        config = load_config(config_path, environ=environ, provider_id=provider_id)
        return PassthroughClient(config, max_retries=max_retries, environ=environ)
    except ConfigError as exc:
        if config_path is None and any("PASSTHROUGH_URL" in e for e in exc.errors):
            raise ConfigError(
                [*exc.errors, "hint: set PASSTHROUGH_URL or pass --config FILE"]
            ) from None
        raise


def describe_error(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an error."""
    code, text = EXIT_FAILURE, str(exc)
    if isinstance(exc, ConfigError):
        code, text = EXIT_USAGE, "invalid configuration: " + "; ".join(exc.errors)
    elif isinstance(exc, ProviderDataError):
        code, text = EXIT_USAGE, f"invalid --provider-data: {exc}"
    elif isinstance(exc, ModelNotAllowedError):
        code = EXIT_USAGE
    elif isinstance(exc, APIStatusError):
        text = f"the service answered HTTP {exc.status_code}: {exc.message}"
        text += f" (request id {exc.request_id})" if exc.request_id else ""
    elif isinstance(exc, StreamError):
        text = f"the stream failed: {exc}"
    elif isinstance(exc, InvalidResponseError):
        text = f"invalid response from the service: {exc}"
    elif not isinstance(exc, (APIConnectionError, PassthroughError)):
        text = f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return code, " ".join(text.split())


def print_json(value: Any, out: TextIO, *, indent: Optional[int] = 2) -> None:
    """Write ``value`` as JSON (non-ASCII kept) and flush."""
    out.write(json.dumps(value, indent=indent, ensure_ascii=False) + "\n")
    out.flush()
