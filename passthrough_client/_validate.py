"""Validation helpers and lenient converters of the configuration classes (pure).

Every check appends ``"path: problem"`` lines to a list instead of raising, so a class
can report all of its problems at once; messages never quote a secret.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ._rules.headers import CORE_BLOCKED_HEADERS, FRAMING_HEADERS, is_token, value_problem
from ._rules.proxy import mask_url
from ._rules.urls import service_url_problem
from ._secret import Secret
from .exceptions import ConfigError

__all__ = [
    "Problems",
    "check_api_key",
    "check_bool",
    "check_forward_headers",
    "check_headers",
    "check_http_url",
    "check_path",
    "check_seconds",
    "check_section",
    "check_str_tuple",
    "expect_str",
    "masked_url",
    "raise_if",
    "strip_items",
    "strip_targets",
    "to_float",
    "to_mapping",
    "to_secret",
    "to_tuple",
    "type_name",
]

# ---------------------------------------------------------------- converters


def to_tuple(value: Any) -> Any:
    """Lists and tuples become tuples; anything else is left for validation to report."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def to_mapping(value: Any) -> Any:
    """Mappings become read-only copies; anything else is left for validation."""
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    return value


def to_float(value: Any) -> Any:
    """Integers become floats (booleans are not numbers here)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def to_secret(value: Any) -> Any:
    """A plain string given for a secret field is wrapped in :class:`Secret`."""
    return Secret(value) if isinstance(value, str) else value


def strip_targets(value: Any) -> Any:
    """``forward_headers`` target names are trimmed of surrounding whitespace."""
    if isinstance(value, Mapping):
        return MappingProxyType(
            {k: v.strip() if isinstance(v, str) else v for k, v in value.items()}
        )
    return value


def strip_items(value: Any) -> Any:
    value = to_tuple(value)
    if isinstance(value, tuple):
        return tuple(v.strip() if isinstance(v, str) else v for v in value)
    return value


# ---------------------------------------------------------------- validation helpers


Problems = list[str]


def type_name(value: Any) -> str:
    """How a value's type reads in an error message ("a string", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def expect_str(value: Any, path: str, out: Problems) -> bool:
    if isinstance(value, str):
        return True
    hint = "; quote it" if isinstance(value, (int, float)) else ""
    out.append(f"{path}: expected a string, got {type_name(value)}{hint}")
    return False


def check_path(obj: Any, name: str, out: Problems, *, must_be_file: bool = True) -> None:
    """Expand, absolutize and check a path field in place (post-init normalisation)."""
    value = getattr(obj, name)
    if value is None:
        return
    if not isinstance(value, (str, os.PathLike)):
        out.append(f"{name}: expected a path, got {type_name(value)}")
        return
    written = os.fspath(value)
    if not written:
        out.append(f"{name}: the path is empty")
        return
    resolved = Path(os.path.abspath(os.path.expanduser(written)))
    if not resolved.exists():
        out.append(f"{name}: file not found: {written}")
    elif must_be_file and not resolved.is_file():
        out.append(f"{name}: not a file: {written}")
    object.__setattr__(obj, name, resolved)


def check_str_tuple(value: Any, path: str, out: Problems, *, allow_empty: bool = True) -> bool:
    if not isinstance(value, tuple):
        out.append(f"{path}: expected a list of strings, got {type_name(value)}")
        return False
    ok = True
    for i, item in enumerate(value):
        if not expect_str(item, f"{path}[{i}]", out):
            ok = False
        elif not allow_empty and not item.strip():
            out.append(f"{path}[{i}]: must not be empty")
            ok = False
    return ok


def check_http_url(value: Any, path: str, out: Problems) -> None:
    if value is None or not expect_str(value, path, out):
        return
    problem = service_url_problem(value)
    if problem:
        out.append(f"{path}: {problem}")


def raise_if(problems: Problems) -> None:
    if problems:
        raise ConfigError(problems)


def masked_url(value: Any) -> str:
    return repr(mask_url(value)) if isinstance(value, str) else repr(value)


def check_seconds(value: Any, path: str, out: Problems) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        out.append(f"{path}: expected a number of seconds, got {type_name(value)}")
    elif not math.isfinite(value) or value <= 0:
        out.append(f"{path}: must be a finite number of seconds > 0")


def check_headers(headers: Any, out: Problems) -> None:
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        out.append(f"headers: expected a mapping, got {type_name(headers)}")
        return
    seen: dict[str, str] = {}
    for name, value in headers.items():
        path = f"headers[{name!r}]"
        if not isinstance(name, str) or not is_token(name):
            out.append(f"{path}: not a valid header name")
            continue
        lower = name.lower()
        if lower in FRAMING_HEADERS:
            out.append(f"{path}: {name} is set by the transport and cannot be configured")
        if lower in seen:
            out.append(f"{path}: duplicate of {seen[lower]!r} (header names ignore case)")
        seen[lower] = name
        if expect_str(value, path, out):
            problem = value_problem(value)
            if problem:
                out.append(f"{path}: {problem}")


def check_forward_headers(value: Any, extra_blocked: Any, out: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        out.append(f"forward_headers: expected a mapping, got {type_name(value)}")
        return
    blocked = set(CORE_BLOCKED_HEADERS)
    if isinstance(extra_blocked, tuple):
        blocked.update(h.lower() for h in extra_blocked if isinstance(h, str))
    for key, target in value.items():
        path = f"forward_headers[{key!r}]"
        if not isinstance(key, str) or not key:
            out.append(f"{path}: provider-data keys must be non-empty strings")
        elif key.startswith("__"):
            out.append(f"{path}: keys starting with '__' are reserved")
        if not expect_str(target, path, out):
            continue
        if not is_token(target):
            out.append(f"{path}: {target!r} is not a valid header name")
        elif target.lower() in blocked:
            out.append(f"{path}: header {target!r} is blocked and cannot be forwarded")


def check_api_key(value: Any, out: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, Secret):
        out.append(f"api_key: expected a string, got {type_name(value)}; quote it")
        return
    key = value.get_secret_value()
    problem = value_problem(key) if key else None
    if problem is None and key and value_problem(f"Bearer {key}"):
        problem = "the key is too long for a header"
    if problem:
        out.append(f"api_key: {problem.replace('value', 'the key', 1)} (it is sent as a header)")


def check_bool(value: Any, path: str, out: Problems) -> None:
    if not isinstance(value, bool):
        out.append(f"{path}: expected true or false, got {type_name(value)}")


def check_section(obj: Any, name: str, cls: type, out: Problems) -> None:
    value = getattr(obj, name)
    if value is not None and not isinstance(value, cls):
        out.append(f"{name}: expected {cls.__name__}, got {type_name(value)}")
