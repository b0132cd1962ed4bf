"""The lines of a batch: OpenAI Batch API input and output, pure (no sockets).

Input, one JSON object a line: ``{"custom_id", "method", "url", "body"}``. Output,
one a line: ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error"}`` -- any HTTP answer in ``response`` with ``error: null``; no HTTP answer
(or a malformed input line) gives ``response: null`` and ``error: {"code",
"message"}``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import attrs

from ._paths import check_path

__all__ = [
    "BadLine",
    "BatchRequest",
    "done_ids",
    "error_line",
    "parse_line",
    "path_for",
    "prepare_output",
    "read_input",
    "response_line",
]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@attrs.frozen
class BatchRequest:
    """One valid input line."""

    custom_id: str
    method: str
    url: str
    body: Optional[Dict[str, Any]]


class BadLine(ValueError):
    """A malformed input line: ``code`` and message for its output line."""

    def __init__(self, code: str, message: str, custom_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.custom_id = custom_id


def path_for(url: str) -> str:
    """The ``request()`` path of a line's ``url``: ``/v1/X`` is ``X`` under ``{api}``."""
    if url.startswith("/v1/"):
        return url[len("/v1/") :]
    return url


def parse_line(text: str, number: int) -> BatchRequest:
    """The request of input line ``number``; :class:`BadLine` saying what is wrong."""
    try:
        item = json.loads(text)
    except (ValueError, RecursionError):
        raise BadLine("invalid_json", f"line {number}: not valid JSON") from None
    if not isinstance(item, dict):
        raise BadLine("invalid_request", f"line {number}: expected a JSON object")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise BadLine("invalid_request", f"line {number}: 'custom_id' must be a non-empty string")
    return _checked(item, custom_id, number)


def _checked(item: Dict[str, Any], custom_id: str, number: int) -> BatchRequest:
    method, url, body = item.get("method"), item.get("url"), item.get("body")
    where = f"line {number} (custom_id {custom_id!r})"
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise BadLine(
            "invalid_request", f"{where}: 'method' must be one of {', '.join(METHODS)}", custom_id
        )
    if not isinstance(url, str):
        raise BadLine("invalid_url", f"{where}: 'url' must be a string", custom_id)
    try:
        check_path(path_for(url))
    except ValueError as exc:
        message = f"{where}: 'url' {url[:100]!r} refused: {exc}"
        raise BadLine("invalid_url", message, custom_id) from None
    if body is not None and not isinstance(body, dict):
        raise BadLine("invalid_request", f"{where}: 'body' must be a JSON object", custom_id)
    return BatchRequest(custom_id, method.upper(), url, body)


def read_input(path: str) -> Iterator[Tuple[int, str]]:
    """``(line number, text)`` of each non-blank line of the input file."""
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            text = raw.decode("utf-8", "replace").strip()
            if text:
                yield number, text


def _line(custom_id: Optional[str], response: Any, error: Any) -> str:
    import uuid  # imported on use (about 1.5 ms): only batch runs need it

    record = {
        "id": f"batch_req_{uuid.uuid4().hex}",
        "custom_id": custom_id,
        "response": response,
        "error": error,
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def response_line(
    custom_id: Optional[str], status: int, request_id: Optional[str], body: Any
) -> str:
    """The output line of a request that got an HTTP answer (any status)."""
    response = {"status_code": status, "request_id": request_id, "body": body}
    return _line(custom_id, response, None)


def error_line(custom_id: Optional[str], code: str, message: str) -> str:
    """The output line of a request without an HTTP answer, or of a malformed line."""
    return _line(custom_id, None, {"code": code, "message": message})


def _status_of(record: Any) -> Optional[int]:
    if not isinstance(record, dict) or record.get("error") is not None:
        return None
    response = record.get("response")
    status = response.get("status_code") if isinstance(response, dict) else None
    return status if isinstance(status, int) else None


def done_ids(lines: List[bytes]) -> Dict[str, bool]:
    """For each ``custom_id`` of complete output ``lines``: whether its LAST line is < 400."""
    done: Dict[str, bool] = {}
    for raw in lines:
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            continue  # not ours, or damaged: it decides nothing
        custom_id = record.get("custom_id") if isinstance(record, dict) else None
        if isinstance(custom_id, str):
            status = _status_of(record)
            done[custom_id] = status is not None and status < 400
    return done


def prepare_output(path: str) -> Dict[str, bool]:
    """Read an existing output for resuming and make it safe to append to.

    A last line without its newline (a crash while writing it) is completed when it
    is a whole JSON object, else cut off, so the next line starts on a line of its
    own and every line stays valid JSON. Returns :func:`done_ids` of the file.
    """
    if not os.path.exists(path):
        return {}
    with open(path, "r+b") as file:
        data = file.read()
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last newline: b"" when the file ends with one
        if tail and _is_object(tail):
            file.write(b"\n")
            lines.append(tail)
        elif tail:
            file.truncate(len(data) - len(tail))
    return done_ids([line for line in lines if line.strip()])


def _is_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False
