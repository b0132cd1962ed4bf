"""Stream chunks of a chat completion: the streaming hot path.

Re-exported by :mod:`passthrough_client.types`, which documents the rules on the wire.
A stream of a few thousand chunks is parsed in the consumer's thread, so each
``from_dict`` here inlines the common checks (the ``_wire`` helpers run only to report
a bad value) and fills the slots of ``cls.__new__(cls)`` through setters bound once at
import (:func:`._wire.slot_setters`), which is about twice as fast as attrs' ``__init__``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import attrs

from ._chat_types import (
    ToolCallFunction,
    Usage,
    tool_call_line,
    tool_call_text,
    usage_lines,
    usage_rows,
)
from ._display import Rows, displayed, shown
from ._wire import (
    STR_OR_NONE,
    Wire,
    as_object,
    check_strs,
    read_created,
    read_index,
    read_items,
    read_str,
    short_text,
    slot_setters,
)

__all__ = ["ChatCompletionChunk", "ChoiceDelta", "ChoiceDeltaToolCall", "ChunkChoice"]


@attrs.frozen(slots=True, kw_only=True)
class ChoiceDeltaToolCall(Wire):
    """A piece of a tool call in a stream, merged with the others of the same ``index``."""

    index: int
    id: Optional[str] = None
    type: Optional[str] = None
    function: Optional[ToolCallFunction] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> ChoiceDeltaToolCall:
        """Build from a decoded tool call delta; ``position`` stands in for a missing ``index``."""
        # Streaming hot path: see the module docstring.
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "ChoiceDeltaToolCall")
        get = d.get
        index, id_, type_, function = get("index"), get("id"), get("type"), get("function")
        if type(index) is not int:
            index = read_index(d, position)
        if type(id_) not in STR_OR_NONE or type(type_) not in STR_OR_NONE:
            check_strs(d, "id", "type")
        if function is not None:
            function = ToolCallFunction.from_dict(function)
        self = cls.__new__(cls)
        set_index, set_id, set_type, set_function, set_raw = _CALL_SLOTS
        set_index(self, index)
        set_id(self, id_)
        set_type(self, type_)
        set_function(self, function)
        set_raw(self, d)
        return self


_CALL_SLOTS = slot_setters(ChoiceDeltaToolCall, "index", "id", "type", "function", "_raw")


@attrs.frozen(slots=True, kw_only=True)
class ChoiceDelta(Wire):
    """The change a stream chunk brings to one choice."""

    role: Optional[str] = None
    content: Optional[str] = None
    tool_calls: Optional[Tuple[ChoiceDeltaToolCall, ...]] = None
    refusal: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChoiceDelta:
        """Build from a decoded ``delta`` object; ``InvalidResponseError`` if it does not fit."""
        # Streaming hot path: see the module docstring.
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "ChoiceDelta")
        if len(d) == 1 and type(d.get("content")) is str:
            # Most deltas of a stream carry text only: one lookup instead of four
            # (measured with callgrind: 1,100 instructions less per chunk on CPython 3.11).
            role = refusal = calls = None
            content = d["content"]
        else:
            get = d.get
            role, content, refusal = get("role"), get("content"), get("refusal")
            calls = get("tool_calls")
            kinds = STR_OR_NONE
            if type(role) not in kinds or type(content) not in kinds or type(refusal) not in kinds:
                check_strs(d, "role", "content", "refusal")
            if calls is not None:
                calls = read_items(d, "tool_calls", ChoiceDeltaToolCall.from_dict)
        self = cls.__new__(cls)
        set_role, set_content, set_calls, set_refusal, set_raw = _DELTA_SLOTS
        set_role(self, role)
        set_content(self, content)
        set_calls(self, calls)
        set_refusal(self, refusal)
        set_raw(self, d)
        return self


_DELTA_SLOTS = slot_setters(ChoiceDelta, "role", "content", "tool_calls", "refusal", "_raw")
_delta = ChoiceDelta.from_dict  # bound once: a stream calls it for every chunk


@attrs.frozen(slots=True, kw_only=True)
class ChunkChoice(Wire):
    """One choice of a stream chunk; a missing ``delta`` is an empty one."""

    index: int
    delta: ChoiceDelta
    finish_reason: Optional[str] = None
    logprobs: Any = attrs.field(default=None, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> ChunkChoice:
        """Build from a decoded chunk choice; ``position`` stands in for a missing ``index``."""
        # Streaming hot path: see the module docstring.
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "ChunkChoice")
        get = d.get
        index, delta, finish_reason = get("index"), get("delta"), get("finish_reason")
        if type(index) is not int:
            index = read_index(d, position)
        if type(finish_reason) not in STR_OR_NONE:
            read_str(d, "finish_reason")
        self = cls.__new__(cls)
        set_index, set_delta, set_finish_reason, set_logprobs, set_raw = _CHOICE_SLOTS
        set_index(self, index)
        set_delta(self, ChoiceDelta() if delta is None else _delta(delta))
        set_finish_reason(self, finish_reason)
        set_logprobs(self, get("logprobs"))
        set_raw(self, d)
        return self


_CHOICE_SLOTS = slot_setters(ChunkChoice, "index", "delta", "finish_reason", "logprobs", "_raw")
_choice = ChunkChoice.from_dict  # bound once: a stream calls it for every chunk


def _choice_lines(choice: ChunkChoice) -> List[str]:
    """A chunk choice's summary: role (when given), content, finish reason (when given)."""
    delta, reason = choice.delta, choice.finish_reason
    role = "" if delta.role is None else f"{delta.role}: "
    end = "" if reason is None else f" (finish_reason={reason!r})"
    line = f"  [{choice.index}] {role}{short_text(delta.content)}{end}"
    return [line, *(tool_call_line(call.function) for call in delta.tool_calls or ())]


