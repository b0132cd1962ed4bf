"""Tests for passthrough_client.testing.FakeUpstream, with standard-library clients only."""

from __future__ import annotations

import ast
import gzip
import http.client
import json
import pathlib
import socket
import ssl
import threading
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple, Union

import pytest
import trustme

from passthrough_client.testing import FakeUpstream, RecordedHeaders, Reply

TIMEOUT = 5.0


@pytest.fixture(name="upstream")
def fixture_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


def connect(upstream: FakeUpstream, timeout: float = TIMEOUT) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(upstream.host, upstream.port, timeout=timeout)


def call(
    upstream: FakeUpstream,
    method: str,
    path: str,
    body: Optional[Dict[str, Any]] = None,
    headers: Optional[Dict[str, str]] = None,
) -> Tuple[int, Dict[str, str], bytes]:
    conn = connect(upstream)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(upstream: FakeUpstream, path: str, body: Dict[str, Any]) -> Any:
    status, _, data = call(upstream, "POST", path, body)
    assert status == 200
    return json.loads(data)


def sse_data(raw: bytes) -> List[str]:
    return [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]


def raw_exchange(upstream: FakeUpstream, request: bytes) -> bytes:
    """Send ``request`` over a raw socket and read until the server closes."""
    with socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        chunks: List[bytes] = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def http_request(path: str, body: bytes = b"", *, close: bool = True) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


def chat_body(content: Any, **extra: Any) -> Dict[str, Any]:
    return {"model": "m1", "messages": [{"role": "user", "content": content}], **extra}


# -- default routes --------------------------------------------------------------------


def test_models_lists_configured_models_in_order() -> None:
    """GET /v1/models lists the configured models in their order, OpenAI-shaped."""
    with FakeUpstream(models=["b", "a"]) as upstream:
        status, _, data = call(upstream, "GET", "/v1/models")
    entry = {"object": "model", "created": 0, "owned_by": "fake-upstream"}
    expected = {"object": "list", "data": [{"id": "b", **entry}, {"id": "a", **entry}]}
    assert (200, expected) == (status, json.loads(data))


def test_chat_echoes_last_message_with_usage() -> None:
    """A chat completion echoes the last message; usage counts words."""
    with FakeUpstream() as upstream:
        messages = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi there"},
        ]
        body = post_json(upstream, "/v1/chat/completions", {"model": "m1", "messages": messages})
    choice = {"index": 0, "message": {"role": "assistant", "content": "hi there"}}
    assert [{**choice, "finish_reason": "stop"}] == body["choices"]
    assert (body["object"], body["model"]) == ("chat.completion", "m1")
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    assert isinstance(body["id"], str) and isinstance(body["created"], int)


def test_chat_joins_text_parts_of_list_content(upstream: FakeUpstream) -> None:
    """List content is echoed as its text parts joined."""
    parts = [{"type": "text", "text": "a "}, {"type": "image_url"}, {"type": "text", "text": "b"}]
    body = post_json(upstream, "/v1/chat/completions", chat_body(parts))
    assert body["choices"][0]["message"]["content"] == "a b"


@pytest.mark.parametrize("text", ["Hello big world", "  lead and trail  ", "one", "", "a\nb\tc"])
def test_chat_stream_sends_one_chunk_per_word_that_join_to_the_text(
    upstream: FakeUpstream, text: str
) -> None:
    """Streamed deltas join to the text exactly; role first, then stop, then [DONE]."""
    status, headers, raw = call(
        upstream, "POST", "/v1/chat/completions", chat_body(text, stream=True)
    )
    *chunks, done = sse_data(raw)
    parsed = [json.loads(c) for c in chunks]
    deltas = [p["choices"][0]["delta"] for p in parsed]
    assert (status, done) == (200, "[DONE]")
    assert headers["Content-Type"] == "text/event-stream"
    assert deltas[0]["role"] == "assistant" and all("role" not in d for d in deltas[1:])
    assert text == "".join(d.get("content", "") for d in deltas)
    assert max(1, len(text.split())) == len(deltas) - 1
    assert (deltas[-1], parsed[-1]["choices"][0]["finish_reason"]) == ({}, "stop")
    assert {"chat.completion.chunk"} == {p["object"] for p in parsed}


