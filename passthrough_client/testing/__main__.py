"""``python -m passthrough_client.testing [--port N]``: serve FakeUpstream until Ctrl-C."""

from .serve import main

raise SystemExit(main())
