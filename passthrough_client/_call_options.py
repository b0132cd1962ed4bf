"""Per-call options, and the defaults a ``with_options`` copy lays under them."""

from __future__ import annotations

from typing import Any, Dict, Mapping, NamedTuple, Optional

import attrs

from ._send import TimeoutArg
from .exceptions import ConfigError

__all__ = ["Call", "Defaults", "check_max_retries", "merge_headers"]


class Call(NamedTuple):
    """The per-call options every call takes."""

    provider_data: Any
    extra_headers: Optional[Mapping[str, str]]
    timeout: TimeoutArg
    deadline: Optional[float]
    max_retries: Optional[int] = None
    first_event_timeout: Optional[float] = None
    idle_timeout: Optional[float] = None


def check_max_retries(value: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError("max_retries: must be a whole number >= 0")


def merge_headers(
    base: Optional[Mapping[str, str]], over: Optional[Mapping[str, str]]
) -> Optional[Dict[str, str]]:
    """``base`` with ``over`` laid on top; a name in ``over`` replaces ``base``'s in any case."""
    if not base:
        return dict(over) if over else None
    merged = dict(base)
    for name, value in (over or {}).items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged


@attrs.frozen
class Defaults:
    """Per-call defaults of a ``with_options`` copy (``None``: the client's own)."""

    timeout: TimeoutArg = None
    max_retries: Optional[int] = None
    extra_headers: Optional[Dict[str, str]] = None

    def over(self, timeout: TimeoutArg, max_retries: Optional[int], extra_headers: Any) -> Defaults:
        """These defaults with the given ones laid on top (a chained copy: later wins)."""
        return Defaults(
            timeout=self.timeout if timeout is None else timeout,
            max_retries=self.max_retries if max_retries is None else max_retries,
            extra_headers=merge_headers(self.extra_headers, extra_headers),
        )

    def apply(self, call: Call) -> Call:
        """``call`` with these defaults under it (the call's own options win)."""
        return call._replace(
            timeout=self.timeout if call.timeout is None else call.timeout,
            max_retries=self.max_retries if call.max_retries is None else call.max_retries,
            extra_headers=merge_headers(self.extra_headers, call.extra_headers),
        )


NO_DEFAULTS = Defaults()
