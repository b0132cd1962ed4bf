"""Tests of ``load_config``/``dump_config``: files, run configs, substitution, strictness.

Written black-box from DESIGN.md section 2 and provider-config.md.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest

from passthrough_client import (
    ConfigError,
    NetworkConfig,
    PassthroughConfig,
    ProxyConfig,
    Secret,
    TimeoutConfig,
    TLSConfig,
    dump_config,
    load_config,
)

MASK = "**********"
PROXY_URL = "http://user:S3CRETPW@proxy:8080"


def load_error(source: Any, environ: Optional[Dict[str, str]] = None, **kw: Any) -> ConfigError:
    """Load ``source`` and return the ``ConfigError`` it raises."""
    with pytest.raises(ConfigError) as info:
        load_config(source, environ={} if environ is None else environ, **kw)
    return info.value


def entries_at(err: ConfigError, path: str) -> List[str]:
    """The error entries reported exactly at ``path``."""
    return [e for e in err.errors if e.startswith(path + ":")]


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def as_json(value: Any) -> Any:
    """``value`` after a trip through JSON text (tuples become lists)."""
    return json.loads(json.dumps(value))


SECTIONS = {"network": NetworkConfig, "tls": TLSConfig, "proxy": ProxyConfig}


def effective(config: PassthroughConfig, path: str) -> Any:
    """The value at dotted ``path``, reading an absent (``None``) section as its default."""
    value: Any = config
    parent = ""
    for part in path.split("."):
        if value is None:
            value = TimeoutConfig() if parent == "timeout" else SECTIONS[parent]()
        value, parent = getattr(value, part), part
    return value


def nest(path: str, value: Any) -> Dict[str, Any]:
    """``nest("network.tls.verify", v)`` -> ``{"network": {"tls": {"verify": v}}}``."""
    doc: Any = value
    for part in reversed(path.split(".")):
        doc = {part: doc}
    return doc  # type: ignore[no-any-return]


# --- files -----------------------------------------------------------------------------------


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


# --- paths -------------------------------------------------------------------------------------

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


# --- Llama Stack run configs -----------------------------------------------------------------


def provider(pid: str, ptype: str, config: Dict[str, Any]) -> Dict[str, Any]:
    """One entry of ``providers.inference``."""
    return {"provider_id": pid, "provider_type": ptype, "config": config}


def run_config(*inference: Dict[str, Any]) -> Dict[str, Any]:
    """A whole Llama Stack run config with the given inference providers."""
    return {
        "version": 2,
        "image_name": "${env.IMAGE_NAME}",
        "apis": ["inference", "safety"],
        "providers": {
            "inference": list(inference),
            "safety": [provider("guard", "inline::llama-guard", {"x": "${env.GUARD}"})],
        },
        "server": {"port": 8321},
    }


OLLAMA = provider("ollama", "remote::ollama", {"url": "${env.OLLAMA_URL}"})


def test_run_config_uses_the_passthrough_block() -> None:
    """The ``config`` of the ``remote::passthrough`` provider is loaded."""
    doc = run_config(OLLAMA, provider("pt", "remote::passthrough", {"base_url": "http://h:1"}))
    assert PassthroughConfig(base_url="http://h:1") == load_config(doc, environ={})


def test_run_config_file_is_loaded(tmp_path: pathlib.Path) -> None:
    """A run config file works like a run config mapping."""
    doc = run_config(provider("pt", "remote::passthrough", {"base_url": "http://h:1"}), OLLAMA)
    source = write(tmp_path / "run.json", json.dumps(doc))
    assert PassthroughConfig(base_url="http://h:1") == load_config(source, environ={})


def test_relative_paths_in_a_run_config_file_resolve_against_its_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths in the chosen block of a run config file are relative to the file."""
    pem = write(tmp_path / "stack" / "ca.pem", "x")
    block = {"network": {"tls": {"verify": "ca.pem"}}}
    source = write(
        tmp_path / "stack" / "run.json",
        json.dumps(run_config(provider("p", "remote::passthrough", block))),
    )
    monkeypatch.chdir(tmp_path)
    verify = load_config(source, environ={}).network.tls.verify  # type: ignore[union-attr]
    assert pem.resolve() == verify.resolve()


@pytest.mark.parametrize(("pid", "url"), [("first", "http://a:1"), ("second", "http://b:2")])
def test_provider_id_selects_among_several(pid: str, url: str) -> None:
    """``provider_id=`` picks one of several passthrough providers."""
    doc = run_config(
        provider("first", "remote::passthrough", {"base_url": "http://a:1"}),
        provider("second", "remote::passthrough", {"base_url": "http://b:2"}),
    )
    assert url == load_config(doc, environ={}, provider_id=pid).base_url


@pytest.mark.parametrize(
    ("inference", "pid"),
    [
        ([OLLAMA], None),
        ([], None),
        (
            [
                provider("a", "remote::passthrough", {}),
                provider("b", "remote::passthrough", {}),
            ],
            None,
        ),
        ([provider("a", "remote::passthrough", {})], "nope"),
        ([OLLAMA, provider("a", "remote::passthrough", {})], "ollama"),
    ],
)
def test_run_config_without_one_passthrough_choice_is_an_error(
    inference: List[Dict[str, Any]], pid: Optional[str]
) -> None:
    """No passthrough provider, several without ``provider_id``, or an unknown id: error."""
    load_error(run_config(*inference), provider_id=pid)


def test_provider_id_with_a_bare_block_is_an_error() -> None:
    """``provider_id=`` with a bare provider block is a ``ConfigError``."""
    load_error({"base_url": "http://h:1"}, provider_id="pt")


def test_substitution_applies_to_the_chosen_block_only() -> None:
    """Unset variables outside the chosen block are not errors; inside they resolve."""
    block = {"base_url": "${env.PT_URL}", "api_key": "${env.PT_KEY:=}"}
    doc = run_config(OLLAMA, provider("pt", "remote::passthrough", block))
    config = load_config(doc, environ={"PT_URL": "http://h:1"})
    assert PassthroughConfig(base_url="http://h:1") == config


# --- substitution --------------------------------------------------------------------------

SUBSTITUTIONS = [
    ("http://h/${env.X}", {"X": "v"}, "http://h/v"),
    ("http://h/${env.X:=d}", {}, "http://h/d"),
    ("http://h/${env.X:=d}", {"X": ""}, "http://h/d"),
    ("http://h/${env.X:=d}", {"X": "v"}, "http://h/v"),
    ("http://h/a${env.X:=}", {}, "http://h/a"),
    ("http://h/a${env.X:+b}", {}, "http://h/a"),
    ("http://h/a${env.X:+b}", {"X": ""}, "http://h/a"),
    ("http://h/a${env.X:+b}", {"X": "v"}, "http://h/ab"),
    ("${env.URL:=http://localhost:8321}", {}, "http://localhost:8321"),
    ("https://${env.HOST}:${env.PORT:=443}", {"HOST": "api.x"}, "https://api.x:443"),
    ("https://${env.HOST}:${env.PORT:=443}", {"HOST": "h", "PORT": "8443"}, "https://h:8443"),
    ("http://${env.H_1}${env.P_2:+:9}/${env.Q:=x}", {"H_1": "h", "P_2": "y"}, "http://h:9/x"),
]

NOT_SUBSTITUTIONS = [
    ("http://h/${env.name}", {"name": "v"}, "http://h/${env.name}"),
    ("http://h/${env.}", {}, "http://h/${env.}"),
    ("http://h/${env.A-B}", {"A": "v"}, "http://h/${env.A-B}"),
    ("http://h/${env.X:-d}", {"X": "v"}, "http://h/${env.X:-d}"),
    ("http://h/$env.X", {"X": "v"}, "http://h/$env.X"),
    ("http://h/${X}", {"X": "v"}, "http://h/${X}"),
    ("http://h/${env.X}", {"X": "${env.Y}"}, "http://h/${env.Y}"),
]


@pytest.mark.parametrize(("template", "environ", "expected"), SUBSTITUTIONS)
def test_substitution_forms(template: str, environ: Dict[str, str], expected: str) -> None:
    """``${env.NAME}``, ``:=default`` and ``:+value`` expand as documented."""
    assert expected == load_config({"base_url": template}, environ=environ).base_url


