"""``run_batch``: an OpenAI Batch API file, run through the client with N threads.

Each finished request is written as one complete output line and flushed at once
(a lock orders the writes), so the output is valid line by line at any moment. On
``KeyboardInterrupt`` the runner stops taking requests, waits at most for a line
being written, and re-raises within about a second; requests still in flight are
abandoned (their threads are daemons and never write again).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, List, Optional, Tuple, Union

import attrs

from ._batch_lines import (
    BadLine,
    BatchRequest,
    error_line,
    parse_line,
    path_for,
    prepare_output,
    read_input,
    response_line,
)
from .exceptions import (
    APIStatusError,
    APITimeoutError,
    ModelNotAllowedError,
    PassthroughError,
    ProviderDataError,
)

__all__ = ["BatchSummary", "run_batch"]

Item = Tuple[int, Union[BatchRequest, BadLine]]


@attrs.frozen(kw_only=True)
class BatchSummary:
    """The outcome of :func:`run_batch` (also passed to ``progress`` while it runs).

    ``total`` input lines; ``succeeded`` got a status below 400; ``failed`` got a
    status of 400 or more, no HTTP answer, or were malformed; ``skipped`` were done
    already (``resume=True``).
    """

    total: int
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0


class _Writer:
    """Appends whole lines under a lock and counts them; closes for good on interrupt."""

    def __init__(self, file: Any, summary: BatchSummary, progress: Any) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._closed = False
        self.summary = summary
        self._progress = progress

    def write(self, line: str, ok: bool) -> None:
        with self._lock:
            if self._closed:
                return
            self._file.write(line)
            self._file.flush()
            field = "succeeded" if ok else "failed"
            self.summary = attrs.evolve(self.summary, **{field: getattr(self.summary, field) + 1})
            if self._progress is not None:  # under the lock: one progress line at a time
                self._progress(self.summary)

    def close(self, timeout: float = 0.5) -> None:
        """Stop all further writes (waiting ``timeout`` at most for one in progress)."""
        acquired = self._lock.acquire(timeout=timeout)
        self._closed = True
        if acquired:
            self._lock.release()


def _run_one(client: Any, request: BatchRequest) -> Tuple[str, bool]:
    """Send one request: its output line and whether its status is below 400."""
    custom_id = request.custom_id
    try:
        answer = client.request(request.method, path_for(request.url), json=request.body)
    except APIStatusError as exc:  # any HTTP answer (also a redirect not followed)
        line = response_line(custom_id, exc.status_code, exc.request_id, exc.body)
        return line, exc.status_code < 400
    except APITimeoutError as exc:
        return error_line(custom_id, "timeout", str(exc)), False
    except ModelNotAllowedError as exc:
        return error_line(custom_id, "model_not_allowed", str(exc)), False
    except (ProviderDataError, ValueError) as exc:
        return error_line(custom_id, "invalid_request", str(exc)), False
    except PassthroughError as exc:
        return error_line(custom_id, "connection_error", str(exc)), False
    try:
        body: Any = answer.json()
    except PassthroughError:
        body = answer.text
    status = answer.http.status_code
    return response_line(custom_id, status, answer.http.request_id, body), status < 400


def _worker(client: Any, items: queue.Queue[Item], writer: _Writer, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            _, item = items.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, BadLine):
            writer.write(error_line(item.custom_id, item.code, str(item)), False)
            continue
        try:
            line, ok = _run_one(client, item)
        except Exception as exc:  # never lose a line to a surprise: record it
            line, ok = error_line(item.custom_id, "internal_error", type(exc).__name__), False
        writer.write(line, ok)


def _items(input_path: str, done: Any) -> Tuple[List[Item], int, int]:
    """The work to do, the number of input lines, and how many are skipped."""
    items: List[Item] = []
    total = skipped = 0
    seen: set[str] = set()
    for number, text in read_input(input_path):
        total += 1
        try:
            request: Union[BatchRequest, BadLine] = parse_line(text, number)
        except BadLine as bad:
            request = bad
        if isinstance(request, BatchRequest):
            if request.custom_id in seen:
                request = BadLine(
                    "duplicate_custom_id",
                    f"line {number}: custom_id {request.custom_id!r} was used before",
                    request.custom_id,
                )
            else:
                seen.add(request.custom_id)
                if done.get(request.custom_id):
                    skipped += 1
                    continue
        items.append((number, request))
    return items, total, skipped


def run_batch(
    client: Any,
    input_path: str,
    output_path: str,
    *,
    concurrency: int = 8,
    resume: bool = False,
    progress: Optional[Callable[[BatchSummary], None]] = None,
) -> BatchSummary:
    """Run the requests of an OpenAI Batch API input file; write the output file.

    Each line's ``url`` maps ``/v1/X`` to ``{api}/X``; other paths follow
    :meth:`PassthroughClient.request`'s rules. ``concurrency`` threads share
    ``client``. Without ``resume`` the output file is replaced; with it,
    ``custom_id``\\ s whose last output line has a status below 400 are skipped and
    the others run again, their new lines appended (a half-written last line from
    a crash is completed or cut off first). ``progress`` is called with a
    :class:`BatchSummary` after each line (from worker threads). Raises ``ValueError``
    for a bad ``concurrency``, ``OSError`` when a file cannot be read or written,
    and ``KeyboardInterrupt`` after stopping cleanly (every written line intact).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency: must be a whole number >= 1")
    done = prepare_output(output_path) if resume else {}
    items, total, skipped = _items(input_path, done)
    work: queue.Queue[Item] = queue.Queue()
    for item in items:
        work.put(item)
    with open(output_path, "a" if resume else "w", encoding="utf-8") as file:
        writer = _Writer(file, BatchSummary(total=total, skipped=skipped), progress)
        _run_threads(client, work, writer, min(concurrency, max(len(items), 1)))
    return writer.summary


def _run_threads(client: Any, work: queue.Queue[Item], writer: _Writer, count: int) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_worker, args=(client, work, writer, stop), name=f"batch-{i}", daemon=True
        )
        for i in range(count)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)  # short waits: Ctrl-C reaches this thread at once
    except BaseException:
        stop.set()
        writer.close()
        raise
