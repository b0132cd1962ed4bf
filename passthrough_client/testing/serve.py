"""``python -m passthrough_client.testing [--port N]``: FakeUpstream in the foreground.

Prints the URL and the ``export PASSTHROUGH_URL=...`` line to paste into another
terminal, then serves until Ctrl-C (or SIGTERM), and exits 0. Standard library only,
like the rest of the testing helpers.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Optional, Sequence, TextIO

from . import FakeUpstream

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m passthrough_client.testing",
        description="Serve the fake OpenAI-compatible service (FakeUpstream) on 127.0.0.1 "
        "until Ctrl-C, for the examples and manual tries.",
    )
    parser.add_argument(
        "--port", type=int, default=0, metavar="N", help="port to listen on (default: a free one)"
    )
    return parser


def _announce(upstream: FakeUpstream, out: TextIO) -> None:
    out.write(f"FakeUpstream serving at {upstream.url} (models: {', '.join(upstream.models)})\n")
    out.write("In another terminal:\n")
    out.write(f"export PASSTHROUGH_URL={upstream.url}\n")
    out.write("Press Ctrl-C to stop.\n")
    out.flush()


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    """Serve until interrupted; 0 after Ctrl-C/SIGTERM, 1 when the port cannot be bound."""
    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        _parser().error(f"--port must be between 0 and 65535, got {args.port}")
    upstream = FakeUpstream(port=args.port)
    try:
        upstream.start()
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}\n")
        return 1
    stop = threading.Event()
    # Ctrl-C and SIGTERM end it cleanly, even where SIGINT was ignored at start-up
    # (a shell script's background job), when Python would not raise KeyboardInterrupt.
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in handled}
    try:
        _announce(upstream, out)
        while not stop.wait(0.5):  # a short wait keeps the signal handler prompt everywhere
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        upstream.stop()
    out.write("stopped\n")
    out.flush()
    return 0
