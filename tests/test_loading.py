"""Tests of ``load_config``: files, relative paths and type strictness.

Written black-box from DESIGN.md section 2 and provider-config.md. Run configs, substitution and
``dump_config`` have files of their own (``test_run_config.py``, ``test_substitution.py``,
``test_dump.py``).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict

import pytest
from configutil import entries_at, load_error, write

from passthrough_client import PassthroughConfig, load_config

# --- files --------------------------------------------------------------------------------


def test_json_file_is_read_as_json(tmp_path: pathlib.Path) -> None:
    """A ``.json`` file is parsed as JSON."""
    source = write(tmp_path / "c.json", '{"base_url": "http://h:1", "refresh_models": true}')
    assert PassthroughConfig(base_url="http://h:1", refresh_models=True) == load_config(
        source, environ={}
    )


def test_json_file_holding_yaml_is_an_error(tmp_path: pathlib.Path) -> None:
    """A ``.json`` file is never read as YAML."""
    load_error(write(tmp_path / "c.json", "base_url: http://h:1\n"))


@pytest.mark.parametrize("name", ["c.yaml", "c.yml", "c.conf", "config", "c.YAML"])
def test_other_files_are_read_as_yaml(tmp_path: pathlib.Path, name: str) -> None:
    """Any file not named ``.json`` is parsed as YAML."""
    source = write(tmp_path / name, "base_url: http://h:1\nallowed_models:\n  - m\n")
    assert PassthroughConfig(base_url="http://h:1", allowed_models=["m"]) == load_config(
        source, environ={}
    )


def test_source_path_may_be_a_string(tmp_path: pathlib.Path) -> None:
    """A ``str`` path is loaded like a ``Path``."""
    source = write(tmp_path / "c.yaml", "base_url: http://h:1\n")
    assert PassthroughConfig(base_url="http://h:1") == load_config(str(source), environ={})


def test_missing_file_is_reported_with_its_path(tmp_path: pathlib.Path) -> None:
    """A missing config file is a ``ConfigError`` naming the path as written."""
    written = str(tmp_path / "nope" / "config.yaml")
    text = str(load_error(written)).lower()
    assert written.lower() in text
    assert "not found" in text or "does not exist" in text


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.yaml", "base_url: [http://h\n"),
        ("bad.yaml", "a: b: c\n"),
        ("bad.json", '{"base_url": '),
        ("bad.json", "{'base_url': 'http://h'}"),
        ("list.yaml", "- base_url\n- refresh_models\n"),
        ("scalar.yaml", "just text\n"),
        ("list.json", '[{"base_url": "http://h"}]'),
        ("scalar.json", "42"),
    ],
)
def test_unparsable_or_non_mapping_files_raise_config_error(
    tmp_path: pathlib.Path, name: str, content: str
) -> None:
    """Invalid YAML/JSON or a top level that is not a mapping is a ``ConfigError``."""
    load_error(write(tmp_path / name, content))


@pytest.mark.parametrize("name", ["bad.yaml", "bad.json"])
def test_invalid_utf8_file_raises_config_error(tmp_path: pathlib.Path, name: str) -> None:
    """Bytes that are not UTF-8 are a ``ConfigError``, not a ``UnicodeDecodeError``."""
    (tmp_path / name).write_bytes(b'{"base_url": "http://h\xff\xfe"}\n')
    load_error(tmp_path / name)


def test_directory_source_raises_config_error(tmp_path: pathlib.Path) -> None:
    """A directory given as the source is a ``ConfigError``."""
    load_error(tmp_path)


@pytest.mark.parametrize("text", ["api_key: 00123\n", "api_key: 123456\n", "base_url: 5\n"])
def test_unquoted_number_for_a_string_field_asks_to_quote_it(
    tmp_path: pathlib.Path, text: str
) -> None:
    """YAML ``api_key: 00123`` (a number) is an error saying to quote it."""
    field = text.split(":")[0]
    [entry] = entries_at(load_error(write(tmp_path / "c.yaml", text)), field)
    assert "quote it" in entry.lower()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("base_url: http://a:1\nbase_url: http://b:2\n", "base_url"),
        ("network:\n  tls:\n    min_version: TLSv1.2\n    min_version: TLSv1.3\n", "min_version"),
    ],
)
def test_duplicate_yaml_keys_are_an_error(tmp_path: pathlib.Path, text: str, key: str) -> None:
    """A key given twice in YAML is a ``ConfigError`` mentioning that key."""
    assert key in str(load_error(write(tmp_path / "c.yaml", text)))


# --- paths --------------------------------------------------------------------------------


PATH_CASES = [
    (lambda f: {"network": {"tls": {"verify": f}}}, lambda c: c.network.tls.verify),
    (
        lambda f: {"network": {"proxy": {"url": "http://p:1", "cacert": f}}},
        lambda c: c.network.proxy.cacert,
    ),
    (
        lambda f: {"network": {"tls": {"client_cert": f, "client_key": f}}},
        lambda c: c.network.tls.client_key,
    ),
]


@pytest.mark.parametrize(("make", "get"), PATH_CASES)
def test_relative_paths_in_a_file_resolve_against_its_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, make: Any, get: Any
) -> None:
    """A relative path in a config file is taken relative to the file's folder."""
    pem = write(tmp_path / "conf" / "ca.pem", "x")
    source = write(tmp_path / "conf" / "c.yaml", json.dumps(make("ca.pem")))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    loaded = get(load_config(source, environ={}))
    assert (True, pem.resolve()) == (loaded.is_absolute(), loaded.resolve())


