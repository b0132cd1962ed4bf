"""Tests of ``dump_config``: defaults omitted, secrets masked, round trips through load.

Written black-box from DESIGN.md section 2 and provider-config.md.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict

import pytest
from configutil import write

from passthrough_client import (
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


def as_json(value: Any) -> Any:
    """``value`` after a trip through JSON text (tuples become lists)."""
    return json.loads(json.dumps(value))


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
