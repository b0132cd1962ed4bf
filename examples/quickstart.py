"""Quick start: list the models, then ask one of them a question.

Run against any OpenAI-compatible service::

    PASSTHROUGH_URL=http://localhost:8000 PASSTHROUGH_API_KEY=sk-... python examples/quickstart.py

or against the package's fake service, started in another terminal (it serves until
Ctrl-C and prints the ``export`` line to use)::

    python -m passthrough_client.testing --port 8765       # terminal 1
    export PASSTHROUGH_URL=http://127.0.0.1:8765           # terminal 2
    python examples/quickstart.py

``PASSTHROUGH_MODEL`` picks the model (default: the first one listed).
"""

from __future__ import annotations

import os
import sys

from passthrough_client import ConfigError, PassthroughClient, PassthroughError


def main() -> int:
    """List the models, send one chat message and print the answer."""
    try:
        client = PassthroughClient()  # the sample configuration: PASSTHROUGH_URL, ..._API_KEY
    except ConfigError as exc:
        print(f"configuration problem:\n{exc}", file=sys.stderr)
        return 2
    with client:  # closes the pooled connections at the end
        try:
            models = client.models()
            print("models:", ", ".join(str(m.id) for m in models))
            model = os.environ.get("PASSTHROUGH_MODEL") or str(models[0].id)
            reply = client.chat(
                model=model,
                messages=[{"role": "user", "content": "Say hello in five words."}],
                max_tokens=32,
            )
        except PassthroughError as exc:  # connection, status and response errors alike
            print(f"the call failed: {exc}", file=sys.stderr)
            return 1
    print("answer:", reply.choices[0].message.content)
    print(reply)  # a readable summary: model, choices, finish reason, token usage
    return 0


if __name__ == "__main__":
    sys.exit(main())
