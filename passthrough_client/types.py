"""Typed responses of OpenAI-compatible services: chat, completions, embeddings, models.

Every class is a frozen, keyword-only attrs class with the OpenAI field names.
``from_dict`` builds one from a decoded JSON object. It is written by hand, without
cattrs, because it is the streaming hot path. ``to_dict`` gives back the JSON object
that was received, vendor fields included.

Rules on the wire (lenient on what is missing, strict on shape):

- A missing or ``null`` field is ``None`` (lists become an empty tuple, and a missing
  ``index`` is the item's position in its list). Real servers omit ``created``,
  ``object``, ``usage`` and more; that is never an error.
- A value of the wrong kind raises ``InvalidResponseError`` whose message ends with a
  snippet of at most 200 characters of the offending JSON: the top level or a
  choice/message/delta that is not an object, ``choices``/``data``/``tool_calls`` that
  are not lists, a text field that is not a string, a count that is not an integer,
  an ``embedding`` that is neither a list of numbers nor a base64 string. A chat
  choice without ``message`` and an embedding without ``embedding`` are errors too.
- ``created`` may also arrive as a float (a few servers send one): it is truncated to
  an ``int``. ``logprobs`` is kept as the received JSON value.

``==`` and ``hash`` compare the typed fields only; the received object is kept aside,
out of ``repr``. An object built directly, or changed with ``attrs.evolve``, has no
received object: its ``to_dict()`` is built from its fields, leaving out ``None``.
Lists are stored as tuples: pass tuples when building objects directly.

This module is the front door of the response types and holds those of completions,
embeddings and models; chat completions are in ``_chat_types``, their stream chunks in
``_chunk_types`` and the shape checks in ``_wire``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

import attrs

from ._chat_types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionMessage,
    ToolCall,
    ToolCallFunction,
    Usage,
    read_usage,
    usage_lines,
    usage_rows,
)
from ._chunk_types import ChatCompletionChunk, ChoiceDelta, ChoiceDeltaToolCall, ChunkChoice
from ._display import Rows, displayed, shown
from ._http_info import APIResponse, HTTPInfo, WithHTTP
from ._wire import (
    Wire,
    as_object,
    keep_raw,
    kind_of,
    read_created,
    read_head,
    read_index,
    read_items,
    read_str,
    shape_error,
    short_text,
)

__all__ = [
    "APIResponse",
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChunkChoice",
    "Completion",
    "CompletionChoice",
    "Embedding",
    "EmbeddingsResponse",
    "HTTPInfo",
    "Model",
    "ToolCall",
    "ToolCallFunction",
    "Usage",
]


@attrs.frozen(slots=True, kw_only=True)
class CompletionChoice(Wire):
    """One choice of a text completion."""

    index: int
    text: Optional[str] = None
    finish_reason: Optional[str] = None
    logprobs: Any = attrs.field(default=None, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> CompletionChoice:
        """Build from a decoded choice; ``position`` stands in for a missing ``index``."""
        d = as_object(data, "CompletionChoice")
        self = cls(
            index=read_index(d, position),
            text=read_str(d, "text"),
            finish_reason=read_str(d, "finish_reason"),
            logprobs=d.get("logprobs"),
        )
        return keep_raw(self, d)


@displayed
@attrs.frozen(slots=True, kw_only=True)
class Completion(WithHTTP):
    """A text completion (``object: "text_completion"``); streams yield these too."""

    id: Optional[str] = None
    object: Optional[str] = None
    created: Optional[int] = None
    model: Optional[str] = None
    choices: Tuple[CompletionChoice, ...] = ()
    usage: Optional[Usage] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        """Build from a decoded body or event; ``InvalidResponseError`` if it does not fit."""
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "Completion")
        id_, object_, created, model = read_head(d)
        self = cls(
            id=id_,
            object=object_,
            created=created,
            model=model,
            choices=read_items(d, "choices", CompletionChoice.from_dict) or (),
            usage=read_usage(d),
        )
        return keep_raw(self, d)

    def __str__(self) -> str:
        """Summarise: model, each choice's text and finish reason, usage."""
        lines = [f"Completion(id={self.id!r}, model={self.model!r})"]
        for choice in self.choices:
            text, reason = short_text(choice.text), choice.finish_reason
            lines.append(f"  [{choice.index}] {text} (finish_reason={reason!r})")
        return "\n".join(lines + usage_lines(self.usage))

    def _summary_rows(self) -> Rows:
        """The rows of the HTML summary: id, model, each choice, usage."""
        rows = [("id", shown(self.id)), ("model", shown(self.model))]
        for choice in self.choices:
            rows.append((f"[{choice.index}] text", shown(choice.text)))
            rows.append((f"[{choice.index}] finish_reason", shown(choice.finish_reason)))
        return rows + usage_rows(self.usage)


