"""``load_config`` and ``dump_config``: files, run configurations and ``${env.*}`` substitution."""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any, Mapping, Optional, Union

import attrs

from ._rules.proxy import mask_url
from ._secret import MASK
from .config import PassthroughConfig, Secret
from .exceptions import ConfigError

__all__ = ["dump_config", "load_config"]

PROVIDER_TYPE = "remote::passthrough"
_VARIABLE = re.compile(r"\$\{env\.([A-Z0-9_]+)(?:(:=|:\+)([^}]*))?\}")
# Llama Stack's old default syntax, ``${env.NAME:default}``: a hint, never a literal
# (``:-``, the shell's spelling, is not Llama Stack's and stays text like any other).
_OLD_DEFAULT = re.compile(r"\$\{env\.([A-Za-z0-9_]+):(?![=+-])[^}]*\}")
_DROP = object()  # a value that substitution left empty: "not set"
_MAPPING_FIELDS = frozenset({"forward_headers", "network.headers"})  # keys shown as ['k']

Source = Union[Mapping[str, Any], str, "os.PathLike[str]"]


def load_config(
    source: Source,
    *,
    environ: Optional[Mapping[str, str]] = None,
    provider_id: Optional[str] = None,
) -> PassthroughConfig:
    """Load and validate a ``remote::passthrough`` configuration.

    ``source`` is a mapping, or the path of a YAML or JSON file (``.json`` is read as
    JSON, anything else as YAML, which needs the ``yaml`` extra). It may hold the bare
    provider ``config`` block or a whole Llama Stack run configuration; then the
    ``remote::passthrough`` entry of ``providers.inference`` is used (``provider_id``
    picks one when there are several). ``${env.NAME}``, ``${env.NAME:=default}`` and
    ``${env.NAME:+value}`` are substituted from ``environ`` (default ``os.environ``)
    in the chosen block. Relative paths resolve against the file's folder, or the
    working directory for a mapping.

    Raises :class:`ConfigError` listing every problem, each with its path.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    base_dir: Optional[str] = None
    if isinstance(source, Mapping):
        document: Any = source
    elif isinstance(source, (str, os.PathLike)):
        document, base_dir = _read_file(os.fspath(source))
    else:
        raise ConfigError(
            f"<source>: expected a mapping or a file path, got {type(source).__name__}"
        )
    block = _select_block(document, provider_id, env)
    old_syntax = _old_syntax(block, "")
    if old_syntax:  # reported alone: the other problems would only follow from it
        raise ConfigError(old_syntax)
    errors: list[str] = []
    substituted = _substitute_tree(block, env, "", errors)
    from ._convert import structure_config  # imports cattrs: only when loading (~20 ms)

    try:
        config = structure_config(substituted, base_dir)
    except ConfigError as exc:
        raise ConfigError(errors + [_hinted(e) for e in exc.errors]) from exc
    if errors:
        raise ConfigError(errors)
    return config


# ---------------------------------------------------------------- files


def _read_file(path: str) -> tuple[Any, str]:
    full = os.path.abspath(os.path.expanduser(path))
    try:
        with open(full, "rb") as handle:
            raw = handle.read()
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"<file>: configuration file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"<file>: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"<file>: {path} is not UTF-8 text") from None
    document = _parse_json(text, path) if full.endswith(".json") else _parse_yaml(text, path)
    if document is None:
        raise ConfigError(f"<file>: {path} is empty; expected a mapping of settings")
    return document, os.path.dirname(full)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ConfigError(f"<file>: {path} is not valid JSON ({exc.msg} at {where})") from None
    except ValueError as exc:  # duplicate key
        raise ConfigError(f"<file>: {path}: {exc}") from None


@functools.lru_cache(maxsize=1)
def _yaml_loader() -> Any:
    """A SafeLoader that rejects duplicate keys (built on first use: PyYAML is optional)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: Any, node: Any) -> Any:
        seen: list[Any] = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.append(key)
        return loader.construct_mapping(node, deep=True)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def _parse_yaml(text: str, path: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            f"<file>: reading {path} needs PyYAML: pip install 'passthrough-client[yaml]' "
            "(or pip install '.[yaml]' from a checkout), or use a .json file"
        ) from None
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"<file>: {path} is not valid YAML: {detail[:300]}") from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"<file>: {path} is not valid YAML: {exc}") from None


# ---------------------------------------------------------------- run configurations


def _select_block(
    document: Any, provider_id: Optional[str], environ: Mapping[str, str]
) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise ConfigError(f"<root>: expected a mapping, got {type(document).__name__}")
    if "providers" not in document:
        if provider_id is not None:
            raise ConfigError(
                "provider_id: given, but the source is a bare provider block, "
                "not a Llama Stack run configuration"
            )
        return document
    return _provider_block(document["providers"], provider_id, environ)


