"""Reading the wire: the base class of the response types and their shared shape checks.

The rules these helpers enforce are documented in :mod:`passthrough_client.types`.
Each ``read_*`` helper returns the value of one key of a decoded JSON object, or
raises ``InvalidResponseError`` through :func:`shape_error` (the message ends with a
snippet of at most 200 characters of the offending JSON).
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, TypeVar

import attrs

from .exceptions import InvalidResponseError

__all__ = [
    "STR_OR_NONE",
    "SlotSetter",
    "Wire",
    "as_object",
    "check_strs",
    "keep_raw",
    "kind_of",
    "read_created",
    "read_head",
    "read_index",
    "read_int",
    "read_items",
    "read_str",
    "shape_error",
    "short_text",
    "slot_setters",
]

_T = TypeVar("_T")
_W = TypeVar("_W", bound="Wire")
_SNIPPET_MAX = 200
_TEXT_MAX = 300
_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
_KINDS.update({float: "a number", bool: "a boolean", type(None): "null"})
#: The types a text field may have: ``type(value) in STR_OR_NONE`` is the fast check.
STR_OR_NONE = frozenset((str, type(None)))
#: Sets one slot of an instance, bypassing the frozen ``__setattr__``.
SlotSetter = Callable[[Any, Any], None]


# --- errors --------------------------------------------------------------------------


def _snippet(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = reprlib.repr(value)
    return text if len(text) <= _SNIPPET_MAX else text[: _SNIPPET_MAX - 1] + "…"


def shape_error(problem: str, value: Any) -> InvalidResponseError:
    """The error for a received ``value`` that does not fit: ``problem``, then a snippet."""
    return InvalidResponseError(
        f"unexpected response shape: {problem}; received: {_snippet(value)}"
    )


def kind_of(value: Any) -> str:
    """The JSON kind of ``value`` for a message: ``an object``, ``a string``, ``null``..."""
    return _KINDS.get(type(value), type(value).__name__)


# --- reading fields ------------------------------------------------------------------


def as_object(value: Any, owner: str) -> Dict[str, Any]:
    """``value`` as a dict (a non-dict mapping is copied); an error names ``owner``."""
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise shape_error(f"{owner} must be a JSON object, got {kind_of(value)}", value)


def read_str(d: Dict[str, Any], key: str) -> Optional[str]:
    """The string at ``key``, or ``None`` when missing or ``null``."""
    value = d.get(key)
    if value is None or type(value) is str:
        return value
    raise shape_error(f"{key!r} must be a string, got {kind_of(value)}", d)


def read_int(d: Dict[str, Any], key: str) -> Optional[int]:
    """The integer at ``key`` (never a boolean), or ``None`` when missing or ``null``."""
    value = d.get(key)
    if value is None or type(value) is int:
        return value
    raise shape_error(f"{key!r} must be an integer, got {kind_of(value)}", d)


def check_strs(d: Dict[str, Any], *keys: str) -> None:
    """Raise for the first of ``keys`` that is not a string or ``null``."""
    for key in keys:
        read_str(d, key)


def read_head(
    d: Dict[str, Any],
) -> Tuple[Optional[str], Optional[str], Optional[int], Optional[str]]:
    """Return ``id``, ``object``, ``created`` and ``model``: the fields every body starts with."""
    get = d.get
    id_, object_, created, model = get("id"), get("object"), get("created"), get("model")
    kinds = STR_OR_NONE
    if type(id_) not in kinds or type(object_) not in kinds or type(model) not in kinds:
        check_strs(d, "id", "object", "model")
    if created is not None and type(created) is not int:
        created = read_created(d)
    return id_, object_, created, model


def read_index(d: Dict[str, Any], position: int) -> int:
    """The ``index`` of a list item, or its ``position`` in the list when missing."""
    value = read_int(d, "index")
    return position if value is None else value


def read_created(d: Dict[str, Any]) -> Optional[int]:
    """``created`` as an integer; a finite float (sent by a few servers) is truncated."""
    value = d.get("created")
    if type(value) is float and math.isfinite(value):
        return int(value)
    return read_int(d, "created")


def read_items(
    d: Dict[str, Any], key: str, build: Callable[[Any, int], _T]
) -> Optional[Tuple[_T, ...]]:
    """The list at ``key`` as a tuple of ``build(item, position)``, or ``None`` when missing."""
    items = d.get(key)
    if items is None:
        return None
    if type(items) is not list:
        raise shape_error(f"{key!r} must be a list, got {kind_of(items)}", d)
    return tuple([build(item, position) for position, item in enumerate(items)])


# --- building objects ----------------------------------------------------------------


def keep_raw(obj: _W, d: Dict[str, Any]) -> _W:
    """Keep ``d`` as the received JSON object of ``obj`` (for ``to_dict``); return ``obj``."""
    object.__setattr__(obj, "_raw", d)
    return obj


def slot_setters(cls: type, *names: str) -> Tuple[SlotSetter, ...]:
    """The setters of the named slots of ``cls``, for filling a ``cls.__new__(cls)``.

    The streaming hot paths use them instead of attrs' ``__init__`` (about half the
    cost) or ``object.__setattr__`` (which looks the slot up by name on every call).
    Like attrs' own ``__init__``, they bypass the frozen ``__setattr__``.
    """
    return tuple(getattr(cls, name).__set__ for name in names)


def _copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON: dicts and lists are copied, the rest is immutable.

    Iterative, not recursive: a reply nested thousands deep that the JSON parser
    accepted must not hit the recursion limit here.
    """
    if type(value) is not dict and type(value) is not list:
        return value
    root: Any = {} if type(value) is dict else []
    todo = [(value, root)]
    while todo:
        source, target = todo.pop()
        if type(source) is dict:
            for key, item in source.items():
                kind = type(item)
                if kind is dict or kind is list:
                    item_copy: Any = {} if kind is dict else []
                    todo.append((item, item_copy))
                    item = item_copy
                target[key] = item
        else:
            for item in source:
                kind = type(item)
                if kind is dict or kind is list:
                    item_copy = {} if kind is dict else []
                    todo.append((item, item_copy))
                    item = item_copy
                target.append(item)
    return root


def _to_json(value: Any) -> Any:
    """Field values as JSON: response types by ``to_dict``, tuples as lists (iteratively)."""
    if isinstance(value, Wire):
        return value.to_dict()
    if not isinstance(value, (tuple, list, dict)):
        return value
    root: Any = {} if isinstance(value, dict) else []
    todo = [(value, root)]
    while todo:
        source, target = todo.pop()
        pairs = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in pairs:
            if isinstance(item, Wire):
                item = item.to_dict()
            elif isinstance(item, (tuple, list, dict)):
                item_copy: Any = {} if isinstance(item, dict) else []
                todo.append((item, item_copy))
                item = item_copy
            if type(target) is dict:
                target[key] = item
            else:
                target.append(item)
    return root


def short_text(text: Optional[str]) -> str:
    """``repr`` of ``text`` for a summary, cut after 300 characters with an ellipsis."""
    if text is None or len(text) <= _TEXT_MAX:
        return repr(text)
    return repr(text[:_TEXT_MAX]) + "…"


@attrs.frozen(slots=True, kw_only=True)
class Wire:
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