@pytest.mark.parametrize(("make", "get"), PATH_CASES)
def test_relative_paths_in_a_mapping_resolve_against_the_working_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, make: Any, get: Any
) -> None:
    """A relative path in a mapping is taken relative to the working directory."""
    pem = write(tmp_path / "cwd" / "ca.pem", "x")
    monkeypatch.chdir(tmp_path / "cwd")
    loaded = get(load_config(make("ca.pem"), environ={}))
    assert (True, pem.resolve()) == (loaded.is_absolute(), loaded.resolve())


def test_home_is_expanded_in_paths(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``~`` at the start of a path is the home directory."""
    pem = write(tmp_path / "home" / "ca.pem", "x")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    loaded = load_config({"network": {"tls": {"verify": "~/ca.pem"}}}, environ={})
    assert pem == loaded.network.tls.verify  # type: ignore[union-attr]


# --- type strictness ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["false", "true", "yes", "False"])
def test_literal_string_for_bool_field_is_an_error(value: str) -> None:
    """A literal string for ``refresh_models`` asks for true or false."""
    [entry] = entries_at(load_error({"refresh_models": value}), "refresh_models")
    assert "true or false" in entry.lower()


@pytest.mark.parametrize("value", ["false", "true"])
def test_literal_boolean_string_for_tls_verify_is_an_error(value: str) -> None:
    """A literal ``"false"``/``"true"`` for ``tls.verify`` looks like a boolean."""
    err = load_error({"network": {"tls": {"verify": value}}})
    [entry] = entries_at(err, "network.tls.verify")
    assert "looks like a boolean" in entry.lower()


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"api_key": 123}, "api_key"),
        ({"api_key": 1.5}, "api_key"),
        ({"api_key": True}, "api_key"),
        ({"base_url": 5}, "base_url"),
        ({"network": {"proxy": {"url": 8080}}}, "network.proxy.url"),
    ],
)
def test_non_string_for_string_field_asks_to_quote_it(doc: Dict[str, Any], path: str) -> None:
    """A number or bool for a string field is an error saying to quote it."""
    [entry] = entries_at(load_error(doc), path)
    assert "quote it" in entry.lower()


WRONG_TYPES = [
    ({"allowed_models": "gpt"}, "allowed_models"),
    ({"allowed_models": [1]}, "allowed_models[0]"),
    ({"allowed_models": ["a", None]}, "allowed_models[1]"),
    ({"refresh_models": 1}, "refresh_models"),
    ({"network": []}, "network"),
    ({"network": "x"}, "network"),
    ({"network": {"tls": "yes"}}, "network.tls"),
    ({"network": {"tls": {"verify": 1}}}, "network.tls.verify"),
    ({"network": {"tls": {"min_version": 1.2}}}, "network.tls.min_version"),
    ({"network": {"tls": {"ciphers": "HIGH"}}}, "network.tls.ciphers"),
    ({"network": {"timeout": True}}, "network.timeout"),
    ({"network": {"timeout": "fast"}}, "network.timeout"),
    ({"network": {"timeout": [1, 2]}}, "network.timeout"),
    ({"network": {"timeout": {"connect": True}}}, "network.timeout.connect"),
    ({"network": {"proxy": {"no_proxy": "localhost"}}}, "network.proxy.no_proxy"),
    ({"network": {"headers": ["X-A"]}}, "network.headers"),
    ({"network": {"headers": {"X-A": 5}}}, "network.headers['X-A']"),
    ({"forward_headers": {"k": 5}}, "forward_headers['k']"),
    ({"forward_headers": ["k"]}, "forward_headers"),
    ({"extra_blocked_headers": "X-A"}, "extra_blocked_headers"),
]


@pytest.mark.parametrize(("doc", "path"), WRONG_TYPES)
def test_wrong_types_are_errors_at_their_path(doc: Dict[str, Any], path: str) -> None:
    """A value of the wrong type is reported at its path, never converted."""
    assert entries_at(load_error(doc), path)


UNKNOWN_KEYS = [
    ({"alowed_models": []}, "alowed_models", "allowed_models"),
    ({"base_ur": "http://h:1"}, "base_ur", "base_url"),
    ({"network": {"tsl": {}}}, "network.tsl", "tls"),
    ({"network": {"tls": {"verfy": True}}}, "network.tls.verfy", "verify"),
    ({"network": {"tls": {"min_versoin": "TLSv1.2"}}}, "network.tls.min_versoin", "min_version"),
    ({"network": {"proxy": {"no_prxy": []}}}, "network.proxy.no_prxy", "no_proxy"),
    ({"network": {"timeout": {"conect": 1}}}, "network.timeout.conect", "connect"),
    ({"network": {"header": {}}}, "network.header", "headers"),
]


@pytest.mark.parametrize(("doc", "path", "suggestion"), UNKNOWN_KEYS)
def test_unknown_keys_are_reported_with_a_suggestion(
    doc: Dict[str, Any], path: str, suggestion: str
) -> None:
    """An unknown key is an error at its own path, suggesting the close field name."""
    [entry] = entries_at(load_error(doc), path)
    assert entry.lower().startswith(f"{path}: unknown field")
    assert f"did you mean '{suggestion}'" in entry.lower()


def test_unknown_key_without_a_close_match_has_no_suggestion() -> None:
    """An unknown key unlike any field is reported without a suggestion."""
    [entry] = entries_at(load_error({"network": {"zzzzzz": 1}}), "network.zzzzzz")
    assert ("unknown field" in entry.lower(), "did you mean" in entry.lower()) == (True, False)
