"""Worker functions for the process-pool tests (importable by ``spawn`` children)."""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

from passthrough_client import PassthroughClient

MODEL = "fake-model"

# The client of this worker process: inherited with "fork", unpickled with "spawn".
_CLIENT: List[PassthroughClient] = []


def install(client: Optional[PassthroughClient]) -> None:
    """Pool initializer: keep ``client`` for this worker's calls."""
    _CLIENT[:] = [] if client is None else [client]


def ask(text: str) -> Tuple[str, int]:
    """One chat call through this worker's client: ``(answer, worker pid)``."""
    client = _CLIENT[0]
    reply = client.chat(model=MODEL, messages=[{"role": "user", "content": text}], timeout=10)
    return str(reply.choices[0].message.content), os.getpid()