@pytest.mark.parametrize("include", [True, False])
def test_chat_stream_usage_chunk_only_when_asked(upstream: FakeUpstream, include: bool) -> None:
    """A usage chunk with empty choices comes before [DONE] only with include_usage."""
    body = chat_body("a b c", stream=True, stream_options={"include_usage": include})
    _, _, raw = call(upstream, "POST", "/v1/chat/completions", body)
    last = json.loads(sse_data(raw)[-2])
    usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert include == (last["choices"] == [] and last.get("usage") == usage)


def test_stream_writes_each_event_as_its_own_chunk(upstream: FakeUpstream) -> None:
    """Each SSE event is one HTTP chunk, and the body ends with the zero chunk."""
    body = json.dumps(chat_body("x y", stream=True)).encode()
    raw = raw_exchange(upstream, http_request("/v1/chat/completions", body))
    _, _, payload = raw.partition(b"\r\n\r\n")
    chunks = []
    while payload:
        size_line, _, payload = payload.partition(b"\r\n")
        size = int(size_line, 16)
        chunks.append(payload[:size])
        payload = payload[size + 2 :]
    assert chunks[-1] == b""
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in chunks[:-1])
    assert chunks[-2] == b"data: [DONE]\n\n"


def test_completions_echo_the_prompt(upstream: FakeUpstream) -> None:
    """A completion's text is the prompt; a list of prompts gives one choice each."""
    one = post_json(upstream, "/v1/completions", {"model": "m1", "prompt": "say this"})
    two = post_json(upstream, "/v1/completions", {"model": "m1", "prompt": ["a", "b c"]})
    assert (one["object"], one["choices"][0]["text"]) == ("text_completion", "say this")
    assert [(c["index"], c["text"]) for c in two["choices"]] == [(0, "a"), (1, "b c")]
    assert one["choices"][0]["finish_reason"] == "stop"


def test_completions_stream_word_by_word(upstream: FakeUpstream) -> None:
    """Streamed completion chunks carry one word each and end with stop and [DONE]."""
    body = {"model": "m1", "prompt": "to be or", "stream": True}
    _, _, raw = call(upstream, "POST", "/v1/completions", body)
    *chunks, done = sse_data(raw)
    choices = [json.loads(c)["choices"][0] for c in chunks]
    assert [c["text"] for c in choices] == ["to", " be", " or", ""]
    assert (choices[-1]["finish_reason"], done) == ("stop", "[DONE]")


def test_embeddings_are_deterministic_8_dim_vectors(upstream: FakeUpstream) -> None:
    """Embeddings are 8 floats per input, the same for the same text, different otherwise."""
    body = post_json(upstream, "/v1/embeddings", {"model": "e", "input": ["a", "b", "a"]})
    single = post_json(upstream, "/v1/embeddings", {"model": "e", "input": "a"})
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert {8} == {len(v) for v in vectors} and vectors[0] == vectors[2] != vectors[1]
    assert vectors[0] == single["data"][0]["embedding"]
    assert (body["object"], body["data"][0]["object"], body["model"]) == ("list", "embedding", "e")
    assert all(isinstance(x, float) and -1 <= x <= 1 for x in vectors[0])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("GET", "/v2/models", None, 404, "not_found"),
        ("GET", "/models", None, 404, "not_found"),
        ("GET", "/v1/chat/completions", None, 405, "method_not_allowed"),
        ("POST", "/v1/embeddings", {"model": "e", "input": 3}, 400, "invalid_request_error"),
        ("POST", "/v1/chat/completions", {"model": "m"}, 400, "invalid_request_error"),
    ],
)
def test_bad_requests_get_openai_style_errors(
    upstream: FakeUpstream, method: str, path: str, body: Any, status: int, kind: str
) -> None:
    """Unknown paths, wrong methods and bad bodies get an error object."""
    got_status, _, data = call(upstream, method, path, body)
    error = json.loads(data)["error"]
    assert (status, kind) == (got_status, error["type"])
    assert isinstance(error["message"], str) and error["message"]


