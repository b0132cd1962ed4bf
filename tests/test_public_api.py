"""The front door: ``__all__`` and the public signatures change only on purpose (DESIGN.md)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any, Callable

import pytest

import passthrough_client
from passthrough_client import PassthroughClient

EXPORTS = [
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchSummary",
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChunkChoice",
    "Completion",
    "CompletionChoice",
    "ConfigError",
    "ConflictError",
    "Embedding",
    "EmbeddingsResponse",
    "HTTPInfo",
    "InternalServerError",
    "InvalidResponseError",
    "Model",
    "ModelNotAllowedError",
    "NetworkConfig",
    "NotFoundError",
    "PassthroughClient",
    "PassthroughConfig",
    "PassthroughError",
    "PermissionDeniedError",
    "ProviderDataError",
    "ProxyConfig",
    "RateLimitError",
    "Secret",
    "Stream",
    "StreamError",
    "TLSConfig",
    "TimeoutConfig",
    "ToolCall",
    "ToolCallFunction",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "dump_config",
    "load_config",
    "provider_data_from_headers",
    "run_batch",
]

P, K, V = "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY", "VAR_KEYWORD"
REQUIRED = inspect.Parameter.empty
CALL_OPTIONS = [
    ("provider_data", K, None),
    ("extra_headers", K, None),
    ("extra_body", K, None),
    ("timeout", K, None),
    ("max_retries", K, None),
    ("deadline", K, None),
]
STREAM_OPTIONS = [("first_event_timeout", K, None), ("idle_timeout", K, None)]

SIGNATURES: list[tuple[str, Callable[..., Any], list[tuple[str, str, Any]]]] = [
    (
        "PassthroughClient",
        PassthroughClient.__init__,
        [
            ("self", P, REQUIRED),
            ("config", P, None),
            ("base_url", K, None),
            ("api_key", K, None),
            ("max_retries", K, 2),
            ("pool_maxsize", K, 10),
            ("refresh_interval", K, 300.0),
            ("max_response_bytes", K, 128 * 2**20),
            ("max_event_bytes", K, 16 * 2**20),
            ("environ", K, None),
        ],
    ),
    (
        "chat",
        PassthroughClient.chat,
        [
            ("self", P, REQUIRED),
            ("model", K, REQUIRED),
            ("messages", K, REQUIRED),
            ("stream", K, False),
            *CALL_OPTIONS,
            *STREAM_OPTIONS,
            ("params", V, REQUIRED),
        ],
    ),
    (
        "completions",
        PassthroughClient.completions,
        [
            ("self", P, REQUIRED),
            ("model", K, REQUIRED),
            ("prompt", K, REQUIRED),
            ("stream", K, False),
            *CALL_OPTIONS,
            *STREAM_OPTIONS,
            ("params", V, REQUIRED),
        ],
    ),
    (
        "embeddings",
        PassthroughClient.embeddings,
        [
            ("self", P, REQUIRED),
            ("model", K, REQUIRED),
            ("input", K, REQUIRED),
            *CALL_OPTIONS,
            ("params", V, REQUIRED),
        ],
    ),
    (
        "models",
        PassthroughClient.models,
        [
            ("self", P, REQUIRED),
            ("refresh", K, False),
            *[option for option in CALL_OPTIONS if option[0] != "extra_body"],
        ],
    ),
    (
        "request",
        PassthroughClient.request,
        [
            ("self", P, REQUIRED),
            ("method", P, REQUIRED),
            ("path", P, REQUIRED),
            ("json", K, None),
            ("params", K, None),
            ("stream", K, False),
            *[option for option in CALL_OPTIONS if option[0] != "extra_body"],
            *STREAM_OPTIONS,
        ],
    ),
    (
        "with_options",
        PassthroughClient.with_options,
        [
            ("self", P, REQUIRED),
            ("timeout", K, None),
            ("max_retries", K, None),
            ("extra_headers", K, None),
        ],
    ),
    (
        "run_batch",
        passthrough_client.run_batch,
        [
            ("client", P, REQUIRED),
            ("input_path", P, REQUIRED),
            ("output_path", P, REQUIRED),
            ("concurrency", K, 8),
            ("resume", K, False),
            ("progress", K, None),
        ],
    ),
    (
        "load_config",
        passthrough_client.load_config,
        [("source", P, REQUIRED), ("environ", K, None), ("provider_id", K, None)],
    ),
    (
        "dump_config",
        passthrough_client.dump_config,
        [("config", P, REQUIRED), ("reveal_secrets", K, False)],
    ),
    (
        "provider_data_from_headers",
        passthrough_client.provider_data_from_headers,
        [("headers", P, REQUIRED)],
    ),
]


def test_all_is_pinned() -> None:
    """``__all__`` lists exactly the public names."""
    assert list(passthrough_client.__all__) == EXPORTS


def test_all_is_sorted() -> None:
    """``__all__`` is kept sorted."""
    assert list(passthrough_client.__all__) == sorted(passthrough_client.__all__)


def test_every_export_exists() -> None:
    """Every name in ``__all__`` is importable from the package."""
    assert [n for n in EXPORTS if not hasattr(passthrough_client, n)] == []


@pytest.mark.parametrize(
    ("name", "function", "expected"), SIGNATURES, ids=[s[0] for s in SIGNATURES]
)
def test_signature_is_pinned(
    name: str, function: Callable[..., Any], expected: list[tuple[str, str, Any]]
) -> None:
    """Parameter names, kinds and defaults match DESIGN.md."""
    parameters = inspect.signature(function).parameters.values()
    assert [(p.name, p.kind.name, p.default) for p in parameters] == expected


@pytest.mark.parametrize("name", ["PassthroughClient", "load_config", "dump_config"])
def test_public_callables_have_docstrings(name: str) -> None:
    """The front door's main callables are documented."""
    assert (getattr(passthrough_client, name).__doc__ or "").strip() != ""


