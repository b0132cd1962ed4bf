"""README samples stay honest: the marked blocks are run and their output compared.

A fenced block right after ``<!-- readme-test: KIND -->`` is checked:

- ``console``: each ``$ command`` line is run from the checkout (``passthrough-client``
  as ``python -m passthrough_client``, the same command line) and its output must equal
  the lines after it, once paths of the certifi bundle, ports and versions are
  normalised;
- ``python``: run as a script against a ``FakeUpstream`` standing in for the
  ``http://127.0.0.1:8321`` it names; ``pytest``: run as a test file, every test passing;
- ``examples-server`` and ``examples-client``: the "Run the examples" section, run
  verbatim (on a free port instead of the one shown): the server in one process, the
  client block in bash with ``set -e``, as a user would in two terminals.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from passthrough_client.testing import FakeUpstream

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TIMEOUT = 60.0
_BLOCK = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```[\w]*\n(.*?)```\n", re.S)
_NORMALISE = [
    (re.compile(r"\([^()\n]*/certifi/cacert\.pem\)"), "(.../certifi/cacert.pem)"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"passthrough-client \d+\.\d+\.\d+\S*"), "passthrough-client VERSION"),
]


def blocks(kind: str) -> List[str]:
    """The README blocks marked ``kind``, in order."""
    return [body for found, body in _BLOCK.findall(README) if found == kind]


def normalised(text: str) -> str:
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def env() -> Dict[str, str]:
    """A clean environment: the interpreter's folder first on PATH, the checkout importable."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"PATH": path, "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/")}


def console_samples() -> List[Tuple[str, str]]:
    """Every ``$ command`` of the console blocks with the output shown under it."""
    samples = []
    for body in blocks("console"):
        for chunk in ("\n" + body).split("\n$ ")[1:]:
            command, _, output = chunk.partition("\n")
            samples.append((command, output))
    return samples


def test_the_readme_marks_its_samples() -> None:
    """The marked blocks exist (a renamed marker must not silently skip them)."""
    assert len(console_samples()) >= 1
    assert len(blocks("examples-server")) == len(blocks("examples-client")) == 1


@pytest.mark.parametrize(("command", "shown"), console_samples())
def test_console_sample_matches_the_real_output(command: str, shown: str) -> None:
    """The command shown prints exactly what the README says it prints."""
    argv = shlex.split(command)
    assert argv[0] == "passthrough-client"
    result = subprocess.run(
        [sys.executable, "-m", "passthrough_client", *argv[1:]],
        cwd=str(ROOT),
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert normalised(result.stdout) == normalised(shown)


def test_python_samples_run_against_the_fake_service() -> None:
    """Each marked Python sample runs to its end against a fake service with its models."""
    assert blocks("python")
    for code in blocks("python"):
        with FakeUpstream(models=("llama-3-70b", "text-embedder")) as upstream:
            result = subprocess.run(
                [sys.executable, "-c", code.replace("http://127.0.0.1:8321", upstream.url)],
                cwd=str(ROOT),
                env=env(),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
            paths = [r.path for r in upstream.requests]
        assert result.returncode == 0, result.stderr
        assert "/v1/chat/completions" in paths


def test_pytest_samples_pass(tmp_path: Path) -> None:
    """Each marked pytest sample passes as a test file of its own."""
    assert blocks("pytest")
    for number, code in enumerate(blocks("pytest")):
        path = tmp_path / f"test_sample_{number}.py"
        path.write_text(code, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
            cwd=str(tmp_path),
            env=env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"\b\d+ passed\b", result.stdout)
        assert "failed" not in result.stdout and "skipped" not in result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_the_examples_works_verbatim() -> None:
    """Terminal 1 serves and prints the export line of terminal 2; terminal 2 runs clean."""
    [server_block], [client_block] = blocks("examples-server"), blocks("examples-client")
    shown_port = re.search(r"--port (\d+)", server_block)
    assert shown_port is not None
    port = str(free_port())
    server_argv = shlex.split(server_block.strip().replace(shown_port.group(1), port))
    assert server_argv[0] == "python"
    server = subprocess.Popen(
        [sys.executable, *server_argv[1:]],
        cwd=str(ROOT),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        printed = [server.stdout.readline().strip() for _ in range(3)]
        client_script = client_block.replace(shown_port.group(1), port)
        assert printed[2] == client_script.splitlines()[0]  # the export line, as printed
        client = subprocess.run(
            ["bash", "-e", "-c", client_script],
            cwd=str(ROOT),
            env=env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 2,
        )
        assert client.returncode == 0, client.stdout + client.stderr
        assert "answer: Say hello in five words." in client.stdout
        assert "Why does streaming feel faster?" in client.stdout
        assert "Hello from the command line" in client.stdout
        assert '"api_key": "**********"' in client.stdout
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=TIMEOUT)
    assert (server.returncode, out) == (0, "stopped\n")
