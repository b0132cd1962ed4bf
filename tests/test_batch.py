"""``run_batch`` and ``passthrough-client batch`` over real sockets."""

from __future__ import annotations

import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from passthrough_client import BatchSummary, PassthroughClient, run_batch
from passthrough_client.cli.batch import Progress, default_output
from passthrough_client.cli.main import main
from passthrough_client.testing import FakeUpstream, Reply

ROOT = Path(__file__).resolve().parents[1]


def chat_line(custom_id: str, text: str = "hi") -> Dict[str, Any]:
    """A Batch API input line for a chat completion."""
    body = {"model": "fake-model", "messages": [{"role": "user", "content": text}]}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def write_input(path: Path, lines: List[Any]) -> Path:
    """Write ``lines`` (objects, or raw strings) as JSONL."""
    text = "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
    path.write_text(text, encoding="utf-8")
    return path


def read_output(path: Path) -> List[Dict[str, Any]]:
    """Every line of the output as JSON (fails on any line that is not)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_id(records: List[Dict[str, Any]]) -> Dict[Any, Dict[str, Any]]:
    """The last record of each custom_id."""
    return {r["custom_id"]: r for r in records}


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    """A client of the fake service, quick to give up on failing requests."""
    with PassthroughClient(base_url=upstream.url, max_retries=0, environ={}) as client:
        yield client


def test_every_kind_of_line_gets_its_output(
    client: PassthroughClient, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Answers (2xx and 4xx) go in ``response``; no answer and bad lines in ``error``."""
    source = write_input(
        tmp_path / "in.jsonl",
        [
            chat_line("ok", "hello world"),
            {"custom_id": "emb", "method": "POST", "url": "/v1/embeddings",
             "body": {"model": "fake-embedder", "input": "x"}},
            {"custom_id": "missing", "method": "GET", "url": "/v1/no/such/thing"},
            "{this is not json",
            {"custom_id": "far", "method": "POST", "url": "https://elsewhere.example/v1/x"},
            {"custom_id": "up", "method": "POST", "url": "/v1/../admin"},
            "",
            chat_line("ok", "again"),
        ],
    )  # fmt: skip
    out = tmp_path / "out.jsonl"
    summary = run_batch(client, str(source), str(out), concurrency=2)
    assert BatchSummary(total=7, succeeded=2, failed=5, skipped=0) == summary
    records = read_output(out)
    assert len(records) == 7
    found = by_id(records)
    answered = [r["response"]["body"] for r in records if r["custom_id"] == "ok" and r["response"]]
    assert [body["choices"][0]["message"]["content"] for body in answered] == ["hello world"]
    assert found["emb"]["response"]["status_code"] == 200 and found["emb"]["error"] is None
    assert found["missing"]["response"]["status_code"] == 404 and found["missing"]["error"] is None
    assert found["missing"]["response"]["body"]["error"]["type"] == "not_found"
    assert found[None]["error"]["code"] == "invalid_json" and found[None]["response"] is None
    assert found["far"]["error"]["code"] == "invalid_url"
    assert found["up"]["error"]["code"] == "invalid_url"
    duplicate = [r for r in records if r["error"] and r["error"]["code"] == "duplicate_custom_id"]
    assert len(duplicate) == 1
    paths = sorted(r.path for r in upstream.requests)
    assert paths == ["/v1/chat/completions", "/v1/embeddings", "/v1/no/such/thing"]


def test_no_answer_is_an_error_line(tmp_path: Path) -> None:
    """A refused connection gives ``response: null`` and ``error.code`` connection_error."""
    with FakeUpstream() as gone:
        url = gone.url
    source = write_input(tmp_path / "in.jsonl", [chat_line("a")])
    out = tmp_path / "out.jsonl"
    with PassthroughClient(base_url=url, max_retries=0, environ={}) as client:
        summary = run_batch(client, str(source), str(out))
    (record,) = read_output(out)
    assert (
        summary.failed,
        record["response"],
        record["error"]["code"],
    ) == (1, None, "connection_error")


class HoldingServer(http.server.ThreadingHTTPServer):
    """Holds each request until ``quorum`` are in flight (at most 3 s) and records the peak."""

    daemon_threads = True

    def __init__(self, quorum: int) -> None:
        super().__init__(("127.0.0.1", 0), HoldingHandler)
        self.quorum = quorum
        self.cond = threading.Condition()
        self.in_flight = 0
        self.peak = 0


class HoldingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every POST with a small chat completion once the quorum is reached."""

    protocol_version = "HTTP/1.1"
    server: HoldingServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server = self.server
        with server.cond:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
            server.cond.notify_all()
            server.cond.wait_for(lambda: server.in_flight >= server.quorum, timeout=3.0)
        time.sleep(0.05)  # everyone in the quorum is still in flight here
        with server.cond:
            server.in_flight -= 1
        body = b'{"choices": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_is_observed_at_the_server(tmp_path: Path, concurrency: int) -> None:
    """With N threads, exactly N requests are in flight at once, never more."""
    server = HoldingServer(quorum=concurrency)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        source = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(9)])
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with PassthroughClient(base_url=url, environ={}, pool_maxsize=8) as client:
            summary = run_batch(
                client, str(source), str(tmp_path / "o.jsonl"), concurrency=concurrency
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert summary.succeeded == 9
    assert concurrency == server.peak


def test_resume_skips_done_ids_and_reruns_failed_ones(
    client: PassthroughClient, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Only ids whose last line is below 400 are skipped; new lines are appended."""
    source = write_input(tmp_path / "in.jsonl", [chat_line("a"), chat_line("b"), chat_line("c")])
    out = tmp_path / "out.jsonl"
    upstream.enqueue(Reply.json(500, {"error": {"message": "down"}}), times=3)
    first = run_batch(client, str(source), str(out), concurrency=1)
    assert (first.succeeded, first.failed) == (0, 3)
    upstream.clear()
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    ok = json.dumps({"id": "x", "custom_id": "a", "error": None,
                     "response": {"status_code": 200, "request_id": None, "body": {}}})  # fmt: skip
    out.write_text("".join(lines) + ok + "\n", encoding="utf-8")
    second = run_batch(client, str(source), str(out), resume=True)
    assert BatchSummary(total=3, succeeded=2, failed=0, skipped=1) == second
    assert len(upstream.requests) == 2
    records = read_output(out)
    assert len(records) == 6
    assert {k: v["response"]["status_code"] for k, v in by_id(records).items()} == {
        "a": 200,
        "b": 200,
        "c": 200,
    }
    third = run_batch(client, str(source), str(out), resume=True)
    assert (third.skipped, third.succeeded + third.failed) == (3, 0)


