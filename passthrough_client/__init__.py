"""passthrough_client: a synchronous SDK for OpenAI-compatible inference services.

It reads the configuration block of Llama Stack's ``remote::passthrough`` provider
(:func:`load_config`) and turns it into a ``requests.Session`` owned by
:class:`PassthroughClient`.
"""

import logging as _logging

from ._batch import BatchSummary, run_batch
from ._client import PassthroughClient
from ._forward import provider_data_from_headers
from ._loading import dump_config, load_config
from ._streaming import Stream
from ._version import __version__
from .config import (
    NetworkConfig,
    PassthroughConfig,
    ProxyConfig,
    Secret,
    TimeoutConfig,
    TLSConfig,
)
from .exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
    InternalServerError,
    InvalidResponseError,
    ModelNotAllowedError,
    NotFoundError,
    PassthroughError,
    PermissionDeniedError,
    ProviderDataError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from .types import (
    APIResponse,
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
    HTTPInfo,
    Model,
    ToolCall,
    ToolCallFunction,
    Usage,
)

__all__ = [
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

# The library's logger stays silent unless the application configures logging.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
