"""A raw-socket scripted HTTP server on 127.0.0.1, for byte-level cases.

Each accepted connection runs ``script(conn)`` in its own daemon thread; the script
writes exactly the bytes (and pauses) the test wants. Stopping the server closes the
listening socket and every accepted connection, so a script blocked in ``send`` or
``recv`` ends too; threads are joined with a timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Callable, List, Optional

__all__ = ["ScriptServer", "read_request", "send_until_closed"]

Script = Callable[[socket.socket], None]


def read_request(conn: socket.socket, *, body: bool = True) -> bytes:
    """Read one request head (and its Content-Length body when ``body``)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while body and len(rest) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        rest += piece
    return head + b"\r\n\r\n" + rest


def send_until_closed(
    conn: socket.socket, piece: bytes, *, most: int, stop: threading.Event
) -> int:
    """Send ``piece`` again and again until the client closes, ``stop`` is set or ``most``
    bytes went out; returns the bytes sent."""
    sent = 0
    try:
        while sent < most and not stop.is_set():
            conn.sendall(piece)
            sent += len(piece)
    except OSError:
        pass
    return sent


class ScriptServer:
    """Runs ``script`` for every connection; ``.url`` is its ``http://`` base URL."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._acceptor: Optional[threading.Thread] = None
        self.errors: List[BaseException] = []

    def __enter__(self) -> ScriptServer:
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self._script(conn)
        except OSError:
            pass  # the client went away: that is what most scripts wait for
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        """Stop accepting, close every connection and join the threads (bounded)."""
        self.stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        self._listener.close()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        for thread in [*self._threads, *([self._acceptor] if self._acceptor else [])]:
            thread.join(max(0.0, deadline - time.monotonic()))


def chat(client: Any, **kwargs: Any) -> Any:
    """``client.chat`` with a fixed model and one user message."""
    return client.chat(model="m", messages=[{"role": "user", "content": "hi"}], **kwargs)
