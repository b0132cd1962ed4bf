"""The only module that imports cattrs: documents -> the configuration tree.

Converters are private (never the global one) and strict: a scalar is converted
only as its field's type directs. ``true``/``false`` become booleans and numeric text
becomes a number only when the text came from an ``${env.*}`` substitution (marked
with :class:`Substituted`); a literal string is never guessed into another type and a
number is never turned into a string. Every problem is reported at once, each as
``dotted.path: message``.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import typing
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Tuple, Union

import attrs
import cattrs

from ._validate import type_name
from .config import PassthroughConfig, Secret, TimeoutConfig
from .exceptions import ConfigError

__all__ = ["Substituted", "key_path", "structure_config"]


class Substituted(str):
    """A string value produced by ``${env.*}`` substitution (type-directed conversion)."""

    __slots__ = ()


class _FieldError(Exception):
    """A problem with one value; the path is added by :func:`_flatten`."""


# What the hooks raise for invalid input. Any other exception (a TypeError from a cattrs
# or attrs version we do not support, a bug) is not the user's fault: it propagates.
_INPUT_ERRORS = (ConfigError, _FieldError)


# ---------------------------------------------------------------- scalar hooks


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return str(value)
    hint = "; quote it" if isinstance(value, (int, float)) else ""
    raise _FieldError(f"expected a string, got {type_name(value)}{hint}")


def _structure_secret(value: Any, _: Any) -> Secret:
    return Secret(_structure_str(value, str))


def _substituted_bool(value: Any) -> Optional[bool]:
    if isinstance(value, Substituted) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    converted = _substituted_bool(value)
    if converted is not None:
        return converted
    raise _FieldError(f"expected true or false, got {type_name(value)}; use true or false")


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Substituted):
        try:
            number = float(value)
        except ValueError:
            raise _FieldError("the substituted value is not a number") from None
        if math.isfinite(number):
            return number
    raise _FieldError(f"expected a number of seconds, got {type_name(value)}")


def _make_path_hook(base_dir: Optional[str]) -> Callable[[Any, Any], str]:
    def structure_path(value: Any, _: Any) -> str:
        if not isinstance(value, str):
            raise _FieldError(f"expected a path, got {type_name(value)}")
        text = str(value)
        if base_dir and text and not text.startswith("~") and not os.path.isabs(text):
            return os.path.join(base_dir, text)
        return text

    return structure_path


# ---------------------------------------------------------------- collection hooks


def _structure_str_tuple(value: Any, _: Any) -> Tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise _FieldError(f"expected a list of strings, got {type_name(value)}")
    items: list[str] = []
    errors: list[str] = []
    for i, item in enumerate(value):
        try:
            items.append(_structure_str(item, str))
        except _FieldError as exc:
            errors.append(f"[{i}]: {exc}")
    if errors:
        raise ConfigError(errors)
    return tuple(items)


def _structure_str_mapping(value: Any, _: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _FieldError(f"expected a mapping, got {type_name(value)}")
    result: dict[str, str] = {}
    errors: list[str] = []
    for key, item in value.items():
        if not isinstance(key, str):
            errors.append(f"[{key!r}]: keys must be strings")
            continue
        try:
            result[str(key)] = _structure_str(item, str)
        except _FieldError as exc:
            errors.append(f"[{key!r}]: {exc}")
    if errors:
        raise ConfigError(errors)
    return result


# ---------------------------------------------------------------- union hooks


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) is Union and type(None) in typing.get_args(tp)


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _without_none(tp: Any) -> Any:
    args = tuple(a for a in typing.get_args(tp) if a is not type(None))
    return args[0] if len(args) == 1 else Union[args]


def _make_optional_hook(converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    def structure_optional(value: Any, tp: Any) -> Any:
        if value is None:
            return None
        return converter.structure(value, _without_none(tp))

    return structure_optional


def _structure_literal(value: Any, tp: Any) -> Any:
    allowed = typing.get_args(tp)
    if value in allowed and isinstance(value, str):
        return str(value)
    choices = " or ".join(repr(a) for a in allowed)
    raise _FieldError(f"must be {choices}")


def _make_verify_hook(path_hook: Callable[[Any, Any], str]) -> Callable[[Any, Any], Any]:
    def structure_verify(value: Any, _: Any) -> Union[bool, str]:
        if isinstance(value, bool):
            return value
        converted = _substituted_bool(value)
        if converted is not None:
            return converted
        if isinstance(value, str):
            if value.strip().lower() in ("true", "false"):
                return str(value)  # TLSConfig reports "looks like a boolean"
            return path_hook(value, None)
        raise _FieldError(f"expected true, false or a CA path, got {type_name(value)}")

    return structure_verify


def _make_timeout_hook(converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    def structure_timeout(value: Any, _: Any) -> Union[float, TimeoutConfig]:
        if isinstance(value, Mapping):
            return converter.structure(value, TimeoutConfig)
        return _structure_float(value, float)

    return structure_timeout


def _field_of(error: str) -> str:
    """The first path component of a relative error line."""
    head = error.split(":", 1)[0]
    for sep in (".", "["):
        head = head.split(sep, 1)[0]
    return head


def _make_class_factory(converter: cattrs.Converter) -> Callable[[Any], Any]:
    """Structure a config section field by field, so every problem is reported.

    Fields that convert are still handed to the class, whose own validation then
    reports cross-field and value problems; errors about a field that already failed
    to convert are not repeated.
    """

    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        attrs.resolve_types(cls)
        types = {f.name: f.type for f in attrs.fields(cls)}

        def structure_section(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _FieldError(f"expected a mapping, got {type_name(value)}")
            errors = _unknown_keys(value, list(types))
            causes: list[BaseException] = []
            kwargs: dict[str, Any] = {}
            for name, tp in types.items():
                if name in value:
                    try:
                        kwargs[name] = converter.structure(value[name], tp)
                    except _INPUT_ERRORS as exc:  # anything else is a bug: it propagates
                        errors.extend(_flatten(exc, name))
                        causes.append(exc)
            failed = {_field_of(e) for e in errors}
            try:
                result = cls(**kwargs)
            except ConfigError as exc:
                errors.extend(e for e in exc.errors if _field_of(e) not in failed)
                causes.append(exc)
            if errors:
                raise ConfigError(errors) from (causes[0] if causes else None)
            return result

        return structure_section

    return factory


@functools.lru_cache(maxsize=16)
def _converter(base_dir: Optional[str]) -> cattrs.Converter:
    """A strict converter whose relative paths resolve against ``base_dir``."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    path_hook = _make_path_hook(base_dir)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(Secret, _structure_secret)
    conv.register_structure_hook(Path, path_hook)
    conv.register_structure_hook_func(lambda t: t == Tuple[str, ...], _structure_str_tuple)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, str], _structure_str_mapping)
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook_func(_is_optional, _make_optional_hook(conv))
    conv.register_structure_hook_func(
        lambda t: t == Union[bool, Path], _make_verify_hook(path_hook)
    )
    conv.register_structure_hook_func(
        lambda t: t == Union[float, TimeoutConfig], _make_timeout_hook(conv)
    )
    conv.register_structure_hook_factory(attrs.has, _make_class_factory(conv))
    return conv


