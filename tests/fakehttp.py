"""Standard-library HTTP clients for the tests of FakeUpstream (``test_testing*.py``)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Dict, List, Optional, Tuple

from passthrough_client.testing import FakeUpstream

__all__ = [
    "TIMEOUT",
    "call",
    "chat_body",
    "connect",
    "http_request",
    "post_json",
    "raw_exchange",
    "read_event",
    "read_until_closed",
    "sse_data",
]


TIMEOUT = 5.0


def connect(upstream: FakeUpstream, timeout: float = TIMEOUT) -> http.client.HTTPConnection:
    """A keep-alive connection to ``upstream`` (not yet opened)."""
    return http.client.HTTPConnection(upstream.host, upstream.port, timeout=timeout)


def call(
    upstream: FakeUpstream,
    method: str,
    path: str,
    body: Optional[Dict[str, Any]] = None,
    headers: Optional[Dict[str, str]] = None,
) -> Tuple[int, Dict[str, str], bytes]:
    """One request on a new connection: ``(status, headers, body)``."""
    conn = connect(upstream)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(upstream: FakeUpstream, path: str, body: Dict[str, Any]) -> Any:
    """POST ``body`` as JSON, check for ``200`` and return the parsed answer."""
    status, _, data = call(upstream, "POST", path, body)
    assert status == 200
    return json.loads(data)


def sse_data(raw: bytes) -> List[str]:
    """The ``data:`` values of a server-sent event body, in order."""
    return [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]


def raw_exchange(upstream: FakeUpstream, request: bytes) -> bytes:
    """Send ``request`` over a raw socket and read until the server closes."""
    with socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        chunks: List[bytes] = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def http_request(path: str, body: bytes = b"", *, close: bool = True) -> bytes:
    """A raw ``POST path`` request with ``body`` (and ``Connection: close`` if ``close``)."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


def chat_body(content: Any, **extra: Any) -> Dict[str, Any]:
    """A chat request body whose one user message holds ``content``."""
    return {"model": "m1", "messages": [{"role": "user", "content": content}], **extra}


def read_event(response: http.client.HTTPResponse) -> bytes:
    """Read one SSE event (up to its blank line) off a streamed response."""
    lines: List[bytes] = []
    while True:
        line = response.readline()
        if line in (b"\n", b""):
            return b"".join(lines)
        lines.append(line)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything ``sock`` receives until the server closes it."""
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece
