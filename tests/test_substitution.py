"""Tests of ``${env.NAME}`` substitution in ``load_config``, and of ``environ=``.

Written black-box from DESIGN.md section 2 and provider-config.md.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest
from configutil import entries_at, load_error, nest

from passthrough_client import (
    NetworkConfig,
    PassthroughConfig,
    ProxyConfig,
    Secret,
    TimeoutConfig,
    TLSConfig,
    load_config,
)

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
