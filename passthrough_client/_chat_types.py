"""Chat completions, their tool call types, and the ``Usage`` every response carries.

Re-exported by :mod:`passthrough_client.types`, which documents the rules on the wire;
the stream chunks are in ``_chunk_types``. ``ToolCallFunction`` is on the streaming hot
path too (each tool call piece has one), so its ``from_dict`` is written like those of
the chunk types.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import attrs

from ._display import Rows, displayed, shown
from ._http_info import WithHTTP
from ._wire import (
    STR_OR_NONE,
    Wire,
    as_object,
    check_strs,
    keep_raw,
    read_head,
    read_index,
    read_int,
    read_items,
    read_str,
    shape_error,
    short_text,
    slot_setters,
)

__all__ = [
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionMessage",
    "ToolCall",
    "ToolCallFunction",
    "Usage",
    "read_usage",
    "tool_call_line",
    "tool_call_text",
    "usage_lines",
    "usage_rows",
]


@attrs.frozen(slots=True, kw_only=True)
class Usage(Wire):
    """Token counts of a request (``completion_tokens`` is ``None`` for embeddings)."""

    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    total_tokens: Optional[int] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Build from a decoded ``usage`` object; ``InvalidResponseError`` if it does not fit."""
        d = as_object(data, "Usage")
        self = cls(
            prompt_tokens=read_int(d, "prompt_tokens"),
            completion_tokens=read_int(d, "completion_tokens"),
            total_tokens=read_int(d, "total_tokens"),
        )
        return keep_raw(self, d)


def read_usage(d: Dict[str, Any]) -> Optional[Usage]:
    """The ``usage`` of a body, or ``None`` when missing or ``null``."""
    value = d.get("usage")
    return None if value is None else Usage.from_dict(value)


def _usage_text(usage: Usage) -> str:
    """``12 prompt + 5 completion = 17 tokens``."""
    counts = f"{usage.prompt_tokens} prompt"
    if usage.completion_tokens is not None:
        counts += f" + {usage.completion_tokens} completion"
    unit = "token" if usage.total_tokens == 1 else "tokens"
    return f"{counts} = {usage.total_tokens} {unit}"


def usage_lines(usage: Optional[Usage]) -> List[str]:
    """The summary line for ``usage`` (``12 prompt + 5 completion = 17 tokens``), if any."""
    return [] if usage is None else [f"  usage: {_usage_text(usage)}"]


def usage_rows(usage: Optional[Usage]) -> Rows:
    """The summary table row for ``usage``, if any."""
    return [] if usage is None else [("usage", _usage_text(usage))]


@attrs.frozen(slots=True, kw_only=True)
class ToolCallFunction(Wire):
    """The function a tool call invokes: its ``name`` and JSON-encoded ``arguments``."""

    name: Optional[str] = None
    arguments: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCallFunction:
        """Build from a decoded ``function`` object; ``InvalidResponseError`` if it does not fit."""
        # Streaming hot path (in every tool call piece): see _chunk_types.
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "ToolCallFunction")
        name, arguments = d.get("name"), d.get("arguments")
        if type(name) not in STR_OR_NONE or type(arguments) not in STR_OR_NONE:
            check_strs(d, "name", "arguments")
        self = cls.__new__(cls)
        set_name, set_arguments, set_raw = _FUNCTION_SLOTS
        set_name(self, name)
        set_arguments(self, arguments)
        set_raw(self, d)
        return self


_FUNCTION_SLOTS = slot_setters(ToolCallFunction, "name", "arguments", "_raw")


def _function(d: Dict[str, Any]) -> Optional[ToolCallFunction]:
    value = d.get("function")
    return None if value is None else ToolCallFunction.from_dict(value)


def tool_call_line(function: Optional[ToolCallFunction]) -> str:
    """The summary line of a tool call: ``      tool call name('arguments')``."""
    function = function or ToolCallFunction()
    return f"      tool call {function.name}({short_text(function.arguments)})"


def tool_call_text(function: Optional[ToolCallFunction]) -> str:
    """A tool call for a summary table: ``name(arguments)``."""
    function = function or ToolCallFunction()
    return f"{function.name}({shown(function.arguments)})"


