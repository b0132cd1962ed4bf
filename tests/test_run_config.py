"""Tests of ``load_config`` on Llama Stack run configs: choosing the passthrough block.

Written black-box from DESIGN.md section 2 and provider-config.md.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest
from configutil import load_error, write

from passthrough_client import PassthroughConfig, load_config


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
