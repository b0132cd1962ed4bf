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
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, Union

import attrs

from .exceptions import InvalidResponseError

__all__ = [
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
    "Model",
    "ToolCall",
    "ToolCallFunction",
    "Usage",
]

_T = TypeVar("_T")
_W = TypeVar("_W", bound="_Wire")
_SNIPPET_MAX = 200
_TEXT_MAX = 300
_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
_KINDS.update({float: "a number", bool: "a boolean", type(None): "null"})
_STR = frozenset((str, type(None)))
_set = object.__setattr__


def _snippet(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = reprlib.repr(value)
    return text if len(text) <= _SNIPPET_MAX else text[: _SNIPPET_MAX - 1] + "…"


def _bad(problem: str, value: Any) -> InvalidResponseError:
    return InvalidResponseError(
        f"unexpected response shape: {problem}; received: {_snippet(value)}"
    )


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _obj(value: Any, owner: str) -> Dict[str, Any]:
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise _bad(f"{owner} must be a JSON object, got {_kind(value)}", value)


def _keep(obj: _W, d: Dict[str, Any]) -> _W:
    _set(obj, "_raw", d)
    return obj


def _str(d: Dict[str, Any], key: str) -> Optional[str]:
    value = d.get(key)
    if value is None or type(value) is str:
        return value
    raise _bad(f"{key!r} must be a string, got {_kind(value)}", d)


def _int(d: Dict[str, Any], key: str) -> Optional[int]:
    value = d.get(key)
    if value is None or type(value) is int:
        return value
    raise _bad(f"{key!r} must be an integer, got {_kind(value)}", d)


def _strs(d: Dict[str, Any], *keys: str) -> None:
    for key in keys:
        _str(d, key)


def _head(d: Dict[str, Any]) -> Tuple[Optional[str], Optional[str], Optional[int], Optional[str]]:
    """Return ``id``, ``object``, ``created`` and ``model``: the fields every body starts with."""
    get = d.get
    id_, object_, created, model = get("id"), get("object"), get("created"), get("model")
    if type(id_) not in _STR or type(object_) not in _STR or type(model) not in _STR:
        _strs(d, "id", "object", "model")
    if created is not None and type(created) is not int:
        created = _created(d)
    return id_, object_, created, model


def _index(d: Dict[str, Any], position: int) -> int:
    value = _int(d, "index")
    return position if value is None else value


def _created(d: Dict[str, Any]) -> Optional[int]:
    value = d.get("created")
    if type(value) is float and math.isfinite(value):
        return int(value)
    return _int(d, "created")


def _items(
    d: Dict[str, Any], key: str, build: Callable[[Any, int], _T]
) -> Optional[Tuple[_T, ...]]:
    items = d.get(key)
    if items is None:
        return None
    if type(items) is not list:
        raise _bad(f"{key!r} must be a list, got {_kind(items)}", d)
    return tuple([build(item, position) for position, item in enumerate(items)])


def _usage(d: Dict[str, Any]) -> Optional[Usage]:
    value = d.get("usage")
    return None if value is None else Usage.from_dict(value)


def _copy_json(value: Any) -> Any:
    if type(value) is dict:
        return {k: _copy_json(v) if type(v) in (dict, list) else v for k, v in value.items()}
    if type(value) is list:
        return [_copy_json(v) if type(v) in (dict, list) else v for v in value]
    return value


def _to_json(value: Any) -> Any:
    if isinstance(value, _Wire):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _short(text: Optional[str]) -> str:
    if text is None or len(text) <= _TEXT_MAX:
        return repr(text)
    return repr(text[:_TEXT_MAX]) + "…"


def _usage_line(usage: Optional[Usage]) -> List[str]:
    if usage is None:
        return []
    counts = f"{usage.prompt_tokens} prompt"
    if usage.completion_tokens is not None:
        counts += f" + {usage.completion_tokens} completion"
    return [f"  usage: {counts} = {usage.total_tokens} tokens"]


@attrs.frozen(slots=True, kw_only=True)
class _Wire:
    """Base of the response types: keeps the received JSON object aside."""

    _raw: Optional[Dict[str, Any]] = attrs.field(default=None, init=False, repr=False, eq=False)

    def to_dict(self) -> Dict[str, Any]:
        """Return the received JSON object (a fresh copy), or one built from the fields.

        The copy is deep for JSON objects and lists, so changing it never changes
        this object. Without a received object, ``None`` fields are left out.
        """
        if self._raw is not None:
            return _copy_json(self._raw)  # type: ignore[no-any-return]
        fields = attrs.fields(type(self))
        pairs = ((f.name, getattr(self, f.name)) for f in fields if f.init)
        return {name: _to_json(value) for name, value in pairs if value is not None}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Show ``str(self)`` in IPython and Jupyter."""
        printer.text(str(self))


@attrs.frozen(slots=True, kw_only=True)
class Usage(_Wire):
    """Token counts of a request (``completion_tokens`` is ``None`` for embeddings)."""

    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    total_tokens: Optional[int] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Build from a decoded ``usage`` object; ``InvalidResponseError`` if it does not fit."""
        d = _obj(data, "Usage")
        self = cls(
            prompt_tokens=_int(d, "prompt_tokens"),
            completion_tokens=_int(d, "completion_tokens"),
            total_tokens=_int(d, "total_tokens"),
        )
        return _keep(self, d)


@attrs.frozen(slots=True, kw_only=True)
class ToolCallFunction(_Wire):
    """The function a tool call invokes: its ``name`` and JSON-encoded ``arguments``."""

    name: Optional[str] = None
    arguments: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCallFunction:
        """Build from a decoded ``function`` object; ``InvalidResponseError`` if it does not fit."""
        d = _obj(data, "ToolCallFunction")
        self = cls(name=_str(d, "name"), arguments=_str(d, "arguments"))
        return _keep(self, d)


def _function(d: Dict[str, Any]) -> Optional[ToolCallFunction]:
    value = d.get("function")
    return None if value is None else ToolCallFunction.from_dict(value)


@attrs.frozen(slots=True, kw_only=True)
class ToolCall(_Wire):
    """A tool call of an assistant message; ``function`` is ``None`` for other tool kinds."""

    id: Optional[str] = None
    type: Optional[str] = None
    function: Optional[ToolCallFunction] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Build from a decoded tool call object; ``InvalidResponseError`` if it does not fit."""
        d = _obj(data, "ToolCall")
        self = cls(id=_str(d, "id"), type=_str(d, "type"), function=_function(d))
        return _keep(self, d)


def _tool_call(data: Any, position: int) -> ToolCall:
    return ToolCall.from_dict(data)


@attrs.frozen(slots=True, kw_only=True)
class ChoiceDeltaToolCall(_Wire):
    """A piece of a tool call in a stream, merged with the others of the same ``index``."""

    index: int
    id: Optional[str] = None
    type: Optional[str] = None
    function: Optional[ToolCallFunction] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> ChoiceDeltaToolCall:
        """Build from a decoded tool call delta; ``position`` stands in for a missing ``index``."""
        d = _obj(data, "ChoiceDeltaToolCall")
        self = cls(
            index=_index(d, position),
            id=_str(d, "id"),
            type=_str(d, "type"),
            function=_function(d),
        )
        return _keep(self, d)


@attrs.frozen(slots=True, kw_only=True)
class ChatCompletionMessage(_Wire):
    """The message of a chat completion choice."""

    role: Optional[str] = None
    content: Optional[str] = None
    tool_calls: Optional[Tuple[ToolCall, ...]] = None
    refusal: Optional[str] = None
    name: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletionMessage:
        """Build from a decoded ``message`` object; ``InvalidResponseError`` if it does not fit."""
        d = _obj(data, "ChatCompletionMessage")
        self = cls(
            role=_str(d, "role"),
            content=_str(d, "content"),
            tool_calls=_items(d, "tool_calls", _tool_call),
            refusal=_str(d, "refusal"),
            name=_str(d, "name"),
        )
        return _keep(self, d)


@attrs.frozen(slots=True, kw_only=True)
class ChoiceDelta(_Wire):
    """The change a stream chunk brings to one choice."""

    role: Optional[str] = None
    content: Optional[str] = None
    tool_calls: Optional[Tuple[ChoiceDeltaToolCall, ...]] = None
    refusal: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChoiceDelta:
        """Build from a decoded ``delta`` object; ``InvalidResponseError`` if it does not fit."""
        # Streaming hot path: see ChatCompletionChunk.from_dict.
        d: Dict[str, Any] = data if type(data) is dict else _obj(data, "ChoiceDelta")
        get = d.get
        role, content, refusal = get("role"), get("content"), get("refusal")
        calls = get("tool_calls")
        if type(role) not in _STR or type(content) not in _STR or type(refusal) not in _STR:
            _strs(d, "role", "content", "refusal")
        if calls is not None:
            calls = _items(d, "tool_calls", ChoiceDeltaToolCall.from_dict)
        self = cls.__new__(cls)
        _set(self, "role", role)
        _set(self, "content", content)
        _set(self, "tool_calls", calls)
        _set(self, "refusal", refusal)
        _set(self, "_raw", d)
        return self


@attrs.frozen(slots=True, kw_only=True)
class ChatCompletionChoice(_Wire):
    """One choice of a chat completion: the message and why generation stopped."""

    index: int
    message: ChatCompletionMessage
    finish_reason: Optional[str] = None
    logprobs: Any = attrs.field(default=None, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> ChatCompletionChoice:
        """Build from a decoded choice; ``position`` stands in for a missing ``index``."""
        d = _obj(data, "ChatCompletionChoice")
        message = d.get("message")
        if message is None:
            raise _bad("a chat completion choice needs a 'message'", d)
        self = cls(
            index=_index(d, position),
            message=ChatCompletionMessage.from_dict(message),
            finish_reason=_str(d, "finish_reason"),
            logprobs=d.get("logprobs"),
        )
        return _keep(self, d)


@attrs.frozen(slots=True, kw_only=True)
class ChunkChoice(_Wire):
    """One choice of a stream chunk; a missing ``delta`` is an empty one."""

    index: int
    delta: ChoiceDelta
    finish_reason: Optional[str] = None
    logprobs: Any = attrs.field(default=None, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> ChunkChoice:
        """Build from a decoded chunk choice; ``position`` stands in for a missing ``index``."""
        # Streaming hot path: see ChatCompletionChunk.from_dict.
        d: Dict[str, Any] = data if type(data) is dict else _obj(data, "ChunkChoice")
        get = d.get
        index, delta, finish_reason = get("index"), get("delta"), get("finish_reason")
        if type(index) is not int:
            index = _index(d, position)
        if type(finish_reason) not in _STR:
            _str(d, "finish_reason")
        self = cls.__new__(cls)
        _set(self, "index", index)
        _set(self, "delta", ChoiceDelta() if delta is None else ChoiceDelta.from_dict(delta))
        _set(self, "finish_reason", finish_reason)
        _set(self, "logprobs", get("logprobs"))
        _set(self, "_raw", d)
        return self


@attrs.frozen(slots=True, kw_only=True)
class ChatCompletion(_Wire):
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
        d: Dict[str, Any] = data if type(data) is dict else _obj(data, "ChatCompletion")
        id_, object_, created, model = _head(d)
        self = cls(
            id=id_,
            object=object_,
            created=created,
            model=model,
            choices=_items(d, "choices", ChatCompletionChoice.from_dict) or (),
            usage=_usage(d),
            system_fingerprint=_str(d, "system_fingerprint"),
        )
        _set(self, "_raw", d)
        return self

    def __str__(self) -> str:
        """Summarise: model, each choice's role, content, tool calls and finish reason, usage."""
        lines = [f"ChatCompletion(id={self.id!r}, model={self.model!r})"]
        for choice in self.choices:
            message = choice.message
            lines.append(
                f"  [{choice.index}] {message.role}: {_short(message.content)}"
                f" (finish_reason={choice.finish_reason!r})"
            )
            for call in message.tool_calls or ():
                function = call.function or ToolCallFunction()
                lines.append(f"      tool call {function.name}({_short(function.arguments)})")
        return "\n".join(lines + _usage_line(self.usage))


@attrs.frozen(slots=True, kw_only=True)
class ChatCompletionChunk(_Wire):
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
        # Streaming hot path: checks inlined, slots set directly (a third faster than
        # attrs' __init__); the helpers run only to report a bad value.
        d: Dict[str, Any] = data if type(data) is dict else _obj(data, "ChatCompletionChunk")
        get = d.get
        id_, object_, created, model = _head(d)
        choices, fingerprint = get("choices"), get("system_fingerprint")
        if type(choices) is list and len(choices) == 1:
            choices = (ChunkChoice.from_dict(choices[0]),)
        else:
            choices = _items(d, "choices", ChunkChoice.from_dict) or ()
        if type(fingerprint) not in _STR:
            _str(d, "system_fingerprint")
        self = cls.__new__(cls)
        _set(self, "id", id_)
        _set(self, "object", object_)
        _set(self, "created", created)
        _set(self, "model", model)
        _set(self, "choices", choices)
        _set(self, "usage", _usage(d))
        _set(self, "system_fingerprint", fingerprint)
        _set(self, "_raw", d)
        return self


@attrs.frozen(slots=True, kw_only=True)
class CompletionChoice(_Wire):
    """One choice of a text completion."""

    index: int
    text: Optional[str] = None
    finish_reason: Optional[str] = None
    logprobs: Any = attrs.field(default=None, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> CompletionChoice:
        """Build from a decoded choice; ``position`` stands in for a missing ``index``."""
        d = _obj(data, "CompletionChoice")
        self = cls(
            index=_index(d, position),
            text=_str(d, "text"),
            finish_reason=_str(d, "finish_reason"),
            logprobs=d.get("logprobs"),
        )
        return _keep(self, d)


@attrs.frozen(slots=True, kw_only=True)
class Completion(_Wire):
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
        d: Dict[str, Any] = data if type(data) is dict else _obj(data, "Completion")
        id_, object_, created, model = _head(d)
        self = cls(
            id=id_,
            object=object_,
            created=created,
            model=model,
            choices=_items(d, "choices", CompletionChoice.from_dict) or (),
            usage=_usage(d),
        )
        return _keep(self, d)

    def __str__(self) -> str:
        """Summarise: model, each choice's text and finish reason, usage."""
        lines = [f"Completion(id={self.id!r}, model={self.model!r})"]
        for choice in self.choices:
            lines.append(
                f"  [{choice.index}] {_short(choice.text)} (finish_reason={choice.finish_reason!r})"
            )
        return "\n".join(lines + _usage_line(self.usage))


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
    raise _bad(f"'embedding' must be a list of numbers or a base64 string, got {_kind(value)}", d)


@attrs.frozen(slots=True, kw_only=True)
class Embedding(_Wire):
    """One embedding: a tuple of floats, or a base64 string (``encoding_format="base64"``)."""

    index: int
    embedding: Union[Tuple[float, ...], str]
    object: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], position: int = 0) -> Embedding:
        """Build from a decoded item of ``data``; ``position`` stands in for a missing ``index``."""
        d = _obj(data, "Embedding")
        self = cls(index=_index(d, position), embedding=_vector(d), object=_str(d, "object"))
        return _keep(self, d)