def test_prefix_moves_every_route_under_it() -> None:
    """With a prefix, routes live under it, and the bare /v1 path is a 404."""
    with FakeUpstream(prefix="/openai/") as upstream:
        assert upstream.url == f"http://127.0.0.1:{upstream.port}/openai"
        assert call(upstream, "GET", "/openai/v1/models")[0] == 200
        assert call(upstream, "GET", "/v1/models")[0] == 404


def test_url_has_no_trailing_slash_and_https_with_tls(tls: Dict[str, Any]) -> None:
    """The URL is scheme://host:port, https when an ssl_context is given."""
    with FakeUpstream() as plain, FakeUpstream(ssl_context=tls["server"]) as secure:
        assert f"http://127.0.0.1:{plain.port}" == plain.url
        assert f"https://127.0.0.1:{secure.port}" == secure.url


def test_port_before_start_is_an_error() -> None:
    """Asking for the port before start() raises RuntimeError."""
    with pytest.raises(RuntimeError):
        _ = FakeUpstream().port


# -- streaming as it happens -----------------------------------------------------------


def read_event(response: http.client.HTTPResponse) -> bytes:
    """Read one SSE event (up to its blank line) off a streamed response."""
    lines: List[bytes] = []
    while True:
        line = response.readline()
        if line in (b"\n", b""):
            return b"".join(lines)
        lines.append(line)


def test_stream_arrives_while_the_server_still_waits_and_a_close_is_counted() -> None:
    """The first event is readable before the next is written; leaving counts a disconnect."""
    with FakeUpstream(stream_delay=30.0) as upstream:
        conn = connect(upstream)
        conn.request("POST", "/v1/chat/completions", json.dumps(chat_body("a b c", stream=True)))
        response = conn.getresponse()
        first = json.loads(read_event(response)[6:])
        assert first["choices"][0]["delta"]["content"] == "a"
        assert upstream.events_sent == 1
        conn.close()
        assert upstream.wait_for_disconnect(TIMEOUT)
        assert (upstream.events_sent, upstream.disconnects_mid_response) == (1, 1)


# -- recording ---------------------------------------------------------------------------


def test_requests_are_recorded_with_path_query_body_and_json(upstream: FakeUpstream) -> None:
    """Method, path with query, raw body and parsed JSON are recorded."""
    call(upstream, "POST", "/v1/embeddings?api-version=2", {"model": "e", "input": "x"})
    call(upstream, "GET", "/v1/models")
    first, second = upstream.requests
    assert (first.method, first.path) == ("POST", "/v1/embeddings?api-version=2")
    assert ({"model": "e", "input": "x"}, first.json) == (json.loads(first.body), first.json)
    assert (second.body, second.json) == (b"", None)


def test_recorded_headers_are_case_insensitive_and_iterate_as_sent(
    upstream: FakeUpstream,
) -> None:
    """Header look-up ignores case; iteration yields (name, value) pairs as sent."""
    call(upstream, "GET", "/v1/models", headers={"AuThorization": "Bearer k", "X-Two": "a "})
    headers = upstream.requests[0].headers
    assert "Bearer k" == headers.get("authorization") == headers["AUTHORIZATION"]
    assert ("AuThorization", "Bearer k") in list(headers)
    assert dict(headers)["X-Two"] == "a " and "x-two" in headers
    assert (headers.get("missing"), headers.get("missing", "d")) == (None, "d")


def test_recorded_headers_keep_repeated_names() -> None:
    """get() returns the first value and get_all() every value of a repeated header."""
    headers = RecordedHeaders([("A", "1"), ("b", "2"), ("a", "3")])
    assert (headers.get("a"), headers.get_all("A"), len(headers)) == ("1", ["1", "3"], 3)
    with pytest.raises(KeyError):
        headers["c"]


def test_keep_alive_requests_share_a_connection_id(upstream: FakeUpstream) -> None:
    """Requests over one persistent connection share an id; a new connection gets another."""
    conn = connect(upstream)
    for _ in range(3):
        conn.request("GET", "/v1/models")
        conn.getresponse().read()
    conn.close()
    call(upstream, "GET", "/v1/models")
    assert [r.connection_id for r in upstream.requests] == [1, 1, 1, 2]
    assert upstream.connections_opened == 2


