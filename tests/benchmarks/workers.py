"""One benchmark measurement in a fresh process: ``python workers.py FIGURE IMPL [options]``.

Prints one JSON object on its last line: ``{"value": ..., ...extra figures}``.
Run by ``run.py``; each call is a new interpreter, so nothing is shared between the
clients measured (caches, pools, imported modules).

Figures and implementations:

- ``chat`` (calls/s): ``passthrough``, ``openai``, ``requests``, ``urllib3``; with
  ``--threads N``, N threads share the one client (session, pool) and the figure is
  the calls/s of all threads together
- ``embed`` (seconds per call, median): an 8 MB embeddings reply, parsed:
  ``passthrough``, ``requests`` (``.post().json()``)
- ``stream`` (chunks/s): ``passthrough``, ``openai``, ``raw`` (requests ``iter_lines``)
- ``construct`` (seconds per construction after the first): ``passthrough``, ``openai``,
  ``openai-capath`` (with ``SSL_CERT_DIR`` set, where httpx skips loading the CA file)
- ``memory`` (MB above the start while streaming): ``passthrough``, ``raw``
- ``trickle`` (seconds from send to yield per event): ``passthrough``, ``openai``;
  ``--frames block``: the events trickle inside one partly arrived HTTP chunk

Import time is measured by ``run.py`` with ``python -c`` (this module's own imports
would pre-load modules such as ``json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

__all__ = ["main"]

MODEL = "bench-model"
MESSAGES = [{"role": "user", "content": "Say hello."}]
BODY = {"model": MODEL, "messages": MESSAGES}
Call = Callable[[], Any]


# ------------------------------------------------------------------ helpers


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


class _Window:
    """Wall, own CPU and server CPU over a timed window."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.server = _server_cpu(server_pid)

    def close(self) -> Dict[str, float]:
        wall = time.perf_counter() - self.wall
        return {
            "seconds": wall,
            "client_cpu": (time.process_time() - self.cpu) / wall,
            "server_cpu": (_server_cpu(self.server_pid) - self.server) / wall,
        }


# ------------------------------------------------------------------ clients


def _passthrough(base: str) -> Any:
    from passthrough_client import PassthroughClient

    # From the process environment, as a user would (run.py strips proxy variables).
    return PassthroughClient(base_url=base)


def _openai(base: str) -> Any:
    import openai

    return openai.OpenAI(base_url=base + "/v1", api_key="x")


def _chat_call(impl: str, base: str) -> Call:
    url = base + "/v1/chat/completions"
    if impl == "passthrough":
        client = _passthrough(base)
        return lambda: client.chat(model=MODEL, messages=MESSAGES)
    if impl == "openai":
        create = _openai(base).chat.completions.create
        return lambda: create(model=MODEL, messages=MESSAGES)
    if impl == "requests":
        import requests

        session = requests.Session()
        return lambda: session.post(url, json=BODY).json()
    if impl == "urllib3":
        import urllib3

        pool = urllib3.PoolManager()
        headers = {"Content-Type": "application/json"}

        def call() -> Any:
            body = json.dumps(BODY).encode()
            return json.loads(pool.request("POST", url, body=body, headers=headers).data)

        return call
    raise SystemExit(f"unknown chat implementation {impl!r}")


