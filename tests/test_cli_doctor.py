"""Tests for ``passthrough-client doctor``: each step, and naming the one that fails."""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import trustme

from passthrough_client.cli.main import main
from passthrough_client.testing import FakeUpstream, Reply

ROOT = Path(__file__).resolve().parents[1]
CANARY = "sk-CANARY-d0c70r"
TIMEOUT = 30.0


def cli_env(**extra: str) -> Dict[str, str]:
    """Only what a subprocess needs: PATH, the repository on sys.path, and ``extra``."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    if "SYSTEMROOT" in os.environ:
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    env.update(extra)
    return env


def run_cli(*args: str, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m passthrough_client ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "passthrough_client", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def steps(out: str) -> Dict[str, str]:
    """Step name -> status (``ok``, ``FAILED``, ``skipped``) from the doctor's output."""
    found = {}
    for line in out.splitlines():
        status = line[16:24].strip()
        if not line.startswith(" ") and status in ("ok", "FAILED", "skipped"):
            found[line[:16].strip()] = status
    return found


def write_config(path: Path, config: Dict[str, Any]) -> str:
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


class ConnectProxy:
    """A tiny CONNECT proxy on 127.0.0.1 (optionally speaking TLS itself).

    It records each request head; with ``answer`` it replies that instead of tunnelling.
    """

    def __init__(self, *, answer: Optional[bytes] = None, tls: Optional[ssl.SSLContext] = None):
        self.answer = answer
        self.tls = tls
        self.heads: List[bytes] = []
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096) or b"\r\n\r\n"
            self.heads.append(head)
            if self.answer is not None:
                conn.sendall(self.answer)
                return
            host, port = head.split()[1].decode().rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pump(conn, upstream)
        except OSError:
            pass
        finally:
            conn.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        # One thread moves both directions: an SSLSocket must not be used by two at once.
        while not self.stop.is_set():
            ready = select.select([client, upstream], [], [], 0.1)[0]
            if isinstance(client, ssl.SSLSocket) and client.pending() and client not in ready:
                ready.append(client)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)


@pytest.fixture(name="ca")
def fixture_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="ca_file")
def fixture_ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture(name="tls_upstream")
def fixture_tls_upstream(ca: trustme.CA) -> Iterator[FakeUpstream]:
    with FakeUpstream(ssl_context=server_context(ca)) as upstream:
        yield upstream


# ------------------------------------------------------------------ subprocess runs


