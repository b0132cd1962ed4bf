"""Compression bombs and endless bodies stop at the limits: memory measured for real.

Each case runs the client in a child process whose address space is capped at its
baseline plus :data:`HEADROOM`, so a regression that decodes or buffers the whole
body fails the test with a ``MemoryError`` instead of exhausting the machine. The
bombs are built in the test in milliseconds (one gzip member per MiB of zeros,
repeated; repeated fully flushed deflate blocks). The servers send until the client
closes, and never more than :data:`MOST` bytes.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import zlib
from functools import cache
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from scriptutil import ScriptServer, read_request, send_until_closed

HEADROOM = 512 * 2**20  # above the child's baseline; the default limit is 128 MiB
MOST = 2**30  # no server sends more than this
GIB_IN_MIB = 1024

CHILD = """
import json, resource, sys
from passthrough_client import PassthroughClient

def vm_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)

url, kind = sys.argv[1], sys.argv[2]
client = PassthroughClient(base_url=url, max_retries=0, environ={})
call = lambda **kw: client.chat(model="m", messages=[{"role": "user", "content": "x"}], **kw)
baseline_rss = vm_kib("VmRSS")
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (vm_kib("VmSize") * 1024 + int(sys.argv[3]), hard))
outcome = {}
try:
    if kind == "stream":
        for _ in call(stream=True):
            pass
    else:
        call()
    outcome["error"] = None
except BaseException as exc:
    outcome["error"] = type(exc).__name__
    outcome["message"] = str(exc)[:300]
    outcome["body_length"] = len(getattr(exc, "body", "") or "")
outcome["growth_mib"] = (vm_kib("VmHWM") - baseline_rss) / 1024
print(json.dumps(outcome), flush=True)
"""


@cache
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that expands to 1 GiB of zeros (1024 members of 1 MiB)."""
    return gzip.compress(bytes(2**20), 9) * GIB_IN_MIB


@cache
def deflate_bomb() -> bytes:
    """About 1 MB of raw deflate that expands to 1 GiB of zeros."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = encoder.compress(bytes(2**20)) + encoder.flush(zlib.Z_FULL_FLUSH)
    return block * GIB_IN_MIB + encoder.flush()


def fixed(status: str, headers: str, body: bytes) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        read_request(conn)
        head = f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    return script


def endless(head: bytes, piece: bytes, stop: Any) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(head)
        send_until_closed(conn, piece, most=MOST, stop=stop)

    return script


JSON = "Content-Type: application/json\r\n"
SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
CHUNK_OF_SPACES = b"10000\r\n" + b" " * 65536 + b"\r\n"


def run_child(tmp_path: Path, url: str, kind: str) -> Dict[str, Any]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script), url, kind, str(HEADROOM)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


CASES = {
    "gzip-of-gzip plain reply": (
        "plain",
        lambda stop: fixed(
            "200 OK", JSON + "Content-Encoding: gzip, gzip\r\n", gzip.compress(gzip_bomb(), 9)
        ),
        "InvalidResponseError",
        "max_response_bytes (134217728 bytes)",
    ),
    "gzip plain reply": (
        "plain",
        lambda stop: fixed("200 OK", JSON + "Content-Encoding: gzip\r\n", gzip_bomb()),
        "InvalidResponseError",
        "max_response_bytes (134217728 bytes)",
    ),
    "deflate plain reply": (
        "plain",
        lambda stop: fixed("200 OK", JSON + "Content-Encoding: deflate\r\n", deflate_bomb()),
        "InvalidResponseError",
        "max_response_bytes (134217728 bytes)",
    ),
    "gzip-of-gzip error reply": (
        "plain",
        lambda stop: fixed(
            "500 Internal Server Error",
            JSON + "Content-Encoding: gzip, gzip\r\n",
            gzip.compress(gzip_bomb(), 9),
        ),
        "InternalServerError",
        "",
    ),
    "gzip-of-gzip event stream": (
        "stream",
        lambda stop: fixed(
            "200 OK",
            "Content-Type: text/event-stream\r\nContent-Encoding: gzip, gzip\r\n",
            gzip.compress(gzip.compress(b"data: ") + gzip_bomb(), 9),
        ),
        "InvalidResponseError",
        "max_event_bytes (16777216 bytes)",
    ),
    "512 MiB declared JSON reply": (
        "plain",
        lambda stop: endless(
            f"HTTP/1.1 200 OK\r\n{JSON}Content-Length: {512 * 2**20}\r\n\r\n".encode(),
            b" " * 65536,
            stop,
        ),
        "InvalidResponseError",
        "max_response_bytes (134217728 bytes)",
    ),
    "endless chunked JSON reply": (
        "plain",
        lambda stop: endless(
            f"HTTP/1.1 200 OK\r\n{JSON}Transfer-Encoding: chunked\r\n\r\n".encode(),
            CHUNK_OF_SPACES,
            stop,
        ),
        "InvalidResponseError",
        "max_response_bytes (134217728 bytes)",
    ),
    "endless event line": (
        "stream",
        lambda stop: endless(SSE + b"data: ", b"x" * 65536, stop),
        "InvalidResponseError",
        "max_event_bytes (16777216 bytes)",
    ),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux")
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_body_stops_at_the_limit_in_bounded_memory(tmp_path: Path, case: str) -> None:
    """The child gets the typed error, never a MemoryError, and grows by far less than 1 GiB."""
    kind, make, error, words = CASES[case]
    holder: Dict[str, Any] = {}

    def script(conn: socket.socket) -> None:
        holder["script"](conn)

    with ScriptServer(script) as server:
        holder["script"] = make(server.stop)
        outcome = run_child(tmp_path, server.url, kind)
    assert error == outcome["error"], outcome
    assert words in outcome.get("message", ""), outcome
    assert outcome["growth_mib"] < 400, outcome
    if error == "InternalServerError":
        assert outcome["body_length"] <= 2**20