@pytest.mark.parametrize(("template", "environ", "expected"), NOT_SUBSTITUTIONS)
def test_text_that_is_not_a_substitution_is_kept(
    template: str, environ: Dict[str, str], expected: str
) -> None:
    """Lower-case names, other syntaxes and substituted values are left as text."""
    assert expected == load_config({"base_url": template}, environ=environ).base_url


@pytest.mark.parametrize("environ", [{}, {"PT_URL": ""}])
def test_unset_or_empty_variable_is_reported_with_a_suggestion(environ: Dict[str, str]) -> None:
    """``${env.NAME}`` unset or empty names the path and variable and suggests ``:=``."""
    [entry] = entries_at(load_error({"base_url": "${env.PT_URL}"}, environ), "base_url")
    assert "PT_URL" in entry and "${env.PT_URL:=" in entry


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"allowed_models": ["a", "${env.M}"]}, "allowed_models[1]"),
        ({"network": {"headers": {"X-Foo": "${env.H}"}}}, "network.headers['X-Foo']"),
        ({"forward_headers": {"tenant": "${env.T}"}}, "forward_headers['tenant']"),
        ({"network": {"proxy": {"url": "${env.P}"}}}, "network.proxy.url"),
        ({"network": {"timeout": {"read": "${env.R}"}}}, "network.timeout.read"),
    ],
)
def test_unset_variable_is_reported_at_its_path(doc: Dict[str, Any], path: str) -> None:
    """An unset variable's error starts with the path of the value holding it."""
    assert entries_at(load_error(doc), path)


def test_every_unset_variable_is_reported_at_once() -> None:
    """Several unset variables are listed in one ``ConfigError``."""
    doc = {"base_url": "${env.U_1}", "api_key": "${env.K_2}", "allowed_models": ["${env.M_3}"]}
    err = load_error(doc)
    expected = [("base_url", "U_1"), ("api_key", "K_2"), ("allowed_models[0]", "M_3")]
    assert [
        (path, name)
        for path, name in expected
        if not [e for e in entries_at(err, path) if name in e]
    ] == []


@pytest.mark.parametrize("value", ["00123", "0x1F", "1e3", "true", "spaced key", "null"])
def test_substituted_api_key_keeps_the_exact_text(value: str) -> None:
    """A substituted ``api_key`` is exactly the variable's text, never a number or bool."""
    config = load_config({"api_key": "${env.K}"}, environ={"K": value})
    assert Secret(value) == config.api_key


@pytest.mark.parametrize(
    ("value", "expected"),
    [("TRUE", True), ("True", True), ("true", True), ("false", False), ("FALSE", False)],
)
def test_substituted_bool_field_accepts_true_and_false(value: str, expected: bool) -> None:
    """A bool field accepts ``true``/``false`` in any case from a substitution."""
    config = load_config({"refresh_models": "${env.R}"}, environ={"R": value})
    assert expected == config.refresh_models


@pytest.mark.parametrize("value", ["yes", "1", "0", "on", "f"])
def test_substituted_non_boolean_for_bool_field_is_an_error(value: str) -> None:
    """Only ``true``/``false`` are booleans."""
    assert entries_at(load_error({"refresh_models": "${env.R}"}, {"R": value}), "refresh_models")


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("TRUE", True)])
def test_substituted_tls_verify_boolean(value: str, expected: bool) -> None:
    """``tls.verify`` from a substitution of true/false is a bool, not a path."""
    doc = nest("network.tls.verify", "${env.V}")
    config = load_config(doc, environ={"V": value})
    assert expected is effective(config, "network.tls.verify")


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        ("${env.T}", 2.5),
        ({"connect": "${env.T}"}, TimeoutConfig(connect=2.5)),
        ({"read": "${env.T}", "connect": 1}, TimeoutConfig(connect=1.0, read=2.5)),
    ],
)
def test_substituted_float_field_is_numeric(timeout: Any, expected: Any) -> None:
    """A float field accepts a numeric substitution."""
    config = load_config({"network": {"timeout": timeout}}, environ={"T": "2.5"})
    assert expected == config.network.timeout  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("timeout", "path"),
    [("${env.T}", "network.timeout"), ({"read": "${env.T}"}, "network.timeout.read")],
)
def test_substituted_non_numeric_float_field_is_an_error(timeout: Any, path: str) -> None:
    """A float field with a non-numeric substitution is an error at its path."""
    assert entries_at(load_error({"network": {"timeout": timeout}}, {"T": "fast"}), path)