def test_clear_forgets_recorded_requests(upstream: FakeUpstream) -> None:
    """clear() empties the request list, and recording goes on afterwards."""
    call(upstream, "GET", "/v1/models")
    upstream.clear()
    assert upstream.requests == []
    call(upstream, "GET", "/v1/models?again")
    assert [r.path for r in upstream.requests] == ["/v1/models?again"]


def test_concurrent_clients_are_all_served_and_recorded(upstream: FakeUpstream) -> None:
    """16 threads with keep-alive connections are all answered and recorded."""
    errors: List[BaseException] = []

    def worker(n: int) -> None:
        conn = connect(upstream)
        try:
            for i in range(25):
                body = json.dumps(chat_body(f"t{n} c{i}"))
                conn.request("POST", "/v1/chat/completions", body)
                reply = json.loads(conn.getresponse().read())
                assert f"t{n} c{i}" == reply["choices"][0]["message"]["content"]
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert (errors, len(upstream.requests)) == ([], 400)
    assert upstream.connections_opened == 16


# -- scripted replies ----------------------------------------------------------------------


def test_json_reply_sets_status_headers_and_body(upstream: FakeUpstream) -> None:
    """Reply.json sends its status, its headers (overriding defaults) and a JSON body."""
    headers = {"Retry-After": "1", "content-type": "application/problem+json"}
    upstream.enqueue(Reply.json(429, {"error": {"message": "slow"}}, headers=headers))
    status, got, data = call(upstream, "GET", "/v1/models")
    assert (status, json.loads(data)) == (429, {"error": {"message": "slow"}})
    assert (got["Retry-After"], got["content-type"]) == ("1", "application/problem+json")
    assert "Content-Type" not in got and str(len(data)) == got["Content-Length"]


def test_json_reply_can_be_gzipped(upstream: FakeUpstream) -> None:
    """gzip=True compresses the body and says so in Content-Encoding."""
    upstream.enqueue(Reply.json(body={"ok": True}, gzip=True))
    _, headers, data = call(upstream, "GET", "/v1/models")
    assert (
        headers["Content-Encoding"],
        json.loads(gzip.decompress(data)),
    ) == ("gzip", {"ok": True})


def test_text_reply_sends_text_with_its_content_type(upstream: FakeUpstream) -> None:
    """Reply.text sends the text, UTF-8 encoded, with the given content type."""
    upstream.enqueue(Reply.text(502, "bäd gateway", content_type="text/html"))
    status, headers, data = call(upstream, "GET", "/v1/models")
    assert (status, headers["Content-Type"], data.decode()) == (502, "text/html", "bäd gateway")


def test_sse_reply_sends_pieces_verbatim_and_keeps_the_connection(upstream: FakeUpstream) -> None:
    """Chunked Reply.sse delivers the exact bytes, and the connection is reused after it."""
    events: List[Union[str, bytes]] = [
        'data: {"a": 1}\r\n\r\n',
        b": keep-alive\n",
        "data:[DONE]\n\n",
    ]
    upstream.enqueue(Reply.sse(events))
    conn = connect(upstream)
    conn.request("POST", "/v1/chat/completions", b"{}")
    response = conn.getresponse()
    assert response.read() == b'data: {"a": 1}\r\n\r\n: keep-alive\ndata:[DONE]\n\n'
    conn.request("GET", "/v1/models")
    assert conn.getresponse().status == 200
    conn.close()
    assert [r.connection_id for r in upstream.requests] == [1, 1]


def test_sse_reply_without_chunking_is_close_delimited(upstream: FakeUpstream) -> None:
    """chunked=False sends no framing: Connection: close and the body until EOF."""
    upstream.enqueue(Reply.sse(["data: 1\n\n", "data: 2\n\n"], chunked=False))
    raw = raw_exchange(upstream, http_request("/v1/chat/completions", close=False))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == b"data: 1\n\ndata: 2\n\n"
    assert b"Connection: close" in head and b"Content-Length" not in head
    assert b"Transfer-Encoding" not in head


def test_sse_reply_dropped_before_its_end_is_incomplete(upstream: FakeUpstream) -> None:
    """end='drop' closes the connection without the terminating chunk."""
    upstream.enqueue(Reply.sse(["data: 1\n\n"], end="drop"))
    raw = raw_exchange(upstream, http_request("/v1/chat/completions", close=False))
    assert raw.endswith(b"\r\n\r\n9\r\ndata: 1\n\n\r\n")


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece


