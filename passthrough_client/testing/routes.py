"""The default routes of :class:`passthrough_client.testing.FakeUpstream`.

:func:`default_reply` answers a request that no scripted reply claimed, like an
OpenAI-compatible service would: ``GET /v1/models`` lists the models, and
``POST /v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings`` echo their
input (streamed word by word when asked). Each answer is a :class:`Reply`, built the
same way a test builds its scripted ones.

Standard library only: importing this module must stay cheap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json as _json
import re
import struct
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .replies import Reply

__all__ = ["default_reply"]

_Obj = Dict[str, Any]


def _error(status: int, message: str, kind: str) -> Reply:
    return Reply.json(status, {"error": {"message": message, "type": kind}})


def _words(text: str) -> List[str]:
    """``text`` cut before each run of spaces; ``"".join(_words(t)) == t``."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces = [*pieces[:-1], pieces[-1] + tail] if pieces else [tail]
    return pieces


def _usage(prompt: Sequence[str], completion: Sequence[str]) -> Dict[str, int]:
    p, c = (sum(len(t.split()) for t in texts) for texts in (prompt, completion))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _stream(envelope: _Obj, bodies: List[_Obj], delay: float) -> Reply:
    events = [f"data: {_json.dumps({**envelope, **b})}\n\n" for b in bodies]
    reply = Reply.sse([*events, "data: [DONE]\n\n"], delay=delay)
    return dataclasses.replace(reply, delay_first=False)  # ``delay`` between events


def _include_usage(payload: _Obj) -> bool:
    options = payload.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _chat(payload: _Obj, seq: int, delay: float) -> Reply:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "'messages' must be a non-empty list", "invalid_request_error")
    texts = [_content_text(m.get("content")) if isinstance(m, dict) else "" for m in messages]
    usage = _usage(texts, texts[-1:])
    base = _envelope(f"chatcmpl-fake-{seq}", "chat.completion", payload)
    if not payload.get("stream"):
        message = {"role": "assistant", "content": texts[-1]}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        body = {**base, "choices": [choice], "usage": usage}
        return Reply.json(200, body)
    deltas: List[_Obj] = [{"content": w} for w in _words(texts[-1]) or [""]]
    deltas[0] = {"role": "assistant", **deltas[0]}
    bodies: List[_Obj] = [
        {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    bodies.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if _include_usage(payload):
        bodies.append({"choices": [], "usage": usage})
    return _stream({**base, "object": "chat.completion.chunk"}, bodies, delay)


def _envelope(id_: str, kind: str, payload: _Obj) -> _Obj:
    return {"id": id_, "object": kind, "created": 0, "model": payload.get("model")}


def _texts(value: Any) -> Optional[List[str]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _completions(payload: _Obj, seq: int, delay: float) -> Reply:
    prompts = _texts(payload.get("prompt"))
    if prompts is None:
        return _error(
            400, "'prompt' must be a string or a list of strings", "invalid_request_error"
        )
    usage = _usage(prompts, prompts)
    base = _envelope(f"cmpl-fake-{seq}", "text_completion", payload)

    def choice(i: int, text: str, finish: Optional[str]) -> _Obj:
        return {"index": i, "text": text, "logprobs": None, "finish_reason": finish}

    if not payload.get("stream"):
        choices = [choice(i, p, "stop") for i, p in enumerate(prompts)]
        return Reply.json(200, {**base, "choices": choices, "usage": usage})
    bodies: List[_Obj] = [
        {"choices": [choice(i, w, None)]} for i, p in enumerate(prompts) for w in _words(p)
    ]
    bodies += [{"choices": [choice(i, "", "stop")]} for i in range(len(prompts))]
    if _include_usage(payload):
        bodies.append({"choices": [], "usage": usage})
    return _stream(base, bodies, delay)


def _vector(text: str) -> List[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    ints = struct.unpack(">8I", digest)
    return [round(n / 2**31 - 1.0, 6) for n in ints]


def _embeddings(payload: _Obj, seq: int, delay: float) -> Reply:
    texts = _texts(payload.get("input"))
    if texts is None:
        return _error(400, "'input' must be a string or a list of strings", "invalid_request_error")
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)
    ]
    usage = _usage(texts, [])
    del usage["completion_tokens"]
    return Reply.json(
        200, {"object": "list", "data": data, "model": payload.get("model"), "usage": usage}
    )


def _models(models: Sequence[str]) -> Reply:
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake-upstream"} for m in models]
    return Reply.json(200, {"object": "list", "data": data})


_POSTS: Mapping[str, Callable[[_Obj, int, float], Reply]] = {
    "/v1/chat/completions": _chat,
    "/v1/completions": _completions,
    "/v1/embeddings": _embeddings,
}


def default_reply(
    method: str, path: Optional[str], payload: Any, seq: int, models: Sequence[str], delay: float
) -> Reply:
    """The default route's reply to ``method path`` (``path`` without prefix and query).

    ``seq`` numbers the response ids; ``delay`` is the wait before each streamed event.
    Unknown paths get ``404``, a wrong method ``405``, a body that is not a JSON object
    ``400``, all with an OpenAI-style error body.
    """
    if path is not None and (path == "/v1/models" or path in _POSTS):
        wanted = "GET" if path == "/v1/models" else "POST"
        if method != wanted:
            return _error(405, f"use {wanted} for {path}", "method_not_allowed")
        if path == "/v1/models":
            return _models(models)
        if not isinstance(payload, dict):
            return _error(400, "the body must be a JSON object", "invalid_request_error")
        return _POSTS[path](payload, seq, delay)
    return _error(404, f"no route for {method} {path}", "not_found")
