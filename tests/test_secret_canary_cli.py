"""Secret canaries on the command line: nothing printed shows a secret, not even with --debug.

Runs ``python -m passthrough_client`` in a subprocess against a FakeUpstream of this
process, with a configuration file that holds an API key and a proxy password, and
provider data that holds a forwarded token.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
from typing import Iterator, List, Tuple

import pytest

from passthrough_client.testing import FakeUpstream, Reply

ROOT = pathlib.Path(__file__).parents[1]
KEY = "sk-canary-api-key-7f3a91"
PASSWORD = "pw-canary-proxy-51c0de"
TOKEN = "tok-canary-forwarded-9e2b44"
CANARIES = (KEY, PASSWORD, TOKEN)
FORWARD = {"token": "Authorization", "tenant_token": "X-Tenant-Token"}
PROVIDER_DATA = json.dumps({"token": f"Bearer {TOKEN}", "tenant_token": TOKEN})
_MACHINE = ("PROXY", "CA_BUNDLE", "SSL_CERT", "PASSTHROUGH_")  # settings of this machine


def closed_port() -> int:
    """A local port on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="upstream", scope="module")
def fixture_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


def write_config(folder: pathlib.Path, upstream: FakeUpstream, *, bypass: bool) -> str:
    """A config file with the canaries; with ``bypass`` the proxy is skipped for 127.0.0.1."""
    proxy = {"url": f"http://user:{PASSWORD}@127.0.0.1:{closed_port()}"}
    if bypass:
        proxy["no_proxy"] = ["127.0.0.1"]  # type: ignore[assignment]
    document = {
        "base_url": upstream.url,
        "api_key": KEY,
        "forward_headers": FORWARD,
        "network": {"proxy": proxy, "timeout": 5.0},
    }
    path = folder / ("direct.json" if bypass else "proxied.json")
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


@pytest.fixture(name="direct")
def fixture_direct(tmp_path: pathlib.Path, upstream: FakeUpstream) -> str:
    return write_config(tmp_path, upstream, bypass=True)


@pytest.fixture(name="proxied")
def fixture_proxied(tmp_path: pathlib.Path, upstream: FakeUpstream) -> str:
    return write_config(tmp_path, upstream, bypass=False)


def run_cli(*args: str) -> Tuple[int, str]:
    """Run the command line; its exit code and everything it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "passthrough_client", *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not any(m in k.upper() for m in _MACHINE)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def leaks(text: str) -> List[str]:
    """The canaries found in ``text``."""
    return [canary for canary in CANARIES if canary in text]


def test_config_command_shows_no_secret(direct: str) -> None:
    """``config --config FILE`` (with --debug) prints the settings with every secret masked."""
    code, output = run_cli("config", "--config", direct, "--debug")
    assert (code, leaks(output)) == (0, [])
    assert "**********" in output


def test_models_command_shows_no_secret(direct: str, upstream: FakeUpstream) -> None:
    """``models`` with provider data (and --debug) works and prints no secret."""
    code, output = run_cli(
        "models", "--config", direct, "--provider-data", PROVIDER_DATA, "--debug"
    )
    assert (code, leaks(output)) == (0, [])
    assert "fake-model" in output
    assert upstream.requests[-1].headers.get("x-tenant-token") == TOKEN  # the canary was live


def test_connection_error_through_the_proxy_shows_no_secret(proxied: str) -> None:
    """An unreachable proxy: the error line and the --debug traceback show no secret."""
    code, output = run_cli(
        "models",
        "--config",
        proxied,
        "--provider-data",
        PROVIDER_DATA,
        "--debug",
        "--max-retries",
        "0",
    )
    assert (code, leaks(output)) == (1, [])
    assert "Traceback" in output


def test_status_error_shows_no_secret(direct: str, upstream: FakeUpstream) -> None:
    """A 401 on ``chat`` prints one error line (and a traceback with --debug) without secrets."""
    upstream.enqueue(Reply.json(401, {"error": {"message": "invalid api key"}}))
    code, output = run_cli(
        "chat", "fake-model", "hi", "--config", direct, "--provider-data", PROVIDER_DATA, "--debug"
    )
    assert (code, leaks(output)) == (1, [])
    assert "invalid api key" in output


def test_invalid_provider_data_shows_no_secret(direct: str) -> None:
    """Provider data with an unsendable forwarded value is a usage error that quotes nothing."""
    bad = json.dumps({"tenant_token": TOKEN + "\n"})
    code, output = run_cli("chat", "fake-model", "hi", "--config", direct, "--provider-data", bad)
    assert (code, leaks(output)) == (2, [])


def test_doctor_shows_no_secret(direct: str) -> None:
    """``doctor`` walks every step with the canaries configured and prints no secret."""
    _, output = run_cli("doctor", "--config", direct, "--provider-data", PROVIDER_DATA, "--debug")
    assert leaks(output) == []
    assert "models" in output.lower()
