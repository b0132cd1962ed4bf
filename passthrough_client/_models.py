"""The per-client model-list cache (no background threads)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional, Sequence

from ._net.fork import track
from .exceptions import PassthroughError
from .types import Model

__all__ = ["ModelCache"]

log = logging.getLogger(__name__.rpartition(".")[0])


class ModelCache:
    """Caches the service's model list for calls without provider data.

    With ``refresh`` false the list is fetched once and reused (concurrent first calls
    make one request: the lock is held while fetching). With ``refresh`` true it expires
    after ``interval`` seconds; a failed automatic refresh keeps the previous list, logs
    a warning and is tried again one interval later. A forced fetch that fails raises
    and leaves the cached list as it was.
    """

    def __init__(self, *, refresh: bool, interval: float) -> None:
        self._refresh = refresh
        self._interval = interval
        self._lock = threading.Lock()
        self._models: Optional[Sequence[Model]] = None
        self._fetched_at = 0.0
        track(self)

    def after_fork(self) -> None:
        """In a forked child: a new lock (another parent thread may have held the old
        one at the fork, and nothing in the child would ever release it)."""
        self._lock = threading.Lock()

    def get(self, fetch: Callable[[], Sequence[Model]], *, force: bool) -> Sequence[Model]:
        """The cached list, fetching it first when needed (``force``: always fetch)."""
        with self._lock:
            if force or self._models is None:
                return self._store(fetch())
            if self._refresh and time.monotonic() - self._fetched_at >= self._interval:
                return self._refresh_or_keep(fetch)
            return self._models

    def _store(self, models: Sequence[Model]) -> Sequence[Model]:
        self._models = models
        self._fetched_at = time.monotonic()
        return models

    def _refresh_or_keep(self, fetch: Callable[[], Sequence[Model]]) -> Sequence[Model]:
        previous = self._models
        try:
            return self._store(fetch())
        except PassthroughError as exc:
            if previous is None:
                raise
            log.warning(
                "model list refresh failed (%s); keeping the previous list", type(exc).__name__
            )
            self._fetched_at = time.monotonic()
            return previous
