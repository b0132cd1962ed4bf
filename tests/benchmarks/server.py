"""A fast canned-response HTTP/1.1 server for the benchmarks, run in its own process.

``python tests/benchmarks/server.py [--port 0]`` prints ``PORT <n>`` on its first
line, then serves until killed or until its standard input closes (so a benchmark
runner that dies takes its server with it).

One thread per connection, keep-alive, minimal parsing (headers up to ``\\r\\n\\r\\n``,
a ``Content-Length`` body), precomputed responses, ``TCP_NODELAY``:

- ``POST /v1/chat/completions``: a small fixed ``chat.completion`` object.
- The same with ``"stream": true`` in the body: ``text/event-stream`` with chunked
  transfer encoding, one chunk frame per event (as ASGI servers send them), N
  ``chat.completion.chunk`` events of about 220 bytes, a last event with
  ``finish_reason: "stop"`` and a usage event, then ``data: [DONE]``. N comes from the
  ``X-Bench-Chunks`` header or a ``?n=`` query parameter (default 20000).
- ``X-Bench-Frames: block`` (or ``?frames=block``): up to 500 events per chunk frame,
  as a proxy or a buffering server delivers them (shows the per-frame cost).
- Trickle mode (``X-Bench-Interval: <seconds>`` header or ``?interval=``): one event
  per interval; each event's ``id`` is ``t<time.time()>`` taken just before it is sent.
  With ``X-Bench-Frames: block`` too, all trickled events go inside ONE chunk frame
  announced up front, so each event arrives as part of a partly arrived HTTP chunk.
- ``POST /v1/embeddings``: an embeddings list of about 8 MB of JSON (512 vectors of
  768 floats), precomputed.
- ``GET /v1/models``: a one-model list. Anything else: 404.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qs

__all__ = [
    "CHAT_COMPLETION",
    "DEFAULT_CHUNKS",
    "chunk_event",
    "main",
    "serve",
    "start_server",
    "stop_server",
]

DEFAULT_CHUNKS = 20000
_BLOCK = 500
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_HEAD_END = b"\r\n\r\n"
Request = Tuple[bytes, bytes, bytes, Dict[bytes, bytes]]

CHAT_COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench-model",
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I help you today?",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}
MODELS = {
    "object": "list",
    "data": [{"id": "bench-model", "object": "model", "created": 1700000000, "owned_by": "b"}],
}


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


def _json_response(obj: object) -> bytes:
    return _response("200 OK", "application/json", json.dumps(obj).encode())


def _embeddings() -> Dict[str, object]:
    """About 8 MB of JSON: 512 vectors of 768 floats with full repr precision."""
    rng = random.Random(15)
    data = [
        {"object": "embedding", "index": i, "embedding": [rng.uniform(-1, 1) for _ in range(768)]}
        for i in range(512)
    ]
    usage = {"prompt_tokens": 512, "total_tokens": 512}
    return {"object": "list", "data": data, "model": "bench-model", "usage": usage}


_CHAT = _json_response(CHAT_COMPLETION)
_EMBEDDINGS = _json_response(_embeddings())
_MODELS = _json_response(MODELS)
_NOT_FOUND = _response("404 Not Found", "application/json", b'{"error":{"message":"no"}}')
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)


def chunk_event(index: int, *, id_: str = "chatcmpl-bench", finish: Optional[str] = None) -> bytes:
    """One SSE event (``data: {...}\\n\\n``) of a ``chat.completion.chunk``."""
    delta = {"role": "assistant", "content": ""} if index == 0 else {"content": f" tok{index}"}
    chunk = {
        "id": id_,
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "delta": {} if finish else delta,
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def _frame(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _tail() -> bytes:
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    }
    events = [chunk_event(1, finish="stop"), b"data: " + json.dumps(usage).encode() + b"\n\n"]
    return b"".join(_frame(e) for e in events) + _frame(b"data: [DONE]\n\n") + b"0\r\n\r\n"


def _offsets(pieces: list[bytes]) -> list[int]:
    """Where each piece ends in ``b"".join(pieces)`` (with a leading 0)."""
    offsets = [0]
    for piece in pieces:
        offsets.append(offsets[-1] + len(piece))
    return offsets


_EVENTS = [chunk_event(i) for i in range(_BLOCK)]
_FRAMES = [_frame(event) for event in _EVENTS]
_EVENT_BLOCK, _BLOCK_OFFSETS = b"".join(_FRAMES), _offsets(_FRAMES)
_PLAIN_BLOCK, _PLAIN_OFFSETS = b"".join(_EVENTS), _offsets(_EVENTS)
_TAIL = _tail()


def _options(path: bytes, headers: Dict[bytes, bytes]) -> Tuple[int, float, bool]:
    """Number of chunks, trickle interval and coalescing, from the headers or the query."""
    params = parse_qs(path.partition(b"?")[2].decode("latin-1"))

    def option(name: str, query: str) -> str:
        return headers.get(name.encode(), b"").decode() or params.get(query, [""])[0]

    chunks = option("x-bench-chunks", "n")
    interval = option("x-bench-interval", "interval")
    frames = option("x-bench-frames", "frames") or "event"
    return int(chunks or DEFAULT_CHUNKS), float(interval or 0.0), frames == "block"


def _send_stream(conn: socket.socket, chunks: int, coalesce: bool) -> None:
    conn.sendall(_STREAM_HEAD)
    sent = 0
    while sent < chunks:
        count = min(chunks - sent, _BLOCK)
        if coalesce:  # up to _BLOCK events in one chunk frame
            conn.sendall(_frame(_PLAIN_BLOCK[: _PLAIN_OFFSETS[count]]))
        else:
            conn.sendall(_EVENT_BLOCK[: _BLOCK_OFFSETS[count]])
        sent += count
    conn.sendall(_TAIL)


def _send_trickle(conn: socket.socket, chunks: int, interval: float) -> None:
    conn.sendall(_STREAM_HEAD)
    for index in range(chunks):
        if index:
            time.sleep(interval)
        event = chunk_event(index + 1, id_=f"t{time.time():.6f}")
        conn.sendall(_frame(event))
    conn.sendall(_TAIL)


def _send_trickle_partial(conn: socket.socket, chunks: int, interval: float) -> None:
    """Trickle events inside one chunk frame whose size is announced before the first.

    The send time ``t%.6f`` has a fixed width, so the frame's size is known up front.
    """
    stamp = f"t{time.time():.6f}"
    size = sum(len(chunk_event(i + 1, id_=stamp)) for i in range(chunks))
    conn.sendall(_STREAM_HEAD + b"%x\r\n" % size)
    for index in range(chunks):
        if index:
            time.sleep(interval)
        conn.sendall(chunk_event(index + 1, id_=f"t{time.time():.6f}"))
    conn.sendall(b"\r\n" + _TAIL)


def _read_request(conn: socket.socket, buf: bytearray) -> Optional[Request]:
    """Return (request line, path, body, headers) or None at EOF; ``buf`` keeps the rest."""
    while True:
        end = buf.find(_HEAD_END)
        if end >= 0:
            break
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head = bytes(buf[:end])
    del buf[: end + 4]
    lines = head.split(b"\r\n")
    path = lines[0].split(b" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(buf) < length:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    body = bytes(buf[:length])
    del buf[:length]
    return lines[0], path, body, headers


def _answer(conn: socket.socket, request: Request) -> None:
    line, path, body, headers = request
    route = path.partition(b"?")[0]
    if line.startswith(b"POST ") and route.endswith(b"/chat/completions"):
        if _STREAM_RE.search(body):
            chunks, interval, coalesce = _options(path, headers)
            if interval > 0 and coalesce:
                _send_trickle_partial(conn, chunks, interval)
            elif interval > 0:
                _send_trickle(conn, chunks, interval)
            else:
                _send_stream(conn, chunks, coalesce)
        else:
            conn.sendall(_CHAT)
    elif line.startswith(b"POST ") and route.endswith(b"/embeddings"):
        conn.sendall(_EMBEDDINGS)
    elif line.startswith(b"GET ") and route.endswith(b"/models"):
        conn.sendall(_MODELS)
    else:
        conn.sendall(_NOT_FOUND)


def _handle(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    try:
        while True:
            request = _read_request(conn, buf)
            if request is None:
                return
            _answer(conn, request)
    except OSError:
        return
    finally:
        conn.close()


def serve(listener: socket.socket) -> None:
    """Accept connections forever, one daemon thread each."""
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_handle, args=(conn,), daemon=True).start()


def _exit_on_stdin_eof() -> None:
    while os.read(sys.stdin.fileno(), 4096):
        pass
    os._exit(0)


def start_server(python: str = sys.executable) -> Tuple[subprocess.Popen[bytes], int]:
    """Start this server in a child process; return it and its port.

    The child exits when the returned process's ``stdin`` is closed (or on kill).
    """
    proc = subprocess.Popen(
        [python, os.path.abspath(__file__)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the benchmark server did not start: {line!r}")
    return proc, int(line.split()[1])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started by :func:`start_server` (close its stdin, then kill)."""
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def main(argv: Optional[list[str]] = None) -> None:
    """Parse ``--port``/``--host``, print ``PORT <n>`` and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-stdin-watch", action="store_true", help="ignore stdin EOF")
    args = parser.parse_args(argv)
    listener = socket.create_server((args.host, args.port), backlog=128)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    if not args.no_stdin_watch:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    serve(listener)


if __name__ == "__main__":
    main()
