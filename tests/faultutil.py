"""Shared by the fault suites: run a call under a watchdog so a hang fails the test."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict

import pytest

WATCHDOG = 15.0


def bounded(fn: Callable[[], Any], seconds: float = WATCHDOG) -> Any:
    """Run ``fn`` in a daemon thread; fail the test if it does not finish in time."""
    outcome: Dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"the call did not return within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