EMPTY_DEFAULTS = [
    ("base_url", "${env.X:=}", None),
    ("api_key", "${env.X:=}", None),
    ("api_key", "${env.X:+key}", None),
    ("refresh_models", "${env.X:=}", False),
    ("network.tls.verify", "${env.X:=}", True),
    ("network.tls.min_version", "${env.X:=}", None),
    ("network.proxy.url", "${env.X:=}", None),
    ("network.timeout.read", "${env.X:=}", None),
    ("network.timeout", "${env.X:=}", None),
]


@pytest.mark.parametrize(("path", "template", "expected"), EMPTY_DEFAULTS)
def test_value_left_empty_by_substitution_means_the_default(
    path: str, template: str, expected: Any
) -> None:
    """A value that substitution leaves empty takes the field's default."""
    assert expected == effective(load_config(nest(path, template), environ={"X": ""}), path)


def test_header_left_empty_by_substitution_is_dropped() -> None:
    """A ``network.headers`` entry left empty is dropped; the others are kept."""
    doc = {"network": {"headers": {"X-A": "${env.A:=}", "X-B": "b"}}}
    assert dict(load_config(doc, environ={}).network.headers) == {"X-B": "b"}  # type: ignore[union-attr,arg-type]


def test_substitution_applies_inside_lists_and_nested_mappings() -> None:
    """Strings in lists and nested mappings are substituted."""
    doc = {
        "allowed_models": ["${env.M1}", "fixed", "x-${env.M2:=two}"],
        "forward_headers": {"tenant": "${env.TARGET}"},
        "network": {"proxy": {"url": "${env.P}", "no_proxy": ["${env.NP}"]}},
    }
    env = {"M1": "one", "TARGET": "X-Tenant", "P": "http://p:1", "NP": "localhost"}
    config = load_config(doc, environ=env)
    proxy = config.network.proxy  # type: ignore[union-attr]
    assert (
        config.allowed_models,
        dict(config.forward_headers or {}),
        proxy.url,  # type: ignore[union-attr]
        proxy.no_proxy,  # type: ignore[union-attr]
    ) == (("one", "fixed", "x-two"), {"tenant": "X-Tenant"}, "http://p:1", ("localhost",))


def test_given_environ_replaces_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``environ=`` given, ``os.environ`` is never consulted."""
    monkeypatch.setenv("PT_URL", "http://poison:1")
    monkeypatch.setenv("PT_ONLY_OS", "http://poison:2")
    assert (
        load_config({"base_url": "${env.PT_URL}"}, environ={"PT_URL": "http://good:1"}).base_url
        == "http://good:1"
    )
    assert entries_at(load_error({"base_url": "${env.PT_ONLY_OS}"}, {}), "base_url")


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``environ=``, variables come from ``os.environ``."""
    monkeypatch.setenv("PT_URL", "http://from-os:1")
    assert load_config({"base_url": "${env.PT_URL}"}).base_url == "http://from-os:1"


# --- type strictness ---------------------------------------------------------------------------


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


