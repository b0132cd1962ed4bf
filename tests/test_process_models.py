"""Process models end to end (DESIGN §10): gunicorn --preload, process pools, Dask."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import procutil
import pytest
from netutil import closed_port

from passthrough_client import PassthroughClient
from passthrough_client.testing import FakeUpstream, RecordedRequest

pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TESTS = ROOT / "tests"
KEY = "sk-shipped-key"
CALLS = 16
TENANTS = 200
START_TIMEOUT = 20.0


def chat_requests(upstream: FakeUpstream, prefix: str) -> List[RecordedRequest]:
    """The chat requests whose last message starts with ``prefix``."""
    return [
        r
        for r in upstream.requests
        if r.json and str(r.json["messages"][-1]["content"]).startswith(prefix)
    ]


# --- concurrent.futures / multiprocessing ------------------------------------------------


def test_spawn_pool_gets_the_client_by_pickle(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spawn workers unpickle the client: same key, same (absent) proxy, although the
    workers' environment names a dead proxy; every answer is the worker's own."""
    client = PassthroughClient({"base_url": upstream.url, "api_key": KEY})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # workers inherit it
    texts = [f"spawned-{i}" for i in range(CALLS)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        2, mp_context=context, initializer=procutil.install, initargs=(client,)
    ) as pool:
        results = list(pool.map(procutil.ask, texts, timeout=START_TIMEOUT))
    assert [answer for answer, _ in results] == texts
    assert os.getpid() not in {pid for _, pid in results}
    sent = chat_requests(upstream, "spawned-")
    assert {r.headers["Authorization"] for r in sent} == {f"Bearer {KEY}"}


def test_fork_pool_inherits_the_client_and_opens_new_connections(
    upstream: FakeUpstream,
) -> None:
    """fork workers inherit a client with a pooled connection: they open their own while
    the parent keeps calling on its connection."""
    client = PassthroughClient({"base_url": upstream.url})
    client.models()
    pooled = upstream.requests[0].connection_id
    texts = [f"forked-{i}" for i in range(CALLS)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        2, mp_context=context, initializer=procutil.install, initargs=(client,)
    ) as pool:
        pending = pool.map(procutil.ask, texts, timeout=START_TIMEOUT)
        procutil.install(client)
        parent = [procutil.ask(f"parent-{i}")[0] for i in range(CALLS)]
        results = list(pending)
    assert [answer for answer, _ in results] == texts
    assert parent == [f"parent-{i}" for i in range(CALLS)]
    assert {r.connection_id for r in chat_requests(upstream, "parent-")} == {pooled}
    assert pooled not in {r.connection_id for r in chat_requests(upstream, "forked-")}


# --- gunicorn --preload -----------------------------------------------------------------


def wait_for_port(log: Path, proc: subprocess.Popen[bytes]) -> int:
    """The port from gunicorn's "Listening at: http://127.0.0.1:PORT (PID)" log line."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "Listening at: " in line:
                return int(line.split("Listening at: ", 1)[1].split()[0].rsplit(":", 1)[1])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture(name="gunicorn_port")
def fixture_gunicorn_port(upstream: FakeUpstream, tmp_path: Path) -> Iterator[int]:
    """tests/gunicorn_app.py under ``gunicorn --preload -w 4`` on an ephemeral port."""
    log = tmp_path / "gunicorn.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLES), str(TESTS)]),
        "PASSTHROUGH_URL": upstream.url,
        "PASSTHROUGH_MODEL": "fake-model",
    }
    command = [sys.executable, "-m", "gunicorn", "--preload", "-w", "4", "-b", "127.0.0.1:0"]
    command += ["--graceful-timeout", "5", "--error-logfile", str(log), "gunicorn_app:app"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, cwd=tmp_path)
    try:
        yield wait_for_port(log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def ask_service(port: int, tenant: str) -> Tuple[int, Any]:
    """POST /ask as ``tenant``, with the tenant in the provider data and the prompt."""
    headers = {"X-LlamaStack-Provider-Data": json.dumps({"tenant_id": tenant})}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/ask", body=json.dumps({"prompt": tenant}), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_gunicorn_preload_workers_keep_tenants_apart(
    upstream: FakeUpstream, gunicorn_port: int
) -> None:
    """200 concurrent requests, one tenant each, through 4 forked workers sharing a
    module-level client: all succeed and each tenant header is on its own request only."""
    tenants = [f"tenant-{i:03d}" for i in range(TENANTS)]
    with ThreadPoolExecutor(32) as callers:
        replies = list(callers.map(lambda t: ask_service(gunicorn_port, t), tenants))
    assert replies == [(200, {"answer": t}) for t in tenants]
    seen: Dict[str, List[str]] = {}
    for request in chat_requests(upstream, "tenant-"):
        seen.setdefault(request.json["messages"][-1]["content"], []).append(
            request.headers["X-Tenant-ID"]
        )
    assert seen == {t: [t] for t in tenants}


# --- Dask -------------------------------------------------------------------------------


def test_dask_batch_example_runs_on_two_worker_processes(upstream: FakeUpstream) -> None:
    """examples/batch_dask.py ships the client to a 2-process LocalCluster: every call is
    answered, from both workers, with the key that travelled in the pickle."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PASSTHROUGH_URL": upstream.url,
        "PASSTHROUGH_API_KEY": KEY,
    }
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "batch_dask.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "24 of 24 answered by 2 worker processes"
    sent = chat_requests(upstream, "Summarise document")
    assert len(sent) == 24
    assert {r.headers["Authorization"] for r in sent} == {f"Bearer {KEY}"}