def test_sse_reply_ending_in_reset_aborts_the_connection(upstream: FakeUpstream) -> None:
    """end='reset' ends the stream with a TCP reset."""
    upstream.enqueue(Reply.sse(["data: 1\n\n"], end="reset"))
    with socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT) as sock:
        sock.sendall(http_request("/v1/chat/completions", close=False))
        with pytest.raises(ConnectionResetError):
            read_until_closed(sock)


def test_sse_reply_ending_in_hang_sends_nothing_more(upstream: FakeUpstream) -> None:
    """end='hang' keeps the connection open and silent after the last piece."""
    upstream.enqueue(Reply.sse(["data: 1\n\n"], end="hang"))
    conn = connect(upstream, timeout=0.3)
    conn.request("POST", "/v1/chat/completions", b"{}")
    response = conn.getresponse()
    assert response.readline() == b"data: 1\n"
    response.readline()
    with pytest.raises(socket.timeout):
        response.readline()
    conn.close()
    assert upstream.wait_for_disconnect(TIMEOUT)


def test_raw_reply_writes_exact_bytes_then_closes(upstream: FakeUpstream) -> None:
    """Reply.raw sends exactly its bytes and closes the connection."""
    upstream.enqueue(Reply.raw(b"NOT HTTP AT ALL\x00\xff"))
    assert raw_exchange(upstream, http_request("/x", close=False)) == b"NOT HTTP AT ALL\x00\xff"


