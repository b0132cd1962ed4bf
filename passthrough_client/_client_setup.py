"""What a client is built from: its configuration (given, loaded or the sample one) and
the checked constructor options."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import attrs

from ._loading import Source, load_config
from .config import PassthroughConfig, Secret
from .exceptions import ConfigError

__all__ = ["SAMPLE_CONFIG", "check_options", "resolve_config"]

SAMPLE_CONFIG = {
    "base_url": "${env.PASSTHROUGH_URL}",
    "api_key": "${env.PASSTHROUGH_API_KEY:=}",
}


def resolve_config(
    config: Union[PassthroughConfig, Source, None],
    base_url: Optional[str],
    api_key: Optional[str],
    environ: Mapping[str, str],
) -> PassthroughConfig:
    """The client's configuration: ``config`` (or the sample one), keywords applied."""
    if config is None:
        return _sample_config(base_url, api_key, environ)
    if isinstance(config, PassthroughConfig):
        resolved = config
    else:
        resolved = load_config(config, environ=environ)
    changes: dict[str, Any] = {}
    if base_url is not None:
        changes["base_url"] = base_url
    if api_key is not None:
        changes["api_key"] = Secret(api_key) if isinstance(api_key, str) else api_key
    return attrs.evolve(resolved, **changes) if changes else resolved


def _sample_config(
    base_url: Optional[str], api_key: Optional[str], environ: Mapping[str, str]
) -> PassthroughConfig:
    """``SAMPLE_CONFIG`` with the keywords applied, built directly (no loader on this path)."""
    url = base_url if base_url is not None else environ.get("PASSTHROUGH_URL", "")
    if base_url is None and not url:
        state = "is empty" if "PASSTHROUGH_URL" in environ else "is not set"
        raise ConfigError(
            f"base_url: environment variable PASSTHROUGH_URL {state}; "
            "use ${env.PASSTHROUGH_URL:=default} to give a default, or pass base_url="
        )
    key = api_key if api_key is not None else environ.get("PASSTHROUGH_API_KEY") or None
    return PassthroughConfig(base_url=url, api_key=key)


def check_options(max_retries: Any, pool_maxsize: Any, refresh_interval: Any) -> None:
    """Raise :class:`ConfigError` naming every invalid constructor option."""
    problems = []
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        problems.append("max_retries: must be a whole number >= 0")
    if isinstance(pool_maxsize, bool) or not isinstance(pool_maxsize, int) or pool_maxsize < 1:
        problems.append("pool_maxsize: must be a whole number >= 1")
    if (
        isinstance(refresh_interval, bool)
        or not isinstance(refresh_interval, (int, float))
        or not refresh_interval > 0
    ):
        problems.append("refresh_interval: must be a number of seconds > 0")
    if problems:
        raise ConfigError(problems)
