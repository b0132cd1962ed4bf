"""examples/wsgi_service.py as gunicorn runs it with ``--preload``: one module-level client.

The client makes a call at import, so the gunicorn master holds a pooled connection
when it forks its workers: each worker must open its own instead of sharing it.
"""

from __future__ import annotations

import wsgi_service  # examples/ is on PYTHONPATH

from passthrough_client import PassthroughClient

client = PassthroughClient(wsgi_service.CONFIG)
client.models()  # a warm-up call at start-up: its connection stays in the pool
app = wsgi_service.make_app(client)