@pytest.mark.parametrize("name", ["APIResponse", "HTTPInfo"])
def test_metadata_types_are_exported_from_types_too(name: str) -> None:
    """``HTTPInfo`` and ``APIResponse`` are the same objects in ``types`` and the package."""
    import passthrough_client.types as types_module

    assert name in types_module.__all__
    assert getattr(types_module, name) is getattr(passthrough_client, name)


def _python(code: str) -> str:
    """The standard output of ``python -c code`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_cattrs_is_imported_only_to_load_a_configuration() -> None:
    # Import time (DESIGN section 9): a client built from keywords never pays for cattrs.
    code = (
        "import sys, passthrough_client as p\n"
        "p.PassthroughClient(base_url='http://127.0.0.1:9', environ={}).close()\n"
        "print('cattrs' in sys.modules)\n"
        "p.load_config({'base_url': 'http://127.0.0.1:9'})\n"
        "print('cattrs' in sys.modules)\n"
    )
    assert _python(code).split() == ["False", "True"]


def test_html_and_uuid_are_imported_only_on_use() -> None:
    # Import time (DESIGN section 9): only error pages, notebooks and batch runs need them.
    code = (
        "import sys, passthrough_client as p\n"
        "print(sorted(m for m in ('html', 'uuid') if m in sys.modules))\n"
        "from passthrough_client._responses import html_message\n"
        "from passthrough_client._batch_lines import _line\n"
        "print(html_message('<title>A &amp; B</title>'), _line('c', None, None)[:18])\n"
        "print(sorted(m for m in ('html', 'uuid') if m in sys.modules))\n"
    )
    lines = _python(code).splitlines()
    assert lines[0] == "[]"
    assert lines[1].startswith("A & B (HTML page")
    assert '{"id": "batch_req_' in lines[1] or '{"id":"batch_req_' in lines[1]
    assert lines[2] == "['html', 'uuid']"
