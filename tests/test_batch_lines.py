"""The pure part of the batch runner: input lines, output lines, resuming a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from passthrough_client._batch_lines import (
    BadLine,
    done_ids,
    error_line,
    parse_line,
    path_for,
    prepare_output,
    response_line,
)

GOOD = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"x": 1}}


def test_a_good_line_parses() -> None:
    """The four fields of the Batch API input format."""
    request = parse_line(json.dumps(GOOD), 1)
    assert (
        request.custom_id,
        request.method,
        request.url,
        request.body,
    ) == ("a", "POST", "/v1/chat/completions", {"x": 1})


@pytest.mark.parametrize(
    ("text", "code", "custom_id"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_request", None),
        (json.dumps({**GOOD, "custom_id": ""}), "invalid_request", None),
        (json.dumps({k: v for k, v in GOOD.items() if k != "custom_id"}), "invalid_request", None),
        (json.dumps({**GOOD, "method": "FETCH"}), "invalid_request", "a"),
        (json.dumps({**GOOD, "url": 5}), "invalid_url", "a"),
        (json.dumps({**GOOD, "url": "https://elsewhere.example/v1/x"}), "invalid_url", "a"),
        (json.dumps({**GOOD, "url": "/v1/../../admin"}), "invalid_url", "a"),
        (json.dumps({**GOOD, "url": "/v1/%2e%2e/admin"}), "invalid_url", "a"),
        (json.dumps({**GOOD, "body": [1]}), "invalid_request", "a"),
    ],
)
def test_malformed_lines_say_what_is_wrong(text: str, code: str, custom_id: object) -> None:
    """Each malformed line gives a code, a message naming the line, and its custom_id."""
    with pytest.raises(BadLine) as caught:
        parse_line(text, 7)
    assert (code, custom_id) == (caught.value.code, caught.value.custom_id)
    assert "line 7" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "path"),
    [("/v1/chat/completions", "chat/completions"), ("/v1/embeddings", "embeddings"),
     ("/tokenize", "/tokenize"), ("rerank", "rerank")],
)  # fmt: skip
def test_v1_urls_map_under_the_api(url: str, path: str) -> None:
    """``/v1/X`` becomes ``X`` (under ``{api}``); other paths are left to ``request()``."""
    assert path == path_for(url)


def test_output_lines_have_the_batch_api_shape() -> None:
    """One JSON object per line with id, custom_id, response and error."""
    ok = json.loads(response_line("a", 200, "r1", {"k": 1}))
    assert {"custom_id", "id", "response", "error"} == set(ok)
    assert ok["response"] == {"status_code": 200, "request_id": "r1", "body": {"k": 1}}
    assert ok["error"] is None and ok["id"].startswith("batch_req_")
    bad = json.loads(error_line("b", "timeout", "slow"))
    assert (bad["response"], bad["error"]) == (None, {"code": "timeout", "message": "slow"})


def test_the_last_line_of_an_id_decides() -> None:
    """A failure followed by a success is done; a success followed by a failure is not."""
    lines = [
        response_line("a", 500, None, {}),
        response_line("a", 200, None, {}),
        response_line("b", 200, None, {}),
        error_line("b", "timeout", "t"),
        response_line("c", 404, None, {}),
        "garbage",
    ]
    assert done_ids([ln.encode() for ln in lines]) == {"a": True, "b": False, "c": False}


def test_a_half_written_last_line_is_cut_off(tmp_path: Path) -> None:
    """A crash mid-line: the partial line is dropped so the next line starts cleanly."""
    out = tmp_path / "out.jsonl"
    whole = response_line("a", 200, None, {"k": 1})
    out.write_text(whole + response_line("b", 200, None, {})[:25], encoding="utf-8")
    assert prepare_output(str(out)) == {"a": True}
    assert whole == out.read_text(encoding="utf-8")


def test_a_whole_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    """A complete object missing only its newline is kept and terminated."""
    out = tmp_path / "out.jsonl"
    line = response_line("a", 200, None, {})
    out.write_text(line.rstrip("\n"), encoding="utf-8")
    assert prepare_output(str(out)) == {"a": True}
    assert line == out.read_text(encoding="utf-8")


def test_no_output_yet_means_nothing_done(tmp_path: Path) -> None:
    """Resuming without an output file runs everything."""
    assert prepare_output(str(tmp_path / "missing.jsonl")) == {}
