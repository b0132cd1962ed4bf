"""Honest errors: ``ConfigError`` only for invalid input (cause chained); a vendored copy
names itself in logs and the distribution in ``pip install`` hints (DESIGN §6, §10)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

import passthrough_client
from passthrough_client import ConfigError, load_config
from passthrough_client._convert import structure_config


class ExplodingMapping(Mapping[str, str]):
    """A mapping whose iteration fails: a bug in the caller's code, not invalid input."""

    def __getitem__(self, key: str) -> str:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom from the caller's mapping")

    def __len__(self) -> int:
        return 1


def test_unexpected_exception_in_conversion_propagates_as_itself() -> None:
    """Not ``forward_headers: invalid value (RuntimeError)``: the RuntimeError itself."""
    document: Any = {"base_url": "http://127.0.0.1:1", "forward_headers": ExplodingMapping()}
    with pytest.raises(RuntimeError, match="boom from the caller's mapping"):
        structure_config(document)


def test_config_error_chains_its_cause() -> None:
    """A ConfigError for invalid input names the field and chains what found it."""
    with pytest.raises(ConfigError) as caught:
        load_config({"base_url": 5, "refresh_models": "yes"}, environ={})
    error = caught.value
    assert (error.__cause__ is not None, sorted(e.split(":")[0] for e in error.errors)) == (
        True,
        ["base_url", "refresh_models"],
    )


VENDORED_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    sys.modules["yaml"] = None  # PyYAML missing: loading a .yaml file suggests pip install
    import vendored_pt
    from vendored_pt.testing import FakeUpstream

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    with FakeUpstream() as upstream:
        client = vendored_pt.PassthroughClient(base_url=upstream.url, environ={})
        models = [m.id for m in client.models()]
    try:
        vendored_pt.load_config(sys.argv[1])
        hint = None
    except vendored_pt.ConfigError as exc:
        hint = str(exc)
    print(json.dumps({
        "models": models,
        "loggers": sorted({r.name for r in records if r.name.split(".")[0] != "urllib3"}),
        "hint": hint,
        "original_imported": "passthrough_client" in sys.modules,
    }))
    """
)


def test_vendored_copy_names_its_logger_and_the_distribution(tmp_path: Path) -> None:
    """Copied into another package name, the logger follows that name and the
    ``pip install`` hint still names the ``passthrough-client`` distribution."""
    source = Path(passthrough_client.__file__).parent
    shutil.copytree(source, tmp_path / "vendored_pt", ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "run.yaml"
    config.write_text("base_url: http://127.0.0.1:1\n", encoding="utf-8")
    script = tmp_path / "use_vendored.py"
    script.write_text(VENDORED_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert (seen["original_imported"], seen["models"] != [], seen["loggers"]) == (
        False,
        True,
        ["vendored_pt"],
    )
    assert "pip install 'passthrough-client[yaml]'" in seen["hint"]
