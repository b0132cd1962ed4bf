"""The newer calls and options through proxies, over TLS and with provider data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faultutil import bounded
from netutil import Pki, RecordingProxy, client_for

from passthrough_client import APITimeoutError, PassthroughClient, run_batch
from passthrough_client.testing import FakeUpstream, Reply


def test_request_through_a_forwarding_proxy(proxy: RecordingProxy, upstream: FakeUpstream) -> None:
    """``request()`` to an http:// service goes through the proxy, and has ``.http``."""
    upstream.enqueue(Reply.json(200, {"ok": True}))
    client = client_for(upstream.url, proxy={"url": proxy.url()})
    answer = client.request("POST", "rerank", json={"q": 1})
    assert [f"POST {upstream.url}/v1/rerank"] == [f"{r.method} {r.target}" for r in proxy.records]
    assert answer.json() == {"ok": True}
    assert answer.http.url == f"{upstream.url}/v1/rerank"


def test_idle_timeout_over_tls_through_a_tunnel(
    proxy: RecordingProxy, secure: FakeUpstream, origin: Pki
) -> None:
    """A TLS stream tunnelled through CONNECT: keep-alives do not hold off idle_timeout.

    The server sends keep-alives for 20 s; the call must end at the 0.3 s idle timeout
    (the bound of 5 s leaves room for a loaded machine, and is far below the 20 s)."""
    secure.enqueue(Reply.sse([": ping\n\n"] * 400, delay=0.05))
    client = client_for(secure.url, tls={"verify": str(origin.ca_file)}, proxy={"url": proxy.url()})
    stream = client.request("POST", "responses", json={}, stream=True, idle_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="idle_timeout"):
        bounded(lambda: list(stream), 15.0)
    assert time.monotonic() - started < 5.0
    assert [r.method for r in proxy.records] == ["CONNECT"]


def test_with_options_and_provider_data(upstream: FakeUpstream) -> None:
    """A copy forwards provider data and the service URL from it like the original."""
    config = {"forward_headers": {"tenant": "X-Tenant"}}
    with PassthroughClient(config, environ={}) as client:
        copy = client.with_options(extra_headers={"X-Copy": "1"}, max_retries=0)
        data = {"passthrough_url": upstream.url, "tenant": "acme"}
        reply = copy.chat(
            model="m", messages=[{"role": "user", "content": "hi"}], provider_data=data
        )
        listing = copy.request("GET", "models", provider_data=data)
    seen = upstream.requests[-2]
    assert (seen.headers.get("x-tenant"), seen.headers.get("x-copy")) == ("acme", "1")
    assert reply.http is not None and reply.http.url.startswith(upstream.url)
    assert listing.json()["data"]


def test_batch_through_a_proxy(
    proxy: RecordingProxy, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The batch runner uses the client's proxy like every call."""
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"custom_id": "a", "method": "POST", "url": "/v1/embeddings",'
        ' "body": {"model": "e", "input": "x"}}\n',
        encoding="utf-8",
    )
    client = client_for(upstream.url, proxy={"url": proxy.url()})
    summary = run_batch(client, str(source), str(tmp_path / "out.jsonl"))
    assert summary.succeeded == 1
    assert [r.target for r in proxy.records] == [f"{upstream.url}/v1/embeddings"]