@displayed
@attrs.frozen(slots=True, kw_only=True)
class ChatCompletionChunk(Wire):
    """One event of a streamed chat completion (``object: "chat.completion.chunk"``)."""

    id: Optional[str] = None
    object: Optional[str] = None
    created: Optional[int] = None
    model: Optional[str] = None
    choices: Tuple[ChunkChoice, ...] = ()
    usage: Optional[Usage] = None
    system_fingerprint: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletionChunk:
        """Build from a decoded event; ``InvalidResponseError`` when the shape does not fit."""
        # Streaming hot path: see the module docstring.
        d: Dict[str, Any] = data if type(data) is dict else as_object(data, "ChatCompletionChunk")
        get = d.get
        id_, object_, created, model = get("id"), get("object"), get("created"), get("model")
        choices, usage, fingerprint = get("choices"), get("usage"), get("system_fingerprint")
        kinds = STR_OR_NONE
        if (
            type(id_) not in kinds
            or type(object_) not in kinds
            or type(model) not in kinds
            or type(fingerprint) not in kinds
        ):
            check_strs(d, "id", "object", "model", "system_fingerprint")
        if created is not None and type(created) is not int:
            created = read_created(d)
        if type(choices) is list and len(choices) == 1:
            choices = (_choice(choices[0]),)
        else:
            choices = read_items(d, "choices", _choice) or ()
        if usage is not None:
            usage = Usage.from_dict(usage)
        self = cls.__new__(cls)
        set_id, set_object, set_created, set_model, set_choices, set_usage, set_fp, set_raw = (
            _CHUNK_SLOTS
        )
        set_id(self, id_)
        set_object(self, object_)
        set_created(self, created)
        set_model(self, model)
        set_choices(self, choices)
        set_usage(self, usage)
        set_fp(self, fingerprint)
        set_raw(self, d)
        return self

    def __str__(self) -> str:
        """Summarise: model, each choice's delta (role and finish reason when given), usage."""
        lines = [f"ChatCompletionChunk(id={self.id!r}, model={self.model!r})"]
        for choice in self.choices:
            lines.extend(_choice_lines(choice))
        return "\n".join(lines + usage_lines(self.usage))

    def _summary_rows(self) -> Rows:
        """The rows of the HTML summary: id, model, each choice's delta, usage."""
        rows = [("id", shown(self.id)), ("model", shown(self.model))]
        for choice in self.choices:
            delta, i = choice.delta, choice.index
            rows.append((f"[{i}] {delta.role or 'delta'}", shown(delta.content)))
            calls = delta.tool_calls or ()
            rows.extend((f"[{i}] tool call", tool_call_text(c.function)) for c in calls)
            if choice.finish_reason is not None:
                rows.append((f"[{i}] finish_reason", choice.finish_reason))
        return rows + usage_rows(self.usage)


_CHUNK_SLOTS = slot_setters(
    ChatCompletionChunk,
    "id",
    "object",
    "created",
    "model",
    "choices",
    "usage",
    "system_fingerprint",
    "_raw",
)
