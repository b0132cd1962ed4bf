"""Tests for the command line (passthrough_client.cli.main): commands, exit codes, masking."""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import trustme

from passthrough_client.cli.main import main
from passthrough_client.testing import FakeUpstream, Reply

ROOT = Path(__file__).resolve().parents[1]
CANARY = "sk-CANARY-d3adb33f"
TIMEOUT = 30.0


def cli_env(**extra: str) -> Dict[str, str]:
    """Only what a subprocess needs: PATH, the repository on sys.path, and ``extra``."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    if "SYSTEMROOT" in os.environ:  # Windows needs it for sockets
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    env.update(extra)
    return env


def run_cli(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m passthrough_client ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "passthrough_client", *args],
        env=env if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.fixture(name="service")
def fixture_service(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    """The fake service, configured for in-process runs through the sample configuration."""
    monkeypatch.setenv("PASSTHROUGH_URL", upstream.url)
    monkeypatch.setenv("PASSTHROUGH_API_KEY", CANARY)
    return upstream


def write_config(path: Path, config: Dict[str, Any]) -> str:
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def closed_port() -> int:
    """A local port with nothing listening on it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ commands


def test_models_prints_one_id_per_line(upstream: FakeUpstream) -> None:
    """``models`` prints the model ids, one a line, and exits 0."""
    result = run_cli("models", env=cli_env(PASSTHROUGH_URL=upstream.url))
    assert (result.returncode, result.stdout) == (0, "fake-model\nfake-embedder\n")


def test_chat_streams_by_default(upstream: FakeUpstream) -> None:
    """``chat`` asks for a stream and prints the tokens as one line."""
    result = run_cli(
        "chat", "fake-model", "hello streamed world", env=cli_env(PASSTHROUGH_URL=upstream.url)
    )
    assert (result.returncode, result.stdout) == (0, "hello streamed world\n")
    assert upstream.requests[-1].json["stream"] is True


def test_chat_flushes_each_token_as_it_arrives(upstream: FakeUpstream) -> None:
    """The first token is on stdout while the service still holds back the rest."""
    chunk = {"choices": [{"index": 0, "delta": {"content": "first-token"}}]}
    upstream.enqueue(Reply.sse([f"data: {json.dumps(chunk)}\n\n"], end="hang"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "passthrough_client", "chat", "fake-model", "hi"],
        env=cli_env(PASSTHROUGH_URL=upstream.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    seen: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: seen.put(proc.stdout.read1(100)), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        assert seen.get(timeout=TIMEOUT) == b"first-token"
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        proc.stdout.close()
        reader.join(timeout=TIMEOUT)


def test_chat_no_stream_prints_the_whole_reply(service: FakeUpstream, capsys: Any) -> None:
    """``chat --no-stream`` sends a plain request and prints the content."""
    assert main(["chat", "fake-model", "all at once", "--no-stream"]) == 0
    assert capsys.readouterr().out == "all at once\n"
    assert "stream" not in service.requests[-1].json


def test_chat_reads_the_prompt_from_stdin(
    service: FakeUpstream, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompt of ``-`` is read from standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
    assert main(["chat", "fake-model", "-", "--no-stream", "--system", "be brief"]) == 0
    messages = service.requests[-1].json["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("system", "be brief"),
        ("user", "from stdin"),
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["complete", "fake-model", "once upon a time"], "once upon a time\n"),
        (["complete", "fake-model", "once upon a time", "--stream"], "once upon a time\n"),
        (["chat", "fake-model", "a b", "--max-tokens", "5", "--temperature", "0.5"], "a b\n"),
    ],
)
def test_generation_commands_print_the_text(
    service: FakeUpstream, capsys: Any, argv: List[str], expected: str
) -> None:
    """``complete`` (streamed or not) and ``chat`` print the generated text."""
    assert main(argv) == 0
    assert expected == capsys.readouterr().out


def test_generation_options_go_into_the_body(service: FakeUpstream) -> None:
    """``--max-tokens`` and ``--temperature`` are sent; unset options are left out."""
    main(["complete", "fake-model", "x", "--max-tokens", "7", "--temperature", "0.25"])
    main(["complete", "fake-model", "y"])
    first, second = (r.json for r in service.requests)
    assert (first["max_tokens"], first["temperature"]) == (7, 0.25)
    assert {"model", "prompt"} == set(second)


def test_embed_prints_one_vector_per_text(service: FakeUpstream, capsys: Any) -> None:
    """``embed`` prints each embedding as a JSON list on its own line."""
    assert main(["embed", "fake-embedder", "one", "two"]) == 0
    lines = capsys.readouterr().out.splitlines()
    vectors = [json.loads(line) for line in lines]
    assert [len(v) for v in vectors] == [8, 8]
    assert service.requests[-1].json["input"] == ["one", "two"]


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["models", "--json"], "object"),
        (["chat", "fake-model", "hi", "--no-stream", "--json"], "choices"),
        (["embed", "fake-embedder", "hi", "--json"], "data"),
    ],
)
def test_json_flag_prints_the_json_received(
    service: FakeUpstream, capsys: Any, argv: List[str], key: str
) -> None:
    """``--json`` prints the service's JSON."""
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    first = printed[0] if isinstance(printed, list) else printed
    assert key in first