@attrs.frozen(slots=True, kw_only=True)
class ToolCall(Wire):
    """A tool call of an assistant message; ``function`` is ``None`` for other tool kinds."""

    id: Optional[str] = None
    type: Optional[str] = None
    function: Optional[ToolCallFunction] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Build from a decoded tool call object; ``InvalidResponseError`` if it does not fit."""
        d = as_object(data, "ToolCall")
        self = cls(id=read_str(d, "id"), type=read_str(d, "type"), function=_function(d))
        return keep_raw(self, d)


def _tool_call(data: Any, position: int) -> ToolCall:
    return ToolCall.from_dict(data)


@attrs.frozen(slots=True, kw_only=True)
class ChatCompletionMessage(Wire):
    """The message of a chat completion choice."""

    role: Optional[str] = None
    content: Optional[str] = None
    tool_calls: Optional[Tuple[ToolCall, ...]] = None
    refusal: Optional[str] = None
    name: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletionMessage:
        """Build from a decoded ``message`` object; ``InvalidResponseError`` if it does not fit."""
        d = as_object(data, "ChatCompletionMessage")
        self = cls(
            role=read_str(d, "role"),
            content=read_str(d, "content"),
            tool_calls=read_items(d, "tool_calls", _tool_call),
            refusal=read_str(d, "refusal"),
            name=read_str(d, "name"),
        )
        return keep_raw(self, d)


@attrs.frozen(slots=True, kw_only=True)
class ChatCompletionChoice(Wire):
    """One choice of a chat completion: the message and why generation stopped."""

    index: int
    message: ChatCompletionMessage
    finish_reason: Optional[str] = None
    logprobs: Any = attrs.field(default=None, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> ChatCompletionChoice:
        """Build from a decoded choice; ``position`` stands in for a missing ``index``."""
        d = as_object(data, "ChatCompletionChoice")
        message = d.get("message")
        if message is None:
            raise shape_error("a chat completion choice needs a 'message'", d)
        self = cls(
            index=read_index(d, position),
            message=ChatCompletionMessage.from_dict(message),
            finish_reason=read_str(d, "finish_reason"),
            logprobs=d.get("logprobs"),
        )
        return keep_raw(self, d)


@displayed
@attrs.frozen(slots=True, kw_only=True)
class ChatCompletion(WithHTTP):
    """A chat completion (``object: "chat.completion"``), or one assembled from a stream."""

    id: Optional[str] = None
    object: Optional[str] = None
    created: Optional[int] = None
    model: Optional[str] = None
    choices: Tuple[ChatCompletionChoice, ...] = ()
    usage: Optional[Usage] = None
    system_fingerprint: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletion:
        """Build from a decoded body; ``InvalidResponseError`` when the shape does not fit."""
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "ChatCompletion")
        id_, object_, created, model = read_head(d)
        self = cls(
            id=id_,
            object=object_,
            created=created,
            model=model,
            choices=read_items(d, "choices", ChatCompletionChoice.from_dict) or (),
            usage=read_usage(d),
            system_fingerprint=read_str(d, "system_fingerprint"),
        )
        return keep_raw(self, d)

    def __str__(self) -> str:
        """Summarise: model, each choice's role, content, tool calls and finish reason, usage."""
        lines = [f"ChatCompletion(id={self.id!r}, model={self.model!r})"]
        for choice in self.choices:
            message = choice.message
            lines.append(
                f"  [{choice.index}] {message.role}: {short_text(message.content)}"
                f" (finish_reason={choice.finish_reason!r})"
            )
            lines.extend(tool_call_line(call.function) for call in message.tool_calls or ())
        return "\n".join(lines + usage_lines(self.usage))

    def _summary_rows(self) -> Rows:
        """The rows of the HTML summary: id, model, each choice, usage."""
        rows = [("id", shown(self.id)), ("model", shown(self.model))]
        for choice in self.choices:
            message, i = choice.message, choice.index
            rows.append((f"[{i}] {message.role}", shown(message.content)))
            calls = message.tool_calls or ()
            rows.extend((f"[{i}] tool call", tool_call_text(c.function)) for c in calls)
            rows.append((f"[{i}] finish_reason", shown(choice.finish_reason)))
        return rows + usage_rows(self.usage)
