"""What a transport reads from the environment, read once at construction.

The CA-bundle variables apply only when the configuration has no ``network.tls``
section; the proxy variables (any letter case) only when it has no ``network.proxy``
(``_rules.proxy`` reads those); ``SSLKEYLOGFILE`` always. A pickled client carries
exactly these variables (:func:`environment_snapshot`), so its copy resolves the same
settings in another process without reading that process's environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

from ..config import TLSConfig
from ..exceptions import ConfigError

__all__ = ["environment_snapshot", "proxy_source", "tls_from_environ", "tls_source"]

_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
# Every variable Transport reads (proxy names in any letter case): a pickled client
# carries exactly these, so its copy resolves the same settings in another process.
_ENV_EXACT = frozenset((*_CA_VARIABLES, "SSLKEYLOGFILE", "REQUEST_METHOD"))
_ENV_ANY_CASE = frozenset(("http_proxy", "https_proxy", "all_proxy", "no_proxy"))


def tls_from_environ(environ: Mapping[str, str]) -> tuple[TLSConfig, Optional[str]]:
    """The TLS settings when the configuration has no ``network.tls`` section, and the
    variable they came from (``None``: defaults)."""
    for name in _CA_VARIABLES:
        value = environ.get(name)
        if value:
            path = Path(os.path.abspath(os.path.expanduser(value)))
            if not path.exists():
                raise ConfigError(f"{name}: the CA bundle it names does not exist: {value}")
            return TLSConfig(verify=path), name
    return TLSConfig(), None


def environment_snapshot(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of ``environ`` a :class:`Transport` reads (for pickling a client)."""
    return {k: v for k, v in environ.items() if k in _ENV_EXACT or k.lower() in _ENV_ANY_CASE}


def tls_source(variable: Optional[str]) -> str:
    return f"environment ({variable})" if variable else "default"


def proxy_source(environ: Mapping[str, str]) -> str:
    names = [
        n
        for n in environ
        if n.upper() in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY") and environ[n]
    ]
    return f"environment ({', '.join(sorted(names))})" if names else "default"