def test_doctor_checks_every_step(upstream: FakeUpstream) -> None:
    """Against a working plain-HTTP service every step passes and the exit code is 0."""
    env = cli_env(PASSTHROUGH_URL=upstream.url, PASSTHROUGH_API_KEY=CANARY)
    result = run_cli("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {"configuration": "ok", "route": "ok", "TCP connect": "ok", "TLS": "skipped"}
    assert steps(result.stdout) == {**expected, "GET /v1/models": "ok"}
    assert "HTTP 200" in result.stdout
    assert "2 models" in result.stdout
    assert "Authorization: Bearer **********" in result.stdout
    assert CANARY not in result.stdout + result.stderr


def test_doctor_names_tcp_connect_on_a_closed_port() -> None:
    """A closed port fails the TCP connect step; nothing after it runs; exit 1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("doctor", env=cli_env(PASSTHROUGH_URL=f"http://127.0.0.1:{port}"))
    assert result.returncode == 1
    assert steps(result.stdout) == {"configuration": "ok", "route": "ok", "TCP connect": "FAILED"}
    assert "connection refused" in result.stdout
    assert result.stderr.startswith("error: doctor: the 'TCP connect' step failed")
    assert "Traceback" not in result.stderr


def test_doctor_names_tls_for_an_unknown_ca(tls_upstream: FakeUpstream) -> None:
    """A certificate from a CA the client does not trust fails the TLS step; exit 1."""
    result = run_cli("doctor", env=cli_env(PASSTHROUGH_URL=tls_upstream.url))
    assert result.returncode == 1
    assert steps(result.stdout)["TLS"] == "FAILED"
    assert "certificate verify failed" in result.stdout
    assert result.stderr.startswith("error: doctor: the 'TLS' step failed")
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ in-process runs


def test_doctor_shows_the_certificate(
    tls_upstream: FakeUpstream, ca_file: str, tmp_path: Path, capsys: Any
) -> None:
    """With the CA configured, TLS shows version, cipher, subject, issuer and expiry."""
    config = {"base_url": tls_upstream.url, "network": {"tls": {"verify": ca_file}}}
    assert main(["--config", write_config(tmp_path / "c.json", config), "doctor"]) == 0
    out = capsys.readouterr().out
    assert steps(out)["TLS"] == "ok"
    for label in ("TLSv1.", "cipher ", "subject: ", "issuer: O=trustme", "expires: "):
        assert label in out
    assert "days left" in out


def test_doctor_names_the_matching_no_proxy_entry(
    upstream: FakeUpstream, tmp_path: Path, capsys: Any
) -> None:
    """The route step says the service is reached directly because a no_proxy entry matched."""
    proxy = {"url": "http://proxy.invalid:3128", "no_proxy": ["localhost", "127.0.0.0/8"]}
    config = {"base_url": upstream.url, "network": {"proxy": proxy}}
    assert main(["--config", write_config(tmp_path / "c.json", config), "doctor"]) == 0
    route = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("route"))
    assert "direct (no_proxy entry '127.0.0.0/8' matched)" in route


def test_doctor_tunnels_through_a_connect_proxy(
    tls_upstream: FakeUpstream, ca_file: str, tmp_path: Path, capsys: Any
) -> None:
    """Through a proxy: route names it (password masked), CONNECT and TLS pass, GET works."""
    proxy = ConnectProxy()
    try:
        network = {
            "tls": {"verify": ca_file},
            "proxy": {"url": f"http://bob:{CANARY}@127.0.0.1:{proxy.port}"},
        }
        config = {"base_url": tls_upstream.url, "network": network}
        code = main(["--config", write_config(tmp_path / "c.json", config), "doctor"])
    finally:
        proxy.close()
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"via proxy http://bob:**********@127.0.0.1:{proxy.port} (network.proxy.url)" in out
    assert steps(out)["CONNECT"] == "ok"
    assert steps(out)["TLS"] == "ok"
    credentials = base64.b64encode(f"bob:{CANARY}".encode()).decode()
    assert f"Proxy-Authorization: Basic {credentials}".encode() in proxy.heads[0]
    assert CANARY not in out


def test_doctor_names_connect_when_the_proxy_refuses(
    tls_upstream: FakeUpstream, tmp_path: Path, capsys: Any
) -> None:
    """A proxy that answers 407 fails the CONNECT step, with the proxy's answer."""
    proxy = ConnectProxy(answer=b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
    try:
        network = {"proxy": {"https": f"http://127.0.0.1:{proxy.port}"}}
        config = {"base_url": tls_upstream.url, "network": network}
        code = main(["--config", write_config(tmp_path / "c.json", config), "doctor"])
    finally:
        proxy.close()
    captured = capsys.readouterr()
    assert code == 1
    assert steps(captured.out)["CONNECT"] == "FAILED"
    assert "(407 Proxy Authentication Required)" in captured.out
    assert "the 'CONNECT' step failed" in captured.err


def test_doctor_checks_tls_to_an_https_proxy_and_through_it(
    ca: trustme.CA, tls_upstream: FakeUpstream, ca_file: str, tmp_path: Path, capsys: Any
) -> None:
    """An HTTPS proxy: its own TLS hop, CONNECT, then TLS to the service inside the tunnel."""
    proxy = ConnectProxy(tls=server_context(ca))
    try:
        network = {
            "tls": {"verify": ca_file},
            "proxy": {"url": f"https://127.0.0.1:{proxy.port}", "cacert": ca_file},
        }
        config = {"base_url": tls_upstream.url, "network": network}
        code = main(["--config", write_config(tmp_path / "c.json", config), "doctor"])
    finally:
        proxy.close()
    out = capsys.readouterr().out
    assert code == 0, out
    found = steps(out)
    assert [found[s] for s in ("proxy TLS", "CONNECT", "TLS")] == ["ok"] * 3
    assert out.count("issuer: O=trustme") == 2


def test_doctor_names_the_get_step_on_an_error_status(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A 401 from the model list fails the GET step with the service's message."""
    monkeypatch.setenv("PASSTHROUGH_URL", upstream.url)
    upstream.enqueue(Reply.json(401, {"error": {"message": "key rejected"}}), path="/v1/models")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert steps(out)["GET /v1/models"] == "FAILED"
    assert "HTTP 401" in out
    assert "key rejected" in out


def test_doctor_masks_a_key_the_service_quotes(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A 401 quoting the API key: the GET step shows the message with the key masked."""
    key = "sk-doctor-0123456789"
    monkeypatch.setenv("PASSTHROUGH_URL", upstream.url)
    monkeypatch.setenv("PASSTHROUGH_API_KEY", key)
    body = {"error": {"message": f"Incorrect API key provided: {key}"}}
    upstream.enqueue(Reply.json(401, body), path="/v1/models")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert ("Incorrect API key provided: **********" in out, key in out) == (True, False)


def test_doctor_names_tls_when_the_server_never_answers(tmp_path: Path, capsys: Any) -> None:
    """A server that accepts TCP but never speaks TLS fails the TLS step at the connect timeout."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        network = {"timeout": {"connect": 0.3}}
        config = {"base_url": f"https://127.0.0.1:{port}", "network": network}
        code = main(["--config", write_config(tmp_path / "c.json", config), "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert steps(out)["TLS"] == "FAILED"
    assert "within 0.3 s (connect timeout)" in out


def test_doctor_names_configuration_without_a_url(capsys: Any) -> None:
    """Without PASSTHROUGH_URL and --config the configuration step fails (exit 2), with a hint."""
    assert main(["doctor"]) == 2
    captured = capsys.readouterr()
    assert steps(captured.out) == {"configuration": "FAILED"}
    assert "set PASSTHROUGH_URL or pass --config FILE" in captured.out
    assert "the 'configuration' step failed" in captured.err


def test_doctor_takes_the_url_from_provider_data(
    upstream: FakeUpstream, tmp_path: Path, capsys: Any
) -> None:
    """With a configuration without base_url, ``--provider-data`` supplies passthrough_url."""
    path = write_config(tmp_path / "c.json", {})
    data = json.dumps({"passthrough_url": upstream.url})
    assert main(["--config", path, "doctor", "--provider-data", data]) == 0
    assert f"service: {upstream.url}/v1" in capsys.readouterr().out