def test_raw_reply_can_keep_the_connection_open(upstream: FakeUpstream) -> None:
    """With close=False the connection serves the next request after the raw bytes."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    upstream.enqueue(Reply.raw(answer, close=False))
    conn = connect(upstream)
    for expected in (b"hi", b'{"object": "list"'):
        conn.request("GET", "/v1/models")
        assert conn.getresponse().read().startswith(expected)
    conn.close()
    assert upstream.connections_opened == 1


@pytest.mark.parametrize(("reset", "error"), [(False, None), (True, ConnectionResetError)])
def test_drop_reply_closes_after_reading_the_request(
    upstream: FakeUpstream, reset: bool, error: Optional[type]
) -> None:
    """Reply.drop answers nothing: a clean close, or a reset with reset=True."""
    upstream.enqueue(Reply.drop(reset=reset))
    with socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT) as sock:
        sock.sendall(http_request("/v1/chat/completions", b'{"n": 1}', close=False))
        if error is None:
            assert read_until_closed(sock) == b""
        else:
            with pytest.raises(error):
                read_until_closed(sock)
    assert upstream.requests[0].json == {"n": 1}


def test_hang_reply_answers_nothing_then_closes(upstream: FakeUpstream) -> None:
    """Reply.hang sends nothing for its duration, then closes the connection."""
    upstream.enqueue(Reply.hang(0.05))
    assert raw_exchange(upstream, http_request("/v1/models", close=False)) == b""


def test_client_leaving_a_hang_is_counted(upstream: FakeUpstream) -> None:
    """A client that times out on a hanging reply and closes is seen as a disconnect."""
    upstream.enqueue(Reply.hang(60))
    conn = connect(upstream, timeout=0.2)
    conn.request("GET", "/v1/models")
    with pytest.raises(socket.timeout):
        conn.getresponse()
    conn.close()
    assert upstream.wait_for_disconnect(TIMEOUT)


def test_trickle_reply_delivers_the_whole_body(upstream: FakeUpstream) -> None:
    """Reply.trickle sends a valid head and, byte by byte, the whole body."""
    upstream.enqueue(Reply.trickle(b'{"ok": 1}', 0.001))
    status, headers, data = call(upstream, "GET", "/v1/models")
    assert (status, headers["Content-Length"], data) == (200, "9", b'{"ok": 1}')


def test_trickle_stops_when_the_client_leaves(upstream: FakeUpstream) -> None:
    """A client leaving a trickled body is counted as a disconnect."""
    upstream.enqueue(Reply.trickle(b"x" * 1000, 0.01))
    conn = connect(upstream)
    conn.request("GET", "/v1/models")
    assert conn.getresponse().read(1) == b"x"
    conn.close()
    assert upstream.wait_for_disconnect(TIMEOUT)


def test_redirect_reply_has_location(upstream: FakeUpstream) -> None:
    """Reply.redirect sends the 3xx status, a Location header and an empty body."""
    upstream.enqueue(Reply.redirect(307, "/elsewhere/v1/models"))
    status, headers, data = call(upstream, "GET", "/v1/models")
    assert (status, headers["Location"], data) == (307, "/elsewhere/v1/models", b"")


# -- the queue ---------------------------------------------------------------------------


def test_queued_replies_are_used_first_in_first_out(upstream: FakeUpstream) -> None:
    """Queued replies answer the next requests in order, then the default routes resume."""
    upstream.enqueue(Reply.text(201, "one"))
    upstream.enqueue(Reply.text(202, "two"))
    statuses = [call(upstream, "GET", "/v1/models")[0] for _ in range(3)]
    assert statuses == [201, 202, 200]


def test_path_filtered_reply_waits_for_its_path(upstream: FakeUpstream) -> None:
    """A reply queued for a path is skipped by requests to other paths."""
    upstream.enqueue(Reply.text(503, "busy"), path="/v1/embeddings")
    models = call(upstream, "GET", "/v1/models")[0]
    embeddings = call(upstream, "POST", "/v1/embeddings", {"model": "e", "input": "x"})[0]
    assert (models, embeddings) == (200, 503)


def test_path_filter_ignores_query_and_prefix() -> None:
    """A path filter matches the path without query, with or without the prefix."""
    with FakeUpstream(prefix="/p") as upstream:
        upstream.enqueue(Reply.text(503, "a"), path="/v1/models")
        upstream.enqueue(Reply.text(504, "b"), path="/p/v1/models")
        statuses = [call(upstream, "GET", "/p/v1/models?x=1")[0] for _ in range(2)]
    assert statuses == [503, 504]


def test_times_repeats_a_reply(upstream: FakeUpstream) -> None:
    """times=N answers N requests; pending_replies counts down."""
    upstream.enqueue(Reply.text(500, "x"), times=2)
    assert upstream.pending_replies == 2
    statuses = [call(upstream, "GET", "/v1/models")[0] for _ in range(3)]
    assert (statuses, upstream.pending_replies) == ([500, 500, 200], 0)


def test_times_below_one_is_rejected(upstream: FakeUpstream) -> None:
    """enqueue(times=0) raises ValueError."""
    with pytest.raises(ValueError):
        upstream.enqueue(Reply.drop(), times=0)


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(name="ca", scope="module")
def fixture_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="tls")
def fixture_tls(ca: trustme.CA) -> Dict[str, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return {"server": server, "client": client}


def https_models(upstream: FakeUpstream, context: ssl.SSLContext) -> int:
    conn = http.client.HTTPSConnection(
        upstream.host, upstream.port, context=context, timeout=TIMEOUT
    )
    try:
        conn.request("GET", "/v1/models")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_for_tls_failure(upstream: FakeUpstream) -> List[str]:
    done = threading.Event()
    for _ in range(500):
        if upstream.tls_failures or done.wait(0.01):
            break
    return upstream.tls_failures


def test_tls_records_version_and_cipher(tls: Dict[str, ssl.SSLContext]) -> None:
    """Over TLS each request records the negotiated version and cipher, no client cert."""
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        assert https_models(upstream, tls["client"]) == 200
        request = upstream.requests[0]
    assert request.tls_version in ("TLSv1.2", "TLSv1.3")
    assert isinstance(request.tls_cipher, str) and request.tls_cipher
    assert request.client_cert_subject is None


def test_plain_requests_have_no_tls_details(upstream: FakeUpstream) -> None:
    """Without TLS the TLS fields are None."""
    call(upstream, "GET", "/v1/models")
    request = upstream.requests[0]
    assert (
        request.tls_version,
        request.tls_cipher,
        request.client_cert_subject,
    ) == (None, None, None)


def test_tls_records_client_certificate_subject(
    ca: trustme.CA, tls: Dict[str, ssl.SSLContext]
) -> None:
    """With a client certificate its subject is recorded, CN last."""
    tls["server"].verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(tls["server"])
    ca.issue_cert("client@example.org", common_name="alice").configure_cert(tls["client"])
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        assert https_models(upstream, tls["client"]) == 200
        subject = upstream.requests[0].client_cert_subject
    assert subject is not None and subject.startswith("O=") and subject.endswith(",CN=alice")


def test_failed_handshake_is_recorded_and_does_not_stop_serving(
    tls: Dict[str, ssl.SSLContext],
) -> None:
    """A client that rejects the certificate is listed in tls_failures; others still work."""
    untrusting = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        with pytest.raises(ssl.SSLError):
            https_models(upstream, untrusting)
        failures = wait_for_tls_failure(upstream)
        assert https_models(upstream, tls["client"]) == 200
    assert len(failures) == 1 and failures[0]


def test_stalled_handshake_does_not_block_other_clients(tls: Dict[str, ssl.SSLContext]) -> None:
    """A connection that never starts its handshake does not hold up the next client."""
    with (
        FakeUpstream(ssl_context=tls["server"]) as upstream,
        socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT),
    ):
        assert https_models(upstream, tls["client"]) == 200


def test_client_leaving_a_tls_stream_is_counted(tls: Dict[str, ssl.SSLContext]) -> None:
    """Over TLS a client's close is noticed at the next write."""
    with FakeUpstream(ssl_context=tls["server"]) as upstream:
        upstream.enqueue(Reply.sse(["data: 1\n\n"] * 200, delay=0.01))
        conn = http.client.HTTPSConnection(
            upstream.host, upstream.port, context=tls["client"], timeout=TIMEOUT
        )
        conn.request("POST", "/v1/chat/completions", b"{}")
        assert conn.getresponse().readline() == b"data: 1\n"
        conn.close()
        assert upstream.wait_for_disconnect(TIMEOUT)


