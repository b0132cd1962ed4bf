"""``python -m passthrough_client.testing``: FakeUpstream in the foreground until Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

from passthrough_client import PassthroughClient

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(*args: str) -> subprocess.Popen[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "passthrough_client.testing", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def head(proc: subprocess.Popen[str]) -> List[str]:
    """The four lines printed at start-up (bounded: the test's own timeout kills a hang)."""
    assert proc.stdout is not None
    return [proc.stdout.readline().rstrip("\n") for _ in range(4)]


@pytest.fixture(name="served")
def fixture_served() -> Iterator[subprocess.Popen[str]]:
    """The module serving on a free port of the system's choice; killed if a test fails."""
    proc = start()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=TIMEOUT)


def test_serves_until_ctrl_c_and_prints_the_export_line(served: subprocess.Popen[str]) -> None:
    """It prints its URL and the export line, answers a client, and exits 0 on SIGINT."""
    lines = head(served)
    assert lines[0].startswith("FakeUpstream serving at http://127.0.0.1:")
    assert (lines[1], lines[3]) == ("In another terminal:", "Press Ctrl-C to stop.")
    prefix = "export PASSTHROUGH_URL="
    assert lines[2].startswith(prefix)
    url = lines[2][len(prefix) :]
    assert lines[0] == f"FakeUpstream serving at {url} (models: fake-model, fake-embedder)"
    with PassthroughClient(environ={"PASSTHROUGH_URL": url}) as client:
        reply = client.chat(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "hi"
    served.send_signal(signal.SIGINT)
    out, err = served.communicate(timeout=TIMEOUT)
    assert (served.returncode, out, err) == (0, "stopped\n", "")


def test_sigterm_stops_it_cleanly_too(served: subprocess.Popen[str]) -> None:
    """SIGTERM (a process manager) ends it like Ctrl-C, with exit 0."""
    head(served)
    served.terminate()
    out, _ = served.communicate(timeout=TIMEOUT)
    assert (served.returncode, out) == (0, "stopped\n")


def test_port_option_and_a_port_in_use() -> None:
    """``--port N`` listens on N; a second server on the same port exits 1 saying why."""
    port = free_port()
    first = start("--port", str(port))
    try:
        assert head(first)[2] == f"export PASSTHROUGH_URL=http://127.0.0.1:{port}"
        second = start("--port", str(port))
        _, err = second.communicate(timeout=TIMEOUT)
        assert second.returncode == 1
        assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0
