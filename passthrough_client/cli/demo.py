"""``passthrough-client demo``: every call against the embedded fake service.

Starts :class:`passthrough_client.testing.FakeUpstream` on a free local port and runs
a chat, a streamed chat (tokens printed as they arrive), a completion, embeddings,
the model list, provider-data forwarding and an error against it, showing for each
what the service received (method, path, key headers with credentials masked, body)
and what came back. Needs nothing beyond the runtime dependencies, ignores the
environment's proxy and CA variables and takes well under two seconds.
"""

from __future__ import annotations

import json
from typing import Any, List, TextIO

from .._client import PassthroughClient
from ..exceptions import APIStatusError
from .common import EXIT_OK, mask_header

__all__ = ["run_demo"]

DEMO_KEY = "sk-demo-not-a-real-key"
TOKEN_DELAY = 0.03  # seconds between streamed events: slow enough to see them arrive
_SHOWN_HEADERS = ("Authorization", "Accept", "Content-Type", "X-Tenant-ID")
_BODY_MAX = 110


class _Show:
    """Prints what the fake service received and what the client returned."""

    def __init__(self, out: TextIO, upstream: Any) -> None:
        self.out = out
        self.upstream = upstream
        self.seen = 0

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def title(self, text: str) -> None:
        self.write(f"\n== {text} ==")

    def sent(self) -> None:
        """Every request the service received since the last call."""
        requests = self.upstream.requests
        for request in requests[self.seen :]:
            self.write(f"-> {request.method} {request.path}")
            for name in _SHOWN_HEADERS:
                value = request.headers.get(name)
                if value is not None:
                    self.write(f"     {name}: {mask_header(name, value)}")
            if request.json is not None:
                body = json.dumps(request.json, ensure_ascii=False)
                cut = body if len(body) <= _BODY_MAX else body[: _BODY_MAX - 3] + "..."
                self.write(f"     body: {cut}")
        self.seen = len(requests)

    def received(self, value: Any) -> None:
        first, *rest = str(value).splitlines() or [""]
        self.write(f"<- {first}")
        for line in rest:
            self.write(f"   {line}")


def _user(text: str) -> List[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _chat(client: PassthroughClient, show: _Show) -> None:
    show.title("chat")
    reply = client.chat(model="fake-model", messages=_user("Hello from passthrough-client!"))
    show.sent()
    show.received(reply)


def _streamed_chat(client: PassthroughClient, show: _Show) -> None:
    show.title("streamed chat (tokens as they arrive)")
    text = "Each token is printed the moment its event arrives."
    with client.chat(
        model="fake-model",
        messages=_user(text),
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        show.sent()
        show.out.write("<- ")
        for chunk in stream:
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece:
                show.out.write(piece)
                show.out.flush()
        show.write()
        show.received(f"assembled by stream.collect():\n{stream.collect()}")


def _completions(client: PassthroughClient, show: _Show) -> None:
    show.title("completions")
    reply = client.completions(model="fake-model", prompt="Once upon a time", max_tokens=16)
    show.sent()
    show.received(reply)


def _embeddings(client: PassthroughClient, show: _Show) -> None:
    show.title("embeddings")
    reply = client.embeddings(model="fake-embedder", input=["first text", "second text"])
    show.sent()
    show.received(reply)
    vector = reply.data[0].embedding
    show.write(f"   data[0].embedding[:4] = {list(vector[:4])}")


def _models(client: PassthroughClient, show: _Show) -> None:
    show.title("models")
    models = client.models()
    show.sent()
    show.received(", ".join(str(m.id) for m in models))


def _provider_data(client: PassthroughClient, show: _Show) -> None:
    show.title("provider data forwarding (forward_headers: {tenant_id: X-Tenant-ID})")
    data = {"tenant_id": "acme-corp", "other_provider": {"api_key": "never forwarded"}}
    show.write(f"   provider_data keys: {', '.join(data)}")
    reply = client.chat(model="fake-model", messages=_user("Who am I?"), provider_data=data)
    show.sent()
    received = show.upstream.requests[-1].headers.get("X-Tenant-ID")
    show.write(f"   the service received X-Tenant-ID: {received}; other keys were not sent")
    show.received(reply)


def _error(client: PassthroughClient, show: _Show) -> None:
    from ..testing import Reply

    show.title("an error from the service")
    body = {"error": {"message": "invalid API key", "type": "authentication_error"}}
    show.upstream.enqueue(Reply.json(401, body, headers={"x-request-id": "req-demo-1"}))
    try:
        client.chat(model="fake-model", messages=_user("This one fails."))
    except APIStatusError as exc:
        show.sent()
        show.received(f"{type(exc).__name__}: status {exc.status_code}, {exc.message!r}")
        show.write(f"   request id {exc.request_id}; 401 is not retried")


def run_demo(out: TextIO) -> int:
    """Run the demo, printing to ``out``; returns 0 (errors propagate)."""
    from ..testing import FakeUpstream

    config = {
        "base_url": "",  # replaced below, once the port is known
        "api_key": DEMO_KEY,
        "forward_headers": {"tenant_id": "X-Tenant-ID"},
    }
    with FakeUpstream(stream_delay=TOKEN_DELAY) as upstream:
        config["base_url"] = upstream.url
        show = _Show(out, upstream)
        show.write(f"A fake OpenAI-compatible service is listening on {upstream.url}")
        # environ={}: the machine's proxy and CA variables must not reroute a local demo.
        with PassthroughClient(config, environ={}) as client:
            show.write(f"client: {client!r}")
            for section in (
                _chat, _streamed_chat, _completions, _embeddings, _models, _provider_data, _error,
            ):  # fmt: skip
                section(client, show)
    show.write("\ndemo finished: every call above went over real HTTP to the local service")
    return EXIT_OK