# -- robustness and shutdown -------------------------------------------------------------


def test_garbage_request_does_not_stop_the_server(upstream: FakeUpstream) -> None:
    """Bytes that are not HTTP get an error or a close, and the server keeps serving."""
    answer = raw_exchange(upstream, b"\x16\x03\x01 definitely not http\r\n\r\n")
    assert answer == b"" or b"400" in answer
    assert call(upstream, "GET", "/v1/models")[0] == 200


def stop_in_thread(upstream: FakeUpstream) -> bool:
    """Call stop() in a thread; True when it returned within the guard time."""
    thread = threading.Thread(target=upstream.stop)
    thread.start()
    thread.join(timeout=3.0)
    return not thread.is_alive()


@pytest.mark.parametrize(
    "reply", [None, Reply.hang(60), Reply.trickle(b"x" * 100, 0.5), Reply.sse(["a"], end="hang")]
)
def test_stop_returns_with_connections_open(reply: Optional[Reply]) -> None:
    """stop() closes open connections (idle, hanging, trickling) instead of waiting."""
    upstream = FakeUpstream().start()
    if reply is not None:
        upstream.enqueue(reply)
    conn = connect(upstream)
    conn.request("GET", "/v1/models")
    if reply is None:
        conn.getresponse().read()  # leave the keep-alive connection idle
    else:
        assert upstream.wait_for_requests(1, TIMEOUT)
    try:
        assert stop_in_thread(upstream)
    finally:
        conn.close()
    with pytest.raises(OSError):
        socket.create_connection((upstream.host, upstream.port), timeout=TIMEOUT)


def test_wait_for_requests_times_out_false(upstream: FakeUpstream) -> None:
    """wait_for_requests returns False when the count is not reached in time."""
    assert upstream.wait_for_requests(0, 0.01)
    assert not upstream.wait_for_requests(1, 0.01)


def test_testing_modules_import_only_the_standard_library() -> None:
    """testing.py and its helper import the standard library only (no requests)."""
    package = pathlib.Path(__file__).resolve().parent.parent / "passthrough_client"
    imported: Set[str] = set()
    for name in ("testing.py", "_fake_replies.py"):
        for node in ast.walk(ast.parse((package / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add("." * node.level + (node.module or "").split(".")[0])
    stdlib = {"__future__", "contextlib", "dataclasses", "gzip", "hashlib", "http", "json"}
    stdlib |= {"re", "select", "socket", "socketserver", "ssl", "struct", "threading", "time"}
    assert imported <= stdlib | {"typing", "._fake_replies"}
