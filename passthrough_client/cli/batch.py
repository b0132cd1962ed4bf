"""The ``batch`` command: a thin layer over :func:`run_batch`, with progress on stderr."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Optional, TextIO

from .._batch import BatchSummary, run_batch
from .common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, open_client

__all__ = ["add_batch_parser", "run_batch_command"]

TERMINAL_EVERY = 0.2  # seconds between updates of the one progress line on a terminal
LOG_EVERY = 5.0  # seconds between progress lines otherwise


def add_batch_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``batch INPUT.jsonl [-o OUTPUT.jsonl] [--concurrency N] [--resume]``."""
    batch = sub.add_parser(
        "batch", parents=[common], help="run an OpenAI Batch API file (JSONL) through the service"
    )
    batch.add_argument("input", metavar="INPUT.jsonl", help="the requests, one JSON object a line")
    batch.add_argument(
        "-o", "--output", metavar="OUTPUT.jsonl",
        help="where results go (default: INPUT with .output.jsonl in place of .jsonl)",
    )  # fmt: skip
    batch.add_argument("--concurrency", type=int, default=8, metavar="N", help="default: 8")
    batch.add_argument(
        "--resume", action="store_true",
        help="skip requests already answered below 400 in the output; append the rest",
    )  # fmt: skip


def default_output(input_path: str) -> str:
    """``INPUT`` with ``.output.jsonl`` in place of ``.jsonl`` (appended otherwise)."""
    if input_path.endswith(".jsonl"):
        return input_path[: -len(".jsonl")] + ".output.jsonl"
    return input_path + ".output.jsonl"


class Progress:
    """done/failed/total, rate and ETA on ``err``: one updating line on a terminal."""

    def __init__(self, err: TextIO, *, terminal: Optional[bool] = None) -> None:
        self._err = err
        self._terminal = err.isatty() if terminal is None else terminal
        self._started = time.monotonic()
        self._shown = self._started  # the first line after one interval, then the final one
        self._width = 0

    def __call__(self, summary: BatchSummary, *, final: bool = False) -> None:
        now = time.monotonic()
        every = TERMINAL_EVERY if self._terminal else LOG_EVERY
        if not final and now - self._shown < every:
            return
        self._shown = now
        self._show(_line(summary, now - self._started), final)

    def _show(self, text: str, final: bool) -> None:
        if self._terminal:
            pad = " " * max(self._width - len(text), 0)
            self._width = len(text)
            self._err.write("\r" + text + pad + ("\n" if final else ""))
        else:
            self._err.write(text + "\n")
        self._err.flush()


def _line(summary: BatchSummary, elapsed: float) -> str:
    done = summary.succeeded + summary.failed
    todo = summary.total - summary.skipped
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = f"{(todo - done) / rate:.0f} s" if rate > 0 else "?"
    skipped = f", {summary.skipped} skipped" if summary.skipped else ""
    return f"batch: {done}/{todo} done, {summary.failed} failed{skipped}; {rate:.1f}/s, ETA {eta}"


def run_batch_command(args: argparse.Namespace, err: Optional[TextIO] = None) -> int:
    """``batch``: exit 0 when every request got a status below 400, 1 otherwise, 2 on misuse."""
    err = sys.stderr if err is None else err
    if args.concurrency < 1:
        err.write("error: --concurrency must be at least 1\n")
        return EXIT_USAGE
    output = args.output or default_output(args.input)
    progress = Progress(err)
    with open_client(args.config, provider_id=args.provider_id) as client:
        try:
            summary = run_batch(
                client, args.input, output, concurrency=args.concurrency, resume=args.resume,
                progress=progress,
            )  # fmt: skip
        except OSError as exc:
            err.write(f"error: {exc.strerror or exc}: {exc.filename or args.input}\n")
            return EXIT_USAGE
    progress(summary, final=True)
    err.write(f"results in {output}\n")
    return EXIT_OK if summary.failed == 0 else EXIT_FAILURE
