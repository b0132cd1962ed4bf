"""Notebook display, through IPython's own formatter: short summaries as text and escaped HTML."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator

import pytest
from IPython.core.formatters import DisplayFormatter

from passthrough_client import ChatCompletion, PassthroughClient
from passthrough_client.testing import FakeUpstream

SCRIPT = "<script>alert('x')</script> & more"


def shown(obj: Any) -> Dict[str, str]:
    """What IPython/Jupyter would display for ``obj``: its mime bundle."""
    bundle, _ = DisplayFormatter().format(obj)
    return bundle  # type: ignore[no-any-return]


def cells(html: str) -> Dict[str, str]:
    """The ``label -> value`` rows of a summary table (values still escaped)."""
    return dict(re.findall(r"<th[^>]*>(.*?)</th><td[^>]*>(.*?)</td>", html))


@pytest.fixture(name="client")
def fixture_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    with PassthroughClient(base_url=upstream.url, environ={}) as client:
        yield client


def test_chat_completion_shows_its_summary_as_text(client: PassthroughClient) -> None:
    """A chat reply shows as the short summary, not the attrs repr."""
    reply = client.chat(model="fake-model", messages=[{"role": "user", "content": "hi there"}])
    assert shown(reply)["text/plain"].splitlines() == [
        "ChatCompletion(id='chatcmpl-fake-1', model='fake-model')",
        "  [0] assistant: 'hi there' (finish_reason='stop')",
        "  usage: 2 prompt + 2 completion = 4 tokens",
    ]


def test_chat_completion_html_escapes_the_content(client: PassthroughClient) -> None:
    """The HTML table holds every row, and markup from the service is escaped."""
    reply = client.chat(model="fake-model", messages=[{"role": "user", "content": SCRIPT}])
    html = shown(reply)["text/html"]
    assert "<script>" not in html
    assert cells(html) == {
        "id": "chatcmpl-fake-1",
        "model": "fake-model",
        "[0] assistant": "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more",
        "[0] finish_reason": "stop",
        "usage": "3 prompt + 3 completion = 6 tokens",
    }
    assert "<caption" in html and ">ChatCompletion</caption>" in html


def test_chat_completion_html_lists_tool_calls() -> None:
    """Tool calls get a row each, with name and arguments (escaped)."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":"<b>"}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    reply = ChatCompletion.from_dict({"choices": [{"index": 0, "message": message}]})
    rows = cells(shown(reply)["text/html"])
    assert rows["[0] tool call"] == "f({&quot;a&quot;:&quot;&lt;b&gt;&quot;})"
    assert rows["[0] assistant"] == "None"


def test_completion_embeddings_and_model_show_summaries(client: PassthroughClient) -> None:
    """Completion, EmbeddingsResponse and Model show their summaries as text and HTML."""
    completion = client.completions(model="fake-model", prompt="once upon")
    embeddings = client.embeddings(model="fake-embedder", input=["a", "b"])
    model = client.models()[0]
    assert shown(completion)["text/plain"].startswith("Completion(id='cmpl-fake-1'")
    assert cells(shown(completion)["text/html"])["[0] text"] == "once upon"
    assert shown(embeddings)["text/plain"].splitlines()[0] == (
        "EmbeddingsResponse(model='fake-embedder', 2 embeddings, dimension 8)"
    )
    assert cells(shown(embeddings)["text/html"])["dimension"] == "8"
    assert shown(model) == {
        "text/plain": "Model(id='fake-model', owned_by='fake-upstream')",
        "text/html": shown(model)["text/html"],
    }
    assert cells(shown(model)["text/html"]) == {"id": "fake-model", "owned_by": "fake-upstream"}


def test_displaying_a_stream_does_not_consume_it(
    upstream: FakeUpstream, client: PassthroughClient
) -> None:
    """A displayed Stream shows what it yields and its state; every chunk is still there."""
    stream = client.chat(
        model="fake-model", messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    with stream:
        before = shown(stream)
        shown(stream)
        assert before["text/plain"] == (
            "Stream of ChatCompletionChunk (open, HTTP 200 OK): iterate it or call .collect()"
        )
        assert cells(before["text/html"]) == {
            "yields": "ChatCompletionChunk",
            "state": "open",
            "status": "200 OK",
        }
        assert [c.choices[0].delta.content for c in stream if c.choices][:3] == [
            "one",
            " two",
            " three",
        ]
    assert shown(stream)["text/plain"] == (
        "Stream of ChatCompletionChunk (finished or closed, HTTP 200 OK)"
    )


def test_a_completion_stream_says_it_yields_completions(client: PassthroughClient) -> None:
    """A streamed completions call shows as a stream of Completion."""
    with client.completions(model="fake-model", prompt="a b", stream=True) as stream:
        assert shown(stream)["text/plain"].startswith("Stream of Completion (open")
        assert stream.collect().choices[0].text == "a b"
