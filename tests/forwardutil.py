"""Values and checks shared by the tests of ``passthrough_client._forward``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from passthrough_client._forward import Forwarded

__all__ = ["CANARY", "TOKEN", "assert_hides", "summary", "table"]


CANARY = "CANARY-SECRET-123"

TOKEN = {"maas_api_token": "Authorization"}


def table(rows: List[Tuple[Any, ...]]) -> List[Any]:
    """Turn ``(id, *values)`` rows into ``pytest.param`` objects."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


def summary(forwarded: Forwarded) -> Tuple[Dict[str, str], Optional[str], Optional[str], bool]:
    """All of a Forwarded value as plain data: (headers, base_url, api_key, matched)."""
    return dict(forwarded.headers), forwarded.base_url, forwarded.api_key, forwarded.matched


def assert_hides(exc: BaseException, secret: str) -> None:
    """The secret is in neither the text, the repr nor any chained exception."""
    assert (secret in str(exc), secret in repr(exc)) == (False, False)
    assert (exc.__cause__, exc.__context__) == (None, None)