def _chat_threads(call: Call, args: argparse.Namespace) -> Dict[str, Any]:
    """Calls/s of ``args.threads`` threads sharing ``call`` (one client) for ``args.seconds``."""
    counts = [0] * args.threads
    start = threading.Barrier(args.threads + 1)
    stop = threading.Event()

    def loop(slot: int) -> None:
        for _ in range(max(1, args.warmup // args.threads)):
            call()
        start.wait(timeout=60)
        while not stop.is_set():
            call()
            counts[slot] += 1

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    start.wait(timeout=60)
    window = _Window(args.server_pid)
    base = sum(counts)
    time.sleep(args.seconds)
    calls = sum(counts) - base
    extra = window.close()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return {"value": calls / extra["seconds"], "calls": calls, **extra}


def _embed_call(impl: str, base: str) -> Call:
    body = {"model": MODEL, "input": ["hello"] * 512}
    if impl == "passthrough":
        client = _passthrough(base)
        return lambda: client.embeddings(model=MODEL, input=body["input"])
    if impl == "requests":
        import requests

        session, url = requests.Session(), base + "/v1/embeddings"
        return lambda: session.post(url, json=body).json()
    raise SystemExit(f"unknown embed implementation {impl!r}")


def _raw_stream(session: Any, url: str, headers: Dict[str, str]) -> Iterator[Any]:
    body = dict(BODY, stream=True)
    with session.post(url, json=body, headers=headers, stream=True) as response:
        for line in response.iter_lines():
            if line.startswith(b"data:"):
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                yield json.loads(data)


def _streamer(impl: str, base: str) -> Callable[[Dict[str, str]], Iterator[Any]]:
    """Return a function: extra headers -> an iterator of chunks touched like a user would."""
    if impl == "passthrough":
        client = _passthrough(base)
        return lambda h: client.chat(model=MODEL, messages=MESSAGES, stream=True, extra_headers=h)
    if impl == "openai":
        create = _openai(base).chat.completions.create
        return lambda h: create(model=MODEL, messages=MESSAGES, stream=True, extra_headers=h)
    if impl == "raw":
        import requests

        session = requests.Session()
        url = base + "/v1/chat/completions"
        return lambda h: _raw_stream(session, url, h)
    raise SystemExit(f"unknown stream implementation {impl!r}")


def _content(chunk: Any) -> Any:
    """Read the delta text, as a consumer does (typed or raw dict)."""
    if isinstance(chunk, dict):
        choices = chunk["choices"]
        return choices[0]["delta"].get("content") if choices else None
    return chunk.choices[0].delta.content if chunk.choices else None


def _consume(chunks: Iterator[Any]) -> int:
    count = 0
    for chunk in chunks:
        _content(chunk)
        count += 1
    return count


# ------------------------------------------------------------------ figures


def chat(args: argparse.Namespace) -> Dict[str, Any]:
    """Calls per second of a non-streaming chat call over ``args.seconds``."""
    call = _chat_call(args.impl, args.base)
    if args.threads > 1:
        return _chat_threads(call, args)
    for _ in range(args.warmup):
        call()
    window, count, now = _Window(args.server_pid), 0, time.perf_counter
    deadline = now() + args.seconds
    while now() < deadline:
        call()
        count += 1
    extra = window.close()
    return {"value": count / extra["seconds"], "calls": count, **extra}


def embed(args: argparse.Namespace) -> Dict[str, Any]:
    """Median seconds per call of an 8 MB embeddings reply, over ``args.seconds``."""
    call = _embed_call(args.impl, args.base)
    call()
    times: List[float] = []
    spent, now = 0.0, time.perf_counter
    while spent < args.seconds or len(times) < 5:
        start = now()
        call()
        elapsed = now() - start
        times.append(elapsed)
        spent += elapsed
    return {"value": statistics.median(times), "calls": len(times), "min": min(times)}


def stream(args: argparse.Namespace) -> Dict[str, Any]:
    """Chunks per second over one long stream (request included)."""
    open_stream = _streamer(args.impl, args.base)
    _consume(open_stream({"X-Bench-Chunks": "200"}))
    window = _Window(args.server_pid)
    headers = {"X-Bench-Chunks": str(args.chunks), "X-Bench-Frames": args.frames}
    count = _consume(open_stream(headers))
    extra = window.close()
    return {"value": count / extra["seconds"], "chunks": count, **extra}


def construct(args: argparse.Namespace) -> Dict[str, Any]:
    """Median seconds per client construction, after a first (warm-up) one."""
    if args.impl == "openai-capath":
        # httpx loads the whole CA file into each new SSLContext unless SSL_CERT_DIR
        # (lazy, per-certificate lookup) is set: show openai at its best, too.
        os.environ["SSL_CERT_DIR"] = "/etc/ssl/certs"
    make = _passthrough if args.impl == "passthrough" else _openai
    make(args.base).close()
    times: List[float] = []
    spent, now = 0.0, time.perf_counter
    while spent < args.seconds and len(times) < 2000:
        start = now()
        client = make(args.base)
        elapsed = now() - start
        client.close()
        times.append(elapsed)
        spent += elapsed
    return {"value": statistics.median(times), "constructions": len(times), "min": min(times)}


def memory(args: argparse.Namespace) -> Dict[str, Any]:
    """Peak RSS above the start (MB) while streaming ``args.chunks`` chunks, none kept."""
    open_stream = _streamer(args.impl, args.base)
    _consume(open_stream({"X-Bench-Chunks": "1000"}))
    gc.collect()
    start_kb = _status_kb("VmRSS")
    reset = _reset_peak()
    if not reset:
        start_kb = max(start_kb, _status_kb("VmHWM"))
    count = _consume(open_stream({"X-Bench-Chunks": str(args.chunks)}))
    peak_kb = _status_kb("VmHWM")
    return {
        "value": (peak_kb - start_kb) / 1024,
        "chunks": count,
        "start_mb": start_kb / 1024,
        "peak_reset": reset,
    }


def trickle(args: argparse.Namespace) -> Dict[str, Any]:
    """Seconds from send (timestamp in the event id) to yield, per trickled event."""
    open_stream = _streamer(args.impl, args.base)
    _consume(open_stream({"X-Bench-Chunks": "5"}))
    headers = {
        "X-Bench-Chunks": str(args.chunks),
        "X-Bench-Interval": str(args.interval),
        "X-Bench-Frames": args.frames,
    }
    lags: List[float] = []
    for chunk in open_stream(headers):
        received = time.time()
        ident = chunk["id"] if isinstance(chunk, dict) else chunk.id
        if ident.startswith("t"):
            lags.append(received - float(ident[1:]))
    return {"value": max(lags), "lags": lags, "events": len(lags)}


FIGURES: Dict[str, Callable[[argparse.Namespace], Dict[str, Any]]] = {
    "chat": chat,
    "construct": construct,
    "embed": embed,
    "memory": memory,
    "stream": stream,
    "trickle": trickle,
}


def main(argv: Optional[List[str]] = None) -> None:
    """Run one figure for one implementation and print its JSON result."""
    parser = argparse.ArgumentParser(description="one benchmark measurement")
    parser.add_argument("figure", choices=sorted(FIGURES))
    parser.add_argument("impl")
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--frames", choices=["event", "block"], default="event")
    args = parser.parse_args(argv)
    print(json.dumps(FIGURES[args.figure](args)))


if __name__ == "__main__":
    main()