def test_resume_after_a_crash_mid_line(
    client: PassthroughClient, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A half-written last line is dropped; every line afterwards is valid JSON."""
    source = write_input(tmp_path / "in.jsonl", [chat_line("a"), chat_line("b")])
    out = tmp_path / "out.jsonl"
    run_batch(client, str(source), str(out), concurrency=1)
    text = out.read_text(encoding="utf-8")
    out.write_text(text[: len(text) - 30], encoding="utf-8")  # the second line cut short
    summary = run_batch(client, str(source), str(out), resume=True)
    assert (summary.skipped, summary.succeeded) == (1, 1)
    assert sorted(r["custom_id"] for r in read_output(out)) == ["a", "b"]


def test_without_resume_the_output_is_replaced(client: PassthroughClient, tmp_path: Path) -> None:
    """A run without ``resume`` starts a fresh output file."""
    source = write_input(tmp_path / "in.jsonl", [chat_line("a")])
    out = tmp_path / "out.jsonl"
    out.write_text("old\n", encoding="utf-8")
    run_batch(client, str(source), str(out))
    assert len(read_output(out)) == 1


def test_progress_is_called_per_line(client: PassthroughClient, tmp_path: Path) -> None:
    """``progress`` receives growing summaries."""
    source = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(4)])
    seen: List[BatchSummary] = []
    run_batch(client, str(source), str(tmp_path / "o.jsonl"), concurrency=2, progress=seen.append)
    assert sorted(s.succeeded for s in seen) == [1, 2, 3, 4]


@pytest.mark.parametrize("value", [0, -2, 1.5, True])
def test_bad_concurrency_is_refused(client: PassthroughClient, tmp_path: Path, value: Any) -> None:
    """``concurrency`` must be a whole number >= 1."""
    with pytest.raises(ValueError, match="concurrency"):
        run_batch(client, "in.jsonl", str(tmp_path / "o.jsonl"), concurrency=value)


def test_progress_line_shows_counts_rate_and_eta() -> None:
    """Not a terminal: plain lines with done/total, failures, rate and ETA."""
    err = io.StringIO()
    progress = Progress(err, terminal=False)
    progress(BatchSummary(total=10, succeeded=3, failed=1, skipped=2), final=True)
    line = err.getvalue()
    assert "4/8 done, 1 failed, 2 skipped" in line and "/s, ETA" in line
    terminal = io.StringIO()
    Progress(terminal, terminal=True)(BatchSummary(total=1, succeeded=1), final=True)
    assert terminal.getvalue().startswith("\r") and terminal.getvalue().endswith("\n")


# --- the command line ------------------------------------------------------------------


def test_default_output_name() -> None:
    """``INPUT.jsonl`` -> ``INPUT.output.jsonl``."""
    assert default_output("/d/reqs.jsonl") == "/d/reqs.output.jsonl"
    assert default_output("reqs.txt") == "reqs.txt.output.jsonl"


def test_cli_exit_codes(
    upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """0 when all are below 400, 1 otherwise, 2 for misuse; progress goes to stderr."""
    monkeypatch.setenv("PASSTHROUGH_URL", upstream.url)
    good = write_input(tmp_path / "good.jsonl", [chat_line("a")])
    assert main(["batch", str(good)]) == 0
    assert len(read_output(tmp_path / "good.output.jsonl")) == 1
    err = capsys.readouterr().err
    assert "1/1 done, 0 failed" in err and "good.output.jsonl" in err
    bad = write_input(tmp_path / "bad.jsonl", [chat_line("a"), "nonsense"])
    assert main(["batch", str(bad), "-o", str(tmp_path / "x.jsonl"), "--concurrency", "2"]) == 1
    assert main(["batch", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["batch", str(good), "--concurrency", "0"]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_ctrl_c_stops_at_once_and_leaves_whole_lines(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A real SIGINT mid-run: exit at once, not after the rest of the run (over 10 s more);
    every output line valid JSON."""
    upstream.enqueue(Reply.json(200, {"choices": []}, delay=0.3), times=200)
    source = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(200)])
    out = tmp_path / "in.output.jsonl"
    env = {**os.environ, "PASSTHROUGH_URL": upstream.url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "passthrough_client", "batch", str(source), "--concurrency", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 2000):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = process.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        assert process.stderr is not None
        process.stderr.close()
    assert code == 130
    # The runner re-raises within about a second; the bound leaves room for a loaded
    # machine and is still far below the 10 s and more that the rest of the run takes.
    assert took < 5.0
    records = read_output(out)
    assert 4 <= len(records) < 200
    assert all(r["response"]["status_code"] == 200 for r in records)


def test_the_example_file_runs(client: PassthroughClient, tmp_path: Path) -> None:
    """``examples/batch.jsonl`` (shown in the README): three answers, a 404, a refused URL."""
    out = tmp_path / "example.output.jsonl"
    summary = run_batch(client, str(ROOT / "examples" / "batch.jsonl"), str(out))
    assert summary == BatchSummary(total=5, succeeded=3, failed=2, skipped=0)
    found = by_id(read_output(out))
    assert found["q4"]["error"]["code"] == "invalid_url"
    assert found["q5"]["response"]["status_code"] == 404


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_interrupted_in_process_writes_nothing_more(upstream: FakeUpstream, tmp_path: Path) -> None:
    """Library use: after ``KeyboardInterrupt`` no thread sends or writes anything more."""
    import _thread

    upstream.enqueue(Reply.json(200, {"choices": []}, delay=0.2), times=200)
    source = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(200)])
    out = tmp_path / "out.jsonl"
    interrupted: List[float] = []

    def interrupt_once_lines_are_written() -> None:
        # Not a fixed timer: on a loaded machine one could fire before the first line.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
            time.sleep(0.01)
        interrupted.append(time.monotonic())
        _thread.interrupt_main()

    watcher = threading.Thread(target=interrupt_once_lines_are_written, daemon=True)
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            run_batch(client, str(source), str(out), concurrency=4)
        # Within about a second; the rest of the run would take about 10 s.
        assert time.monotonic() - interrupted[0] < 5.0
        written = out.read_bytes()
        # Requests already in flight may still reach the server (a loaded machine can
        # record one sent before the interrupt only later), but none may follow them:
        # left running, four workers would send about 20 more every second.
        time.sleep(1.0)
        sent = len(upstream.requests)
        time.sleep(1.0)
        assert (out.read_bytes(), len(upstream.requests)) == (written, sent)
    watcher.join(5)
    assert 0 < len(read_output(out)) < 200