@attrs.frozen(slots=True, kw_only=True)
class EmbeddingsResponse(_Wire):
    """The answer of an embeddings call (``object: "list"``)."""

    object: Optional[str] = None
    data: Tuple[Embedding, ...] = ()
    model: Optional[str] = None
    usage: Optional[Usage] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddingsResponse:
        """Build from a decoded body; ``InvalidResponseError`` when the shape does not fit."""
        d = _obj(data, "EmbeddingsResponse")
        self = cls(
            object=_str(d, "object"),
            data=_items(d, "data", Embedding.from_dict) or (),
            model=_str(d, "model"),
            usage=_usage(d),
        )
        return _keep(self, d)

    def __str__(self) -> str:
        """Summarise: model, number of embeddings and their dimension, usage."""
        first = self.data[0].embedding if self.data else None
        dimension = "base64" if isinstance(first, str) else len(first or ())
        head = f"EmbeddingsResponse(model={self.model!r}, {len(self.data)} embeddings"
        return "\n".join([f"{head}, dimension {dimension})", *_usage_line(self.usage)])


@attrs.frozen(slots=True, kw_only=True)
class Model(_Wire):
    """A model listed by ``GET /v1/models``."""

    id: Optional[str] = None
    object: Optional[str] = None
    created: Optional[int] = None
    owned_by: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        """Build from a decoded item of ``data``; ``InvalidResponseError`` if it does not fit."""
        d = _obj(data, "Model")
        self = cls(
            id=_str(d, "id"),
            object=_str(d, "object"),
            created=_created(d),
            owned_by=_str(d, "owned_by"),
        )
        return _keep(self, d)
