"""The command line with run configurations: ``--provider-id``, and ``demo`` refusing a config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from passthrough_client.cli.main import main
from passthrough_client.testing import FakeUpstream


def run_config(tmp_path: Path, first: str, second: str) -> str:
    """A Llama Stack run configuration with two remote::passthrough providers (and another)."""
    providers = [
        {"provider_id": "ollama", "provider_type": "remote::ollama", "config": {}},
        {"provider_id": "first", "provider_type": "remote::passthrough", "config": {
            "base_url": first, "api_key": "key-first"}},
        {"provider_id": "second", "provider_type": "remote::passthrough", "config": {
            "base_url": second, "api_key": "key-second"}},
    ]  # fmt: skip
    document = {"version": 2, "apis": ["inference"], "providers": {"inference": providers}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


@pytest.fixture(name="two")
def fixture_two() -> Any:
    with FakeUpstream(models=("model-a",)) as a, FakeUpstream(models=("model-b",)) as b:
        yield a, b


@pytest.mark.parametrize(
    "argv",
    [
        ["--provider-id", "second", "--config", "{path}", "models"],
        ["models", "--config", "{path}", "--provider-id", "second"],
        ["--config", "{path}", "models", "--provider-id", "second"],
    ],
)
def test_provider_id_anywhere_picks_that_provider(
    two: Any, tmp_path: Path, capsys: Any, argv: list
) -> None:
    """``--provider-id`` before or after the command selects the named provider."""
    a, b = two
    path = run_config(tmp_path, a.url, b.url)
    assert main([arg.format(path=path) for arg in argv]) == 0
    assert capsys.readouterr().out == "model-b\n"
    assert a.requests == []
    assert b.requests[-1].headers["Authorization"] == "Bearer key-second"


def test_several_providers_without_provider_id_name_the_option(
    two: Any, tmp_path: Path, capsys: Any
) -> None:
    """Without ``--provider-id`` the error lists the ids and names the option; exit 2."""
    a, b = two
    assert main(["--config", run_config(tmp_path, a.url, b.url), "models"]) == 2
    err = capsys.readouterr().err
    assert "several remote::passthrough providers ('first', 'second')" in err
    assert "--provider-id" in err
    assert a.requests == [] and b.requests == []


def test_unknown_provider_id_is_a_configuration_error(
    two: Any, tmp_path: Path, capsys: Any
) -> None:
    """A ``--provider-id`` that names no passthrough provider exits 2 saying so."""
    a, b = two
    path = run_config(tmp_path, a.url, b.url)
    assert main(["--config", path, "--provider-id", "ollama", "models"]) == 2
    assert "no remote::passthrough provider with provider_id 'ollama'" in capsys.readouterr().err


def test_config_and_doctor_take_provider_id(two: Any, tmp_path: Path, capsys: Any) -> None:
    """``config`` shows the chosen provider's settings; ``doctor`` checks that service."""
    a, b = two
    path = run_config(tmp_path, a.url, b.url)
    assert main(["config", path, "--provider-id", "first"]) == 0
    out = capsys.readouterr().out
    assert f"configuration: {path}, provider_id 'first' (valid; secrets masked)" in out
    assert f'"base_url": "{a.url}"' in out and b.url not in out
    assert main(["doctor", "--config", path, "--provider-id", "second"]) == 0
    assert "all checks passed" in capsys.readouterr().out
    assert [r.path for r in b.requests] == ["/v1/models"]


def test_provider_id_without_config_is_a_usage_error(capsys: Any) -> None:
    """``--provider-id`` needs a run configuration to choose from: exit 2."""
    assert main(["models", "--provider-id", "x"]) == 2
    assert "--provider-id needs --config FILE" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--config", "run.yaml"], ["--provider-id", "x"]])
def test_demo_refuses_config_options(extra: list, capsys: Any) -> None:
    """``demo`` runs on its own local service, so a configuration is refused (exit 2)."""
    assert main(["demo", *extra]) == 2
    err = capsys.readouterr().err
    assert "demo starts its own local fake service" in err


def test_bare_block_with_provider_id_is_a_configuration_error(tmp_path: Path, capsys: Any) -> None:
    """``--provider-id`` with a bare provider block exits 2 explaining why."""
    path = tmp_path / "block.json"
    path.write_text(json.dumps({"base_url": "http://127.0.0.1:9"}), encoding="utf-8")
    assert main(["--config", str(path), "--provider-id", "x", "models"]) == 2
    assert "bare provider block" in capsys.readouterr().err


def test_run_config_with_one_provider_works_as_it_is(
    upstream: FakeUpstream, tmp_path: Path, capsys: Any
) -> None:
    """A run configuration with a single passthrough provider needs no ``--provider-id``."""
    entry: Dict[str, Any] = {
        "provider_id": "passthrough",
        "provider_type": "remote::passthrough",
        "config": {"base_url": upstream.url},
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"providers": {"inference": [entry]}}), encoding="utf-8")
    assert main(["--config", str(path), "models"]) == 0
    assert capsys.readouterr().out == "fake-model\nfake-embedder\n"
