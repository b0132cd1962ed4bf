"""Where ``client.request(method, path)`` sends: the path rules of DESIGN §4, pure.

- ``"rerank"`` (no leading ``/``) is joined to the API root ``{api}``:
  ``http://h/openai`` -> ``http://h/openai/v1/rerank``.
- ``"/tokenize"`` (a leading ``/``) is joined to the server root, ``base_url`` with a
  trailing ``/v1`` removed: ``http://h/openai/v1`` -> ``http://h/openai/tokenize``.
- Refused with ``ValueError`` (nothing is sent): an absolute URL (any ``scheme:``),
  a scheme-relative one (``//host``), backslashes, whitespace and control
  characters, a fragment, and ``..`` segments, also percent-encoded (``%2e%2e``,
  ``%2E.``, double-encoded ``%252e``). The joined URL is checked to have the same
  origin as ``base_url``: a path can never lead to another host.

A query in ``base_url`` (``?api-version=...``) is kept after the path, then the
path's own query, then ``params``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from ._net.transport import origin_of
from ._request import api_root

__all__ = ["check_path", "request_url", "server_root"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD = re.compile(r"[\s\x00-\x1f\x7f\x85\u2028\u2029\\#]")
_DECODE_ROUNDS = 4  # a server or proxy may decode more than once


def server_root(base_url: str) -> str:
    """``base_url`` without query, trailing slashes and a trailing ``/v1``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def check_path(path: Any) -> str:
    """``path`` if :func:`request_url` may join it; else ``ValueError`` saying why."""
    if not isinstance(path, str) or not path.strip("/"):
        raise ValueError("path: expected a non-empty path such as 'rerank' or '/tokenize'")
    if path.startswith("//") or _SCHEME.match(path):
        raise ValueError(
            "path: absolute and scheme-relative URLs are refused; give a path on the "
            "configured service (nothing is ever sent to another origin)"
        )
    if _BAD.search(path):
        raise ValueError(
            "path: backslashes, whitespace, control characters and fragments are refused"
        )
    if _has_dot_dot(path.split("?", 1)[0]):
        raise ValueError("path: '..' segments are refused (also percent-encoded)")
    return path


def _has_dot_dot(path: str) -> bool:
    for _ in range(_DECODE_ROUNDS):
        if any(segment == ".." for segment in re.split(r"[/\\]", path)):
            return True
        decoded = unquote(path)
        if decoded == path:
            return False
        path = decoded
    return True  # still encoded after several rounds: refuse rather than guess


def request_url(base_url: str, path: str, params: Optional[Mapping[str, Any]] = None) -> str:
    """The URL of ``path`` on ``base_url``'s service, with ``params`` in the query.

    Raises ``ValueError`` for a refused path (see the module docstring) and for
    ``params`` that is not a mapping.
    """
    check_path(path)
    path, _, own_query = path.partition("?")
    if path.startswith("/"):
        url = server_root(base_url) + "/" + path.lstrip("/")
    else:
        url = api_root(base_url) + "/" + path
    if origin_of(url) != origin_of(base_url):  # belt and braces: never another origin
        raise ValueError("path: the joined URL would leave the configured service")
    queries = [urlsplit(base_url).query, own_query, _encode(params)]
    query = "&".join(q for q in queries if q)
    return url + ("?" + query if query else "")


def _encode(params: Optional[Mapping[str, Any]]) -> str:
    if params is None:
        return ""
    if not isinstance(params, Mapping):
        raise ValueError("params: expected a mapping of query parameters")
    pairs = [(k, _text(v)) for k, v in params.items() if v is not None]
    return urlencode(pairs, doseq=True)


def _text(value: Any) -> Any:
    """JSON spelling for booleans (``true``), as services expect; lists stay lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return value