def test_streamed_json_prints_one_chunk_per_line(service: FakeUpstream, capsys: Any) -> None:
    """``chat --json`` (streaming) prints each chunk as one JSON line."""
    assert main(["chat", "fake-model", "a b c", "--json"]) == 0
    chunks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [c["object"] for c in chunks] == ["chat.completion.chunk"] * 4


def test_provider_data_is_forwarded(upstream: FakeUpstream, tmp_path: Path, capsys: Any) -> None:
    """``--provider-data`` reaches the service through ``forward_headers``."""
    config = {"base_url": upstream.url, "forward_headers": {"tenant_id": "X-Tenant-ID"}}
    path = write_config(tmp_path / "c.json", config)
    data = json.dumps({"tenant_id": "acme", "other": {"secret": CANARY}})
    assert main(["--config", path, "models", "--provider-data", data]) == 0
    headers = upstream.requests[-1].headers
    assert headers["X-Tenant-ID"] == "acme"
    assert all(CANARY not in value for _, value in headers)


# ------------------------------------------------------------------ config


@pytest.fixture(name="secret_config")
def fixture_secret_config(tmp_path: Path, upstream: FakeUpstream) -> str:
    config = {
        "base_url": upstream.url,
        "api_key": CANARY,
        "network": {
            "proxy": {"url": f"http://user:{CANARY}@127.0.0.1:3128", "no_proxy": ["127.0.0.1"]},
            "headers": {"X-Api-Key": CANARY, "X-Team": "research"},
        },
    }
    return write_config(tmp_path / "secret.json", config)


def test_config_prints_masked_configuration_and_sources(secret_config: str, tmp_path: Path) -> None:
    """``config FILE`` shows the configuration masked and where each network setting came from."""
    ca = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    result = run_cli("config", secret_config, env=cli_env(REQUESTS_CA_BUNDLE=str(ca)))
    assert result.returncode == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    dumped, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])
    assert dumped["api_key"] == "**********"
    assert dumped["network"]["headers"]["X-Team"] == "research"
    sources = {
        line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")
    }
    assert "environment (REQUESTS_CA_BUNDLE)" in sources["tls:"]
    assert sources["proxy:"].split()[1] == "config"
    assert "no_proxy entry '127.0.0.1' matched" in sources["proxy:"]
    assert sources["timeout:"].split()[1] == "default"
    assert sources["headers:"].split()[1] == "config"


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "{path}"],
        ["--config", "{path}", "config"],
        ["config", "--config", "{path}"],
    ],
)
def test_config_file_can_stand_anywhere(secret_config: str, capsys: Any, argv: List[str]) -> None:
    """``config FILE``, ``--config FILE config`` and ``config --config FILE`` are the same."""
    assert main([a.format(path=secret_config) for a in argv]) == 0
    assert secret_config in capsys.readouterr().out


def test_config_file_and_option_together_is_a_usage_error(secret_config: str, capsys: Any) -> None:
    """Giving ``config FILE`` and ``--config FILE`` is a usage error (exit 2)."""
    assert main(["--config", secret_config, "config", secret_config]) == 2
    assert "not both" in capsys.readouterr().err


def test_config_option_after_a_call_command(
    upstream: FakeUpstream, tmp_path: Path, capsys: Any
) -> None:
    """``--config`` after the sub-command is used by that command."""
    path = write_config(tmp_path / "c.json", {"base_url": upstream.url})
    assert main(["models", "--config", path]) == 0
    assert capsys.readouterr().out == "fake-model\nfake-embedder\n"


# ------------------------------------------------------------------ errors and exit codes