def _vector(d: Dict[str, Any]) -> Union[Tuple[float, ...], str]:
    value = d.get("embedding")
    if type(value) is str:
        return value
    if type(value) is list:
        try:
            # sum() checks every item at C speed: anything but a number raises.
            sum(value, 0.0)
        except (TypeError, OverflowError):
            pass
        else:
            return tuple(value)
    raise shape_error(
        f"'embedding' must be a list of numbers or a base64 string, got {kind_of(value)}", d
    )


@attrs.frozen(slots=True, kw_only=True)
class Embedding(Wire):
    """One embedding: a tuple of floats, or a base64 string (``encoding_format="base64"``)."""

    index: int
    embedding: Union[Tuple[float, ...], str]
    object: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> Embedding:
        """Build from a decoded item of ``data``; ``position`` stands in for a missing ``index``."""
        d = as_object(data, "Embedding")
        self = cls(
            index=read_index(d, position),
            embedding=_vector(d),
            object=read_str(d, "object"),
        )
        return keep_raw(self, d)


@displayed
@attrs.frozen(slots=True, kw_only=True)
class EmbeddingsResponse(WithHTTP):
    """The answer of an embeddings call (``object: "list"``)."""

    object: Optional[str] = None
    data: Tuple[Embedding, ...] = ()
    model: Optional[str] = None
    usage: Optional[Usage] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddingsResponse:
        """Build from a decoded body; ``InvalidResponseError`` when the shape does not fit."""
        d = as_object(data, "EmbeddingsResponse")
        self = cls(
            object=read_str(d, "object"),
            data=read_items(d, "data", Embedding.from_dict) or (),
            model=read_str(d, "model"),
            usage=read_usage(d),
        )
        return keep_raw(self, d)

    def __str__(self) -> str:
        """Summarise: model, number of embeddings and their dimension, usage."""
        first = self.data[0].embedding if self.data else None
        dimension = "base64" if isinstance(first, str) else len(first or ())
        count = len(self.data)
        noun = "embedding" if count == 1 else "embeddings"
        head = f"EmbeddingsResponse(model={self.model!r}, {count} {noun}"
        return "\n".join([f"{head}, dimension {dimension})", *usage_lines(self.usage)])

    def _summary_rows(self) -> Rows:
        """The rows of the HTML summary: model, count, dimension, usage."""
        first = self.data[0].embedding if self.data else None
        dimension = "base64" if isinstance(first, str) else str(len(first or ()))
        rows = [("model", shown(self.model)), ("embeddings", str(len(self.data)))]
        return [*rows, ("dimension", dimension), *usage_rows(self.usage)]


@displayed
@attrs.frozen(slots=True, kw_only=True)
class Model(Wire):
    """A model listed by ``GET /v1/models``."""

    id: Optional[str] = None
    object: Optional[str] = None
    created: Optional[int] = None
    owned_by: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        """Build from a decoded item of ``data``; ``InvalidResponseError`` if it does not fit."""
        d = as_object(data, "Model")
        self = cls(
            id=read_str(d, "id"),
            object=read_str(d, "object"),
            created=read_created(d),
            owned_by=read_str(d, "owned_by"),
        )
        return keep_raw(self, d)

    def __str__(self) -> str:
        """Summarise: the model's id and owner."""
        return f"Model(id={self.id!r}, owned_by={self.owned_by!r})"

    def _summary_rows(self) -> Rows:
        """The rows of the HTML summary: id and owner."""
        return [("id", shown(self.id)), ("owned_by", shown(self.owned_by))]