# --- dump_config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        PassthroughConfig(),
        PassthroughConfig(network=NetworkConfig()),
        PassthroughConfig(network=NetworkConfig(tls=TLSConfig())),
        PassthroughConfig(network=NetworkConfig(proxy=ProxyConfig())),
        PassthroughConfig(network=NetworkConfig(timeout=TimeoutConfig())),
    ],
)
def test_dump_omits_all_default_sections(config: PassthroughConfig) -> None:
    """A config whose sections are all default dumps to ``{}``."""
    assert dump_config(config) == {}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (PassthroughConfig(refresh_models=True), {"refresh_models": True}),
        (PassthroughConfig(allowed_models=[]), {"allowed_models": []}),
        (PassthroughConfig(base_url="http://h:1"), {"base_url": "http://h:1"}),
        (
            PassthroughConfig(network=NetworkConfig(tls=TLSConfig(verify=False))),
            {"network": {"tls": {"verify": False}}},
        ),
        (
            PassthroughConfig(network=NetworkConfig(tls=TLSConfig(min_version="TLSv1.3"))),
            {"network": {"tls": {"min_version": "TLSv1.3"}}},
        ),
        (PassthroughConfig(network=NetworkConfig(timeout=2.5)), {"network": {"timeout": 2.5}}),
        (
            PassthroughConfig(network=NetworkConfig(timeout=TimeoutConfig(read=9.0))),
            {"network": {"timeout": {"read": 9.0}}},
        ),
        (
            PassthroughConfig(extra_blocked_headers=["X-A"], forward_headers={"k": "X-B"}),
            {"extra_blocked_headers": ["X-A"], "forward_headers": {"k": "X-B"}},
        ),
    ],
)
def test_dump_contains_only_non_default_fields(
    config: PassthroughConfig, expected: Dict[str, Any]
) -> None:
    """Only fields that differ from their defaults are dumped."""
    assert expected == as_json(dump_config(config))


@pytest.fixture(name="rich")
def fixture_rich(tmp_path: pathlib.Path) -> PassthroughConfig:
    """A configuration that sets every field."""
    ca = write(tmp_path / "ca.pem", "x")
    cert = write(tmp_path / "c.pem", "x")
    key = write(tmp_path / "c.key", "x")
    tls = TLSConfig(
        verify=ca, min_version="TLSv1.2", ciphers=["ECDHE+AESGCM"], client_cert=cert, client_key=key
    )
    proxy = ProxyConfig(url=PROXY_URL, cacert=ca, no_proxy=["localhost", ".corp"])
    network = NetworkConfig(
        tls=tls, proxy=proxy, timeout=TimeoutConfig(connect=3.0, read=60.0), headers={"X-A": "1"}
    )
    return PassthroughConfig(
        allowed_models=["m1", "m2"],
        refresh_models=True,
        api_key=Secret("00123"),
        network=network,
        base_url="https://api.example.com/v1",
        forward_headers={"maas_api_token": "Authorization", "tenant": "X-Tenant"},
        extra_blocked_headers=["X-Internal"],
    )


def test_dump_is_json_serialisable(rich: PassthroughConfig) -> None:
    """The dump of a rich config serialises with ``json.dumps``; paths become strings."""
    dumped = as_json(dump_config(rich, reveal_secrets=True))
    tls = rich.network.tls  # type: ignore[union-attr]
    assert str(tls.client_cert) == dumped["network"]["tls"]["client_cert"]  # type: ignore[union-attr]


def test_dump_masks_secrets(rich: PassthroughConfig) -> None:
    """By default the API key and the proxy password are shown as asterisks."""
    dumped = dump_config(rich)
    text = json.dumps(dumped)
    assert (dumped["api_key"], "00123" in text, "S3CRETPW" in text) == (MASK, False, False)
    assert MASK in dumped["network"]["proxy"]["url"]


def test_dump_reveals_secrets_on_request(rich: PassthroughConfig) -> None:
    """``reveal_secrets=True`` shows the API key and the proxy URL as they are."""
    dumped = dump_config(rich, reveal_secrets=True)
    assert (dumped["api_key"], dumped["network"]["proxy"]["url"]) == ("00123", PROXY_URL)


def test_dump_round_trips_through_load(rich: PassthroughConfig) -> None:
    """``load_config(dump_config(c, reveal_secrets=True)) == c``."""
    assert rich == load_config(dump_config(rich, reveal_secrets=True), environ={})


def test_dump_round_trips_through_a_json_file(
    rich: PassthroughConfig, tmp_path: pathlib.Path
) -> None:
    """A revealed dump written as a JSON file loads back to the same config."""
    source = write(tmp_path / "dumped.json", json.dumps(dump_config(rich, reveal_secrets=True)))
    assert rich == load_config(source, environ={})