# ---------------------------------------------------------------- errors


def _join(path: str, rel: str) -> str:
    if not path:
        return rel
    if rel.startswith("["):
        return path + rel
    return f"{path}.{rel}"


def key_path(path: str, key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return _join(path, key)
    text = repr(key)
    return path + "[" + (text if len(text) <= 60 else text[:57] + "...") + "]"


def _unknown_keys(value: Mapping[Any, Any], names: list[str]) -> list[str]:
    out = []
    for key in value:
        if key in names:
            continue
        close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(names)}"
        out.append(f"{key_path('', key)}: unknown field; {hint}")
    return out


def _flatten(exc: BaseException, path: str) -> list[str]:
    """The problems of one failed conversion (invalid input), as ``path: message`` lines."""
    if isinstance(exc, ConfigError):
        return [_join(path, e) for e in exc.errors]
    return [f"{path or '<root>'}: {exc}"]


def structure_config(document: Any, base_dir: Optional[str] = None) -> PassthroughConfig:
    """Turn a (substituted) provider block into a validated :class:`PassthroughConfig`.

    Raises :class:`ConfigError` listing every problem, each with its path.
    """
    if not isinstance(document, Mapping):
        raise ConfigError(f"<root>: expected a mapping, got {type_name(document)}")
    try:
        result: PassthroughConfig = _converter(base_dir).structure(document, PassthroughConfig)
    except _INPUT_ERRORS as exc:  # only invalid input: an internal error propagates as itself
        raise ConfigError(_flatten(exc, "")) from exc
    return result
