"""passthrough_client: a synchronous SDK for OpenAI-compatible inference services.

It reads the configuration block of Llama Stack's ``remote::passthrough`` provider
(:func:`load_config`) and turns it into a ``requests.Session`` owned by
:class:`PassthroughClient`.
"""

from ._loading import dump_config, load_config
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

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "InternalServerError",
    "InvalidResponseError",
    "ModelNotAllowedError",
    "NetworkConfig",
    "NotFoundError",
    "PassthroughConfig",
    "PassthroughError",
    "PermissionDeniedError",
    "ProviderDataError",
    "ProxyConfig",
    "RateLimitError",
    "Secret",
    "StreamError",
    "TLSConfig",
    "TimeoutConfig",
    "UnprocessableEntityError",
    "__version__",
    "dump_config",
    "load_config",
]
