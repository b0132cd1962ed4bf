"""Sample JSON of OpenAI-compatible responses, shared by the tests of passthrough_client.types."""

from __future__ import annotations

from typing import Any, Dict

from passthrough_client.types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChunkChoice,
    Completion,
    CompletionChoice,
    Embedding,
    EmbeddingsResponse,
    Model,
    ToolCall,
    ToolCallFunction,
    Usage,
)

__all__ = [
    "ALL_TYPES",
    "CHAT",
    "CHUNK",
    "COMPLETION",
    "EMBEDDINGS",
    "EMBEDDINGS_BASE64",
    "MODEL",
    "ROUND_TRIPS",
    "TOOL_CALL",
    "USAGE",
    "USAGE_CHUNK",
    "received",
]

USAGE: Dict[str, Any] = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 0},
}
TOOL_CALL: Dict[str, Any] = {
    "id": "call_abc",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
CHAT: Dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "llama-3.1-8b",
    "system_fingerprint": "fp_1",
    "service_tier": "default",
    "prompt_logprobs": None,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello there",
                "refusal": None,
                "reasoning_content": "The user greets me.",
                "tool_calls": [TOOL_CALL],
            },
            "logprobs": {"content": [{"token": "Hello", "logprob": -0.1, "top_logprobs": []}]},
            "finish_reason": "tool_calls",
            "stop_reason": None,
        }
    ],
    "usage": USAGE,
}
CHUNK: Dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "llama-3.1-8b",
    "system_fingerprint": None,
    "choices": [
        {
            "index": 0,
            "delta": {
                "role": "assistant",
                "content": "Hel",
                "reasoning": None,
                "tool_calls": [{"index": 0, "id": None, "function": {"arguments": '{"ci'}}],
            },
            "logprobs": None,
            "finish_reason": None,
        }
    ],
    "usage": None,
    "obfuscation": "xyz",
}
USAGE_CHUNK: Dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "choices": [],
    "usage": USAGE,
}
COMPLETION: Dict[str, Any] = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1700000000,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [
        {
            "index": 0,
            "text": " a cat",
            "logprobs": {"tokens": [" a", " cat"], "token_logprobs": [-0.5, -1.0]},
            "finish_reason": "length",
            "prompt_logprobs": None,
        }
    ],
    "usage": USAGE,
}
EMBEDDINGS: Dict[str, Any] = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": 0, "embedding": [0.25, -1, 3.5e-3]},
        {"object": "embedding", "index": 1, "embedding": [0.5, 0.0, 1.0]},
    ],
    "model": "nomic-embed-text",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
    "id": "embd-vendor",
}
EMBEDDINGS_BASE64: Dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": "AACAPwAAAEA="}],
    "model": "nomic-embed-text",
}
MODEL: Dict[str, Any] = {
    "id": "llama-3.1-8b",
    "object": "model",
    "created": 1700000000,
    "owned_by": "vllm",
    "max_model_len": 8192,
    "permission": [{"id": "modelperm-1", "allow_sampling": True}],
}

ROUND_TRIPS = [
    (ChatCompletion, CHAT),
    (ChatCompletionChoice, CHAT["choices"][0]),
    (ChatCompletionMessage, CHAT["choices"][0]["message"]),
    (ToolCall, TOOL_CALL),
    (ToolCallFunction, TOOL_CALL["function"]),
    (ChatCompletionChunk, CHUNK),
    (ChatCompletionChunk, USAGE_CHUNK),
    (ChunkChoice, CHUNK["choices"][0]),
    (ChoiceDelta, CHUNK["choices"][0]["delta"]),
    (ChoiceDeltaToolCall, CHUNK["choices"][0]["delta"]["tool_calls"][0]),
    (Completion, COMPLETION),
    (CompletionChoice, COMPLETION["choices"][0]),
    (Usage, USAGE),
    (EmbeddingsResponse, EMBEDDINGS),
    (EmbeddingsResponse, EMBEDDINGS_BASE64),
    (Embedding, EMBEDDINGS["data"][0]),
    (Model, MODEL),
]
ALL_TYPES = sorted({cls for cls, _ in ROUND_TRIPS}, key=lambda cls: cls.__name__)


def received(message: str) -> str:
    """Return the snippet part of an InvalidResponseError message."""
    return message.split("; received: ", 1)[1]
