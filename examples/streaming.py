"""Streaming: print a chat answer token by token, as it arrives.

Run: ``PASSTHROUGH_URL=http://localhost:8000 python examples/streaming.py [PROMPT]``
(``PASSTHROUGH_MODEL`` picks the model; default: the first one listed). For a local
try, ``python -m passthrough_client.testing`` serves a fake service and prints the
``export PASSTHROUGH_URL=...`` line.
"""

from __future__ import annotations

import os
import sys

from passthrough_client import PassthroughClient, PassthroughError


def main(argv: list[str]) -> int:
    """Stream the answer to ``argv[0]`` (or a default prompt), then print the summary."""
    prompt = argv[0] if argv else "Tell me, in one sentence, why streaming feels faster."
    with PassthroughClient() as client:
        model = os.environ.get("PASSTHROUGH_MODEL") or str(client.models()[0].id)
        try:
            # The stream is a context manager: leaving the block early closes the
            # connection, which cancels the generation on the server.
            with client.chat(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                stream=True,
                stream_options={"include_usage": True},  # ask for a final usage chunk
            ) as stream:
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        print(chunk.choices[0].delta.content, end="", flush=True)
                print()
                # collect() assembles everything received, also the chunks seen above.
                print(stream.collect())
        except PassthroughError as exc:
            print(f"\nthe stream failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
