"""Hints for configuration mistakes common in the wild (DESIGN §8), via load_config and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from passthrough_client import ConfigError, load_config
from passthrough_client.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
OLD = "is Llama Stack's old syntax; use ${env.%s:=...} for a default"


def errors_of(source: Any, environ: Dict[str, str]) -> List[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(source, environ=environ)
    return caught.value.errors


def cli_error(tmp_path: Path, block: Dict[str, Any], capsys: Any) -> str:
    """Run ``models`` with ``block`` as the configuration file; returns stderr (exit 2 asserted)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(block), encoding="utf-8")
    assert main(["--config", str(path), "models"]) == 2
    return str(capsys.readouterr().err)


def test_url_key_suggests_base_url() -> None:
    """A provider block with ``url:`` asks whether ``base_url`` was meant."""
    assert errors_of({"url": "http://127.0.0.1:9"}, {}) == [
        "url: unknown field; did you mean 'base_url'? (the service's URL is base_url)"
    ]


def test_proxy_url_key_is_not_hinted() -> None:
    """``network.proxy.url`` is a real field: no hint there, and it still loads."""
    config = load_config({"network": {"proxy": {"url": "http://127.0.0.1:9"}}}, environ={})
    assert config.network is not None and config.network.proxy is not None


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"base_url": "${env.URL:http://h}"}, ["base_url: ${env.URL:...} " + OLD % "URL"]),
        ({"api_key": "${env.KEY:}"}, ["api_key: ${env.KEY:...} " + OLD % "KEY"]),
        (
            {"network": {"headers": {"X-Team": "a-${env.TEAM:research}"}}},
            ["network.headers['X-Team']: ${env.TEAM:...} " + OLD % "TEAM"],
        ),
        (
            {"allowed_models": ["m", "${env.MODEL:llama}"]},
            ["allowed_models[1]: ${env.MODEL:...} " + OLD % "MODEL"],
        ),
    ],
)
def test_old_env_syntax_is_an_error_of_its_own(block: Dict[str, Any], expected: List[str]) -> None:
    """``${env.X:default}`` anywhere is reported alone, with the new spelling; never as text."""
    assert errors_of(block, {"URL": "http://h", "KEY": "k", "TEAM": "t", "MODEL": "m"}) == expected


def test_old_env_syntax_never_shows_the_default() -> None:
    """The default of an old-syntax substitution may be a secret: it is not quoted."""
    errors = errors_of({"api_key": "${env.KEY:sk-secret-default}"}, {})
    assert "sk-secret-default" not in "\n".join(errors)


def test_old_env_syntax_in_a_run_configuration_provider_id() -> None:
    """Old syntax in a passthrough provider's ``provider_id`` is the same error, with its path."""
    entry = {"provider_id": "${env.ON:passthrough}", "provider_type": "remote::passthrough"}
    errors = errors_of({"providers": {"inference": [entry]}}, {})
    assert errors == ["providers.inference[0].provider_id: ${env.ON:...} " + OLD % "ON"]


@pytest.mark.parametrize("url", ["localhost:8000", "api.example.com/openai", "10.0.0.5:8321/v1"])
def test_base_url_without_scheme_suggests_one(url: str) -> None:
    """A ``base_url`` without a scheme gets "did you mean http://...?" (the URL is not quoted)."""
    [error] = errors_of({"base_url": url}, {})
    assert error == (
        "base_url: must be an http:// or https:// URL with a host; "
        "it has no scheme: did you mean http://... or https://...?"
    )


def test_a_wrong_scheme_gets_no_scheme_hint() -> None:
    """``ftp://host`` has a scheme: the plain rule, no hint."""
    assert errors_of({"base_url": "ftp://h"}, {}) == [
        "base_url: must be an http:// or https:// URL with a host"
    ]


@pytest.mark.parametrize(
    ("block", "hint"),
    [
        ({"url": "http://127.0.0.1:9"}, "did you mean 'base_url'?"),
        ({"base_url": "${env.URL:http://127.0.0.1:9}"}, "use ${env.URL:=...} for a default"),
        ({"base_url": "127.0.0.1:9"}, "did you mean http://... or https://...?"),
    ],
)
def test_hints_reach_the_command_line(
    tmp_path: Path, capsys: Any, block: Dict[str, Any], hint: str
) -> None:
    """The CLI prints each hint on its one error line and exits 2."""
    err = cli_error(tmp_path, block, capsys)
    assert err.startswith("error: invalid configuration: ")
    assert hint in err and len(err.splitlines()) == 1


def test_missing_pyyaml_names_both_install_spellings(tmp_path: Path) -> None:
    """Without PyYAML, loading YAML says how to install it from PyPI and from a checkout."""
    path = tmp_path / "c.yaml"
    path.write_text("base_url: http://h\n", encoding="utf-8")
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from passthrough_client import load_config, ConfigError\n"
        f"try:\n    load_config({str(path)!r})\nexcept ConfigError as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=str(ROOT)
    )
    assert "pip install 'passthrough-client[yaml]'" in result.stdout
    assert "pip install '.[yaml]' from a checkout" in result.stdout
