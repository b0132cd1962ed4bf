"""Validation rules of ``forward_headers`` and ``extra_blocked_headers``.

Written black-box from DESIGN.md section 2 and provider-config.md. Rules are exercised through
``load_config`` on mappings, so that the reported paths can be checked.
"""

from __future__ import annotations

from typing import List

import pytest
from configutil import entries_at, load_error

from passthrough_client import load_config

CORE_BLOCKED = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "cookie",
    "set-cookie",
    "forwarded",
    "proxy-authorization",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-prefix",
    "x-real-ip",
]


def mixed_case(name: str) -> str:
    """``content-type`` -> ``cOnTeNt-tYpE``."""
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))


@pytest.mark.parametrize("key", ["__user", "__authenticated_user", "__"])
def test_forward_headers_reserved_keys_are_rejected(key: str) -> None:
    """A ``forward_headers`` key starting with ``__`` is an error at that key."""
    err = load_error({"forward_headers": {key: "X-User"}})
    assert entries_at(err, f"forward_headers[{key!r}]")


@pytest.mark.parametrize("target", ["Bad Header", "X:Y", "X(Y)", "Ümlaut", ""])
def test_forward_headers_targets_must_be_tokens(target: str) -> None:
    """A target that is not a valid header name is an error at its key."""
    err = load_error({"forward_headers": {"tenant": target}})
    assert entries_at(err, "forward_headers['tenant']")


@pytest.mark.parametrize(
    "target",
    CORE_BLOCKED + [n.upper() for n in CORE_BLOCKED] + [mixed_case(n) for n in CORE_BLOCKED],
)
def test_forward_headers_core_blocked_targets_are_rejected(target: str) -> None:
    """Each core blocked header name, in any case, is rejected as a target."""
    err = load_error({"forward_headers": {"k": target}})
    assert entries_at(err, "forward_headers['k']")


@pytest.mark.parametrize("target", ["Authorization", "authorization", "X-Tenant", "x-api-key"])
def test_forward_headers_allowed_targets_are_stored(target: str) -> None:
    """``Authorization`` and ordinary headers are allowed targets."""
    config = load_config({"forward_headers": {"maas_api_token": target}}, environ={})
    assert {"maas_api_token": target} == dict(config.forward_headers or {})


def test_forward_headers_targets_are_trimmed() -> None:
    """Surrounding whitespace is trimmed from target names."""
    config = load_config({"forward_headers": {"tenant": " X-Tenant "}}, environ={})
    assert dict(config.forward_headers or {}) == {"tenant": "X-Tenant"}


@pytest.mark.parametrize("blocked", ["X-Tenant", " x-tenant ", "X-TENANT"])
def test_extra_blocked_headers_block_targets(blocked: str) -> None:
    """``extra_blocked_headers`` (trimmed, case-insensitive) blocks a target."""
    doc = {"forward_headers": {"t": "x-Tenant"}, "extra_blocked_headers": [blocked]}
    assert entries_at(load_error(doc), "forward_headers['t']")


def test_extra_blocked_headers_cannot_unblock_core_names() -> None:
    """With ``extra_blocked_headers`` set, core blocked names stay blocked."""
    doc = {"forward_headers": {"c": "Cookie"}, "extra_blocked_headers": ["X-Other"]}
    assert entries_at(load_error(doc), "forward_headers['c']")


@pytest.mark.parametrize("names", [["X-A", ""], ["X-A", "   "]])
def test_empty_extra_blocked_header_is_an_error(names: List[str]) -> None:
    """An empty ``extra_blocked_headers`` entry is an error even without forward_headers."""
    assert entries_at(load_error({"extra_blocked_headers": names}), "extra_blocked_headers[1]")


def test_all_forward_header_problems_are_reported_together() -> None:
    """Reserved keys, bad names and blocked targets are reported in one error."""
    doc = {
        "forward_headers": {"__u": "X-U", "a": "Bad Header", "b": "Cookie", "c": "X-Tenant"},
        "extra_blocked_headers": ["x-tenant"],
    }
    err = load_error(doc)
    paths = ["forward_headers['__u']", "forward_headers['a']", "forward_headers['b']"]
    assert [p for p in [*paths, "forward_headers['c']"] if not entries_at(err, p)] == []
