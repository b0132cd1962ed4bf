"""A per-call watchdog: the deadline also covers connecting, sending and the response head.

A read timeout bounds each socket read, never the whole call: a server that trickles
its status line a byte every 20 ms, or never reads a large upload, would hold a call
for ever. The watchdog is armed before anything is sent; the connection classes of
:mod:`._adapter` :func:`register` the socket they use (when they connect, and when a
pooled connection is reused), and when the deadline passes the watchdog shuts that
socket down, which ends whatever read or write is waiting on it.

The watchdog of the running call lives in a thread-local: urllib3 sends and receives
in the calling thread, and the adapter has no other way to know which call a
connection serves.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any, Iterator, Optional

__all__ = ["Watchdog", "register", "watching"]

_local = threading.local()


class Watchdog:
    """Shuts the call's socket down once ``seconds`` have passed (unless cancelled)."""

    __slots__ = ("_lock", "_sock", "_timer", "fired")

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: Any = None
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def register(self, sock: Any) -> None:
        """Watch ``sock`` from now on; shut it down at once when the deadline has passed."""
        with self._lock:
            self._sock = sock
            if self.fired:
                _shut(sock)

    def cancel(self) -> None:
        """Disarm: the call is over, its connection may go back to the pool."""
        self._timer.cancel()
        with self._lock:
            self._sock = None

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: Any) -> None:
    # Both directions: a blocked send (an upload nobody reads) ends too. The socket may
    # already be closed, or detached by TLS wrapping (the TLS socket is registered then).
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def register(sock: Any) -> None:
    """Hand ``sock`` to the watchdog of the call running in this thread, if any."""
    dog: Optional[Watchdog] = getattr(_local, "dog", None)
    if dog is not None and sock is not None:
        dog.register(sock)


@contextlib.contextmanager
def watching(dog: Optional[Watchdog]) -> Iterator[None]:
    """Make ``dog`` the watchdog of this thread's call while the block runs."""
    previous = getattr(_local, "dog", None)
    _local.dog = dog
    try:
        yield
    finally:
        _local.dog = previous