def _provider_block(
    providers: Any, provider_id: Optional[str], environ: Mapping[str, str]
) -> Mapping[str, Any]:
    path = "providers.inference"
    entries = providers.get("inference") if isinstance(providers, Mapping) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a list of providers in the run configuration")
    found = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping) and entry.get("provider_type") == PROVIDER_TYPE:
            old_syntax = _old_syntax(entry.get("provider_id"), f"{path}[{i}].provider_id")
            if old_syntax:
                raise ConfigError(old_syntax)
            pid = _lenient_substitute(entry.get("provider_id"), environ)
            if pid:  # Llama Stack disables a provider whose id substitutes to empty
                found.append((i, pid, entry))
    if provider_id is not None:
        found = [f for f in found if f[1] == provider_id]
    if not found:
        which = f" with provider_id {provider_id!r}" if provider_id is not None else ""
        raise ConfigError(f"{path}: no {PROVIDER_TYPE} provider{which} found")
    if len(found) > 1:
        ids = ", ".join(repr(f[1]) for f in found)
        raise ConfigError(
            f"{path}: several {PROVIDER_TYPE} providers ({ids}); pick one with provider_id= "
            "(--provider-id on the command line)"
        )
    index, _, entry = found[0]
    block = entry.get("config", {})
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise ConfigError(f"{path}[{index}].config: expected a mapping")
    return block


def _lenient_substitute(value: Any, environ: Mapping[str, str]) -> Optional[str]:
    if not isinstance(value, str):
        return None
    result = _substitute(value, environ, "provider_id", [])
    return None if result is _DROP else str(result)


# ---------------------------------------------------------------- substitution


def _substitute(text: str, environ: Mapping[str, str], path: str, errors: list[str]) -> Any:
    """Substitute every ``${env.*}`` in ``text``; ``_DROP`` when the result is empty."""
    if "${env." not in text:
        return text
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal failed
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = environ.get(name, "")
        if op == ":=":
            return value or arg
        if op == ":+":
            return arg if value else ""
        if not value:
            failed = True
            state = "is empty" if name in environ else "is not set"
            errors.append(
                f"{path or '<root>'}: environment variable {name} {state}; "
                f"use ${{env.{name}:=default}} to give a default"
            )
        return value

    result = _VARIABLE.sub(replace, text)
    if failed or not result:
        return _DROP
    from ._convert import Substituted  # cattrs on use only (see load_config)

    return Substituted(result) if result != text else text


def _child_path(path: str, key: Any) -> str:
    from ._convert import key_path  # cattrs on use only (see load_config)

    return f"{path}[{key!r}]" if path in _MAPPING_FIELDS else key_path(path, key)


def _substitute_tree(node: Any, environ: Mapping[str, str], path: str, errors: list[str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, environ, path, errors)
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            where = _child_path(path, key)
            new = _substitute_tree(value, environ, where, errors)
            if new is not _DROP:
                out[key] = new
        return out
    if isinstance(node, list):
        items = (_substitute_tree(v, environ, f"{path}[{i}]", errors) for i, v in enumerate(node))
        return [item for item in items if item is not _DROP]
    return node


# ---------------------------------------------------------------- hints


def _hinted(error: str) -> str:
    """``error`` with a hint for a mistake common in the wild (``url:`` for ``base_url:``)."""
    if error.startswith("url: unknown field;"):
        return "url: unknown field; did you mean 'base_url'? (the service's URL is base_url)"
    return error


def _old_syntax(node: Any, path: str) -> list[str]:
    """One error per string using ``${env.NAME:default}`` (names only: a default may be secret)."""
    if isinstance(node, str):
        names = _OLD_DEFAULT.findall(node)
        return [
            f"{path or '<root>'}: ${{env.{name}:...}} is Llama Stack's old syntax; "
            f"use ${{env.{name}:=...}} for a default"
            for name in names
        ]
    if isinstance(node, Mapping):
        pairs = [(_child_path(path, key), value) for key, value in node.items()]
    elif isinstance(node, list):
        pairs = [(f"{path}[{i}]", value) for i, value in enumerate(node)]
    else:
        return []
    return [error for where, value in pairs for error in _old_syntax(value, where)]


# ---------------------------------------------------------------- dumping


def dump_config(config: PassthroughConfig, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """A JSON-compatible dict of the fields that differ from their defaults.

    Secrets (the API key, proxy passwords) are shown as ``**********`` unless
    ``reveal_secrets`` is true; then ``load_config(dump_config(c, reveal_secrets=True))
    == c``. A section left all-default is omitted (all-default sections compare equal
    to absent ones). Note that a present ``network.tls``/``network.proxy`` section,
    even an empty one, keeps the environment's CA/proxy variables out; its dump does not.
    """
    if not isinstance(config, PassthroughConfig):
        raise TypeError(f"dump_config() takes a PassthroughConfig, not {type(config).__name__}")
    return _dump_section(config, reveal_secrets)


def _default_of(field: Any) -> Any:
    default = field.default
    return default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]


def _dump_section(obj: Any, reveal: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if value == _default_of(field):
            continue
        dumped = _dump_value(value, reveal, field.name)
        if dumped != {} or not attrs.has(type(value)):
            out[field.name] = dumped
    return out


def _dump_value(value: Any, reveal: bool, name: str) -> Any:
    if attrs.has(type(value)):
        return _dump_section(value, reveal)
    if isinstance(value, Secret):
        return value.get_secret_value() if reveal else MASK
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if name in ("url", "http", "https") and isinstance(value, str) and not reveal:
        return mask_url(value)
    return value
