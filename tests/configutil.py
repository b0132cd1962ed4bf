"""Helpers shared by the configuration tests (``test_config*.py``, ``test_loading.py`` ...)."""

from __future__ import annotations

import pathlib
from typing import Any, Dict, List, Optional

import pytest

from passthrough_client import ConfigError, load_config

__all__ = ["entries_at", "load_error", "nest", "write"]


def nest(path: str, value: Any) -> Dict[str, Any]:
    """``nest("network.tls.verify", v)`` -> ``{"network": {"tls": {"verify": v}}}``."""
    doc: Any = value
    for part in reversed(path.split(".")):
        doc = {part: doc}
    return doc  # type: ignore[no-any-return]


def load_error(source: Any, environ: Optional[Dict[str, str]] = None, **kw: Any) -> ConfigError:
    """Load ``source`` (with an empty environment unless given) and return its ``ConfigError``."""
    with pytest.raises(ConfigError) as info:
        load_config(source, environ={} if environ is None else environ, **kw)
    return info.value


def entries_at(err: ConfigError, path: str) -> List[str]:
    """The error entries reported exactly at ``path``."""
    return [e for e in err.errors if e.startswith(path + ":")]


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
