"""Fork safety: objects that must not carry parent state into a forked child.

After ``os.fork()`` (gunicorn ``--preload``, Celery prefork, ``multiprocessing`` with
``fork``) the child holds copies of the parent's pooled sockets and of its locks. A
socket used from both processes interleaves their requests on one connection (each
side reads the other's answers), and a lock that another parent thread held at the
moment of the fork stays held forever in the child. So every object holding either
registers here, and a hook run in the child right after the fork resets it.

The hook is registered lazily, at the first :func:`track` (no import-time side
effects), and only once. Registered objects are held weakly: a closed and forgotten
client costs nothing here.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "track"]


class ForkAware(Protocol):
    """An object that can drop its inherited state in a forked child."""

    def after_fork(self) -> None:
        """Forget the parent's connections and re-create locks (runs in the child)."""


_tracked: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_registered = False


def track(obj: ForkAware) -> None:
    """Reset ``obj`` in every child forked from now on (its ``after_fork`` is called)."""
    global _registered
    if not _registered:
        # A race here registers the hook twice; resetting twice is harmless, so no lock
        # (a lock held at the fork would be one more thing to re-create in the child).
        _registered = True
        if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
            os.register_at_fork(after_in_child=_reset_in_child)
    _tracked.add(obj)


def _reset_in_child() -> None:
    """Runs in the child right after a fork, before any other code of the child."""
    for obj in list(_tracked):
        obj.after_fork()