def _error_cases(upstream: FakeUpstream, tmp_path: Path) -> Dict[str, Any]:
    url = upstream.url
    bad = write_config(tmp_path / "bad.json", {"base_url": url, "api_key": CANARY, "verfy": 1})
    allowed = write_config(tmp_path / "a.json", {"base_url": url, "allowed_models": ["m"]})
    closed = f"http://127.0.0.1:{closed_port()}"
    upstream.enqueue(Reply.json(500, {"error": {"message": "boom"}}), path="/v1/models")
    key = {"PASSTHROUGH_API_KEY": CANARY}
    return {
        "no-url": (["models"], key, 2),
        "bad-file": (["--config", bad, "models"], key, 2),
        "bad-provider-data": (["models", "--provider-data", "[1]"], {"PASSTHROUGH_URL": url}, 2),
        "model-not-allowed": (["--config", allowed, "chat", "x", "hi"], key, 2),
        "refused": (["models", "--max-retries", "0"], {"PASSTHROUGH_URL": closed, **key}, 1),
        "http-500": (["models", "--max-retries", "0"], {"PASSTHROUGH_URL": url, **key}, 1),
    }


@pytest.mark.parametrize(
    "case", ["no-url", "bad-file", "bad-provider-data", "model-not-allowed", "refused", "http-500"]
)
def test_errors_are_one_line_with_the_right_exit_code(
    upstream: FakeUpstream, tmp_path: Path, case: str
) -> None:
    """Configuration errors exit 2, service errors 1; one ``error:`` line, no traceback, no key."""
    argv, extra, code = _error_cases(upstream, tmp_path)[case]
    result = run_cli(*argv, env=cli_env(**extra))
    assert code == result.returncode
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert CANARY not in result.stderr


def test_usage_errors_exit_2() -> None:
    """An unknown command is an argparse usage error (exit 2)."""
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_debug_shows_the_traceback_and_debug_log(upstream: FakeUpstream) -> None:
    """``--debug`` adds the traceback and the client's DEBUG records, still without the key."""
    upstream.enqueue(Reply.json(401, {"error": {"message": "bad key"}}), path="/v1/models")
    env = cli_env(PASSTHROUGH_URL=upstream.url, PASSTHROUGH_API_KEY=CANARY)
    result = run_cli("--debug", "models", env=env)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "DEBUG: GET " in result.stderr
    assert "error: the service answered HTTP 401: bad key" in result.stderr
    assert CANARY not in result.stdout + result.stderr


def test_refused_connection_is_reported_as_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A closed port is reported as a refused connection, not a timeout."""
    monkeypatch.setenv("PASSTHROUGH_URL", f"http://127.0.0.1:{closed_port()}")
    assert main(["models", "--max-retries", "0"]) == 1
    assert "refused" in capsys.readouterr().err


# ------------------------------------------------------------------ demo and packaging


def run_python(*lines: str) -> subprocess.CompletedProcess[str]:
    """Run a small program in a fresh interpreter with the minimal environment."""
    return subprocess.run(
        [sys.executable, "-c", "\n".join(lines)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_demo_runs_without_pyyaml() -> None:
    """``demo`` exits 0 without PyYAML, shows each call and masks the key."""
    result = run_python(
        "import sys",
        "sys.modules['yaml'] = None  # import yaml now raises ImportError",
        "from passthrough_client.cli.main import main",
        "sys.exit(main(['demo']))",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for title in ("chat", "streamed chat", "completions", "embeddings", "models", "provider data"):
        assert f"== {title}" in out
    assert "X-Tenant-ID: acme-corp" in out
    assert "Authorization: Bearer **********" in out
    assert "sk-demo" not in out + result.stderr


def test_importing_the_package_loads_neither_cli_nor_testing() -> None:
    """``import passthrough_client`` stays cheap: the CLI and the fake service load on demand."""
    result = run_python(
        "import sys, passthrough_client",
        "lazy = ('passthrough_client.cli', 'passthrough_client.testing')",
        "print(sorted(m for m in sys.modules if m.startswith(lazy)))",
    )
    assert result.stdout == "[]\n", result.stderr


@pytest.mark.parametrize(("argv", "code"), [(["--version"], 0), (["--help"], 0), ([], 2)])
def test_help_and_version(argv: List[str], code: int, capsys: Any) -> None:
    """``--help`` and ``--version`` exit 0; no command is a usage error."""
    assert code == main(argv)
