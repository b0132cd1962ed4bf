"""Pickling (DESIGN §4 "Processes"): configs and clients travel to other processes."""

from __future__ import annotations

import inspect
import pickle
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict

import pytest
from netutil import Pki, RecordingProxy, closed_port

from passthrough_client import (
    InternalServerError,
    NetworkConfig,
    PassthroughClient,
    PassthroughConfig,
    load_config,
)
from passthrough_client.testing import FakeUpstream, Reply

KEY = "sk-pickled-key"
MESSAGES = [{"role": "user", "content": "hi"}]
FULL = {
    "base_url": "http://127.0.0.1:9/openai",
    "api_key": KEY,
    "allowed_models": ["fake-model"],
    "refresh_models": True,
    "forward_headers": {"tenant_id": "X-Tenant-ID"},
    "extra_blocked_headers": ["X-Internal"],
    "network": {
        "timeout": {"connect": 2, "read": 30},
        "headers": {"X-Team": "research"},
        "proxy": {"url": "http://user:pass@127.0.0.1:3128", "no_proxy": ["localhost"]},
        "tls": {"min_version": "TLSv1.2"},
    },
}


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        PassthroughConfig(),
        load_config({"base_url": "http://h"}),
        load_config(FULL),
        NetworkConfig(headers={"A": "b"}, timeout=3),
    ],
    ids=["empty", "base-url", "every-section", "network-only"],
)
def test_config_round_trips(config: Any) -> None:
    """A configuration (read-only mappings included) pickles to an equal copy."""
    assert config == round_trip(config)


def test_config_copy_keeps_mappings_read_only() -> None:
    """The copy's mappings are read-only again, like the original's."""
    copy = round_trip(load_config(FULL))
    assert isinstance(copy.forward_headers, MappingProxyType)
    assert isinstance(copy.network.headers, MappingProxyType)
    with pytest.raises(TypeError):
        copy.network.headers["X-Team"] = "other"


def test_config_with_a_ca_path_round_trips(origin: Pki) -> None:
    """Paths survive the trip (they must exist where the copy is loaded)."""
    config = load_config(
        {"base_url": "https://h", "network": {"tls": {"verify": str(origin.ca_file)}}}
    )
    assert round_trip(config).network.tls.verify == origin.ca_file


def test_secret_travels_inside_the_pickle() -> None:
    """The API key is in the pickled bytes (documented): treat pickles as secrets."""
    config = load_config({"api_key": KEY})
    assert KEY.encode() in pickle.dumps(config)
    assert round_trip(config).api_key.get_secret_value() == KEY


# --- the client -------------------------------------------------------------------------


@pytest.fixture(name="config")
def fixture_config(upstream: FakeUpstream) -> Dict[str, Any]:
    return {
        "base_url": upstream.url,
        "api_key": KEY,
        "forward_headers": {"tenant_id": "X-Tenant-ID"},
        "network": {"headers": {"X-Team": "research"}},
    }


def test_client_copy_sends_the_same_request(config: Dict[str, Any], upstream: FakeUpstream) -> None:
    """The copy has the configuration: base URL, key, headers and forwarding."""
    copy = round_trip(PassthroughClient(config, environ={}))
    assert copy.config == load_config(config)
    copy.chat(model="fake-model", messages=MESSAGES, provider_data={"tenant_id": "acme"})
    sent = upstream.requests[-1].headers
    assert (sent["Authorization"], sent["X-Tenant-ID"], sent["X-Team"]) == (
        f"Bearer {KEY}",
        "acme",
        "research",
    )


def test_client_copy_keeps_max_retries(config: Dict[str, Any], upstream: FakeUpstream) -> None:
    """max_retries=0 travels: the copy does not retry a 503."""
    copy = round_trip(PassthroughClient(config, environ={}, max_retries=0))
    upstream.enqueue(Reply.json(503, {"error": {"message": "busy"}}))
    with pytest.raises(InternalServerError):
        copy.chat(model="fake-model", messages=MESSAGES)
    assert len(upstream.requests) == 1


def test_with_options_copy_keeps_its_per_call_defaults(
    config: Dict[str, Any], upstream: FakeUpstream
) -> None:
    """A ``with_options`` copy pickles with its defaults: extra headers and max_retries=0."""
    client = PassthroughClient(config, environ={})
    copy = round_trip(client.with_options(max_retries=0, extra_headers={"X-Job": "nightly"}))
    upstream.enqueue(Reply.json(503, {"error": {"message": "busy"}}))
    with pytest.raises(InternalServerError):
        copy.chat(model="fake-model", messages=MESSAGES)
    assert len(upstream.requests) == 1  # not retried: the copy's max_retries=0 travelled
    assert upstream.requests[-1].headers["X-Job"] == "nightly"
    client.close()
    copy.close()


def test_client_copy_keeps_refresh_interval(upstream: FakeUpstream) -> None:
    """refresh_interval travels: the copy's cached model list expires after it."""
    config = {"base_url": upstream.url, "refresh_models": True}
    copy = round_trip(PassthroughClient(config, environ={}, refresh_interval=0.05))
    copy.models()
    time.sleep(0.1)
    copy.models()
    assert len(upstream.requests) == 2


def test_client_copy_keeps_every_constructor_option(config: Dict[str, Any]) -> None:
    """The options given to the constructor are in the copy (pool_maxsize included)."""
    client = PassthroughClient(
        config, environ={}, max_retries=5, pool_maxsize=3, refresh_interval=7.0
    )
    copy = round_trip(client)
    assert copy._options == client._options
    assert tuple(
        copy._options[name] for name in ("max_retries", "pool_maxsize", "refresh_interval")
    ) == (5, 3, 7.0)


def test_every_constructor_option_is_remembered_for_pickling(config: Dict[str, Any]) -> None:
    """A keyword added to PassthroughClient() must be added to the options that pickle."""
    keywords = inspect.signature(PassthroughClient).parameters
    expected = set(keywords) - {"config", "base_url", "api_key", "environ"}
    assert expected == set(PassthroughClient(config, environ={})._options)


def test_client_copy_opens_its_own_connections(
    config: Dict[str, Any], upstream: FakeUpstream
) -> None:
    """The copy never shares the original's pooled connection; both keep working."""
    client = PassthroughClient(config, environ={})
    client.models(refresh=True)
    copy = round_trip(client)
    copy.models(refresh=True)
    client.models(refresh=True)
    first, second, third = (r.connection_id for r in upstream.requests)
    assert first == third != second


def test_client_copy_keeps_the_proxy_from_the_construction_environment(
    proxy: RecordingProxy, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY read at construction travels; the unpickling process's does not apply."""
    client = PassthroughClient({"base_url": upstream.url}, environ={"HTTP_PROXY": proxy.url()})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    round_trip(client).models()
    assert [f"{r.method} {r.target}" for r in proxy.records] == [f"GET {upstream.url}/v1/models"]


def test_client_copy_ignores_the_unpickling_process_environment(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A client built without proxy or CA variables stays without them in the copy."""
    client = PassthroughClient({"base_url": upstream.url}, environ={})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert [m.id for m in round_trip(client).models()] == ["fake-model", "fake-embedder"]


def test_client_copy_keeps_ca_bundle_and_key_log(
    secure: FakeUpstream, origin: Pki, tmp_path: Path
) -> None:
    """REQUESTS_CA_BUNDLE and SSLKEYLOGFILE read at construction apply in the copy."""
    keylog = tmp_path / "keys.log"
    environ = {"REQUESTS_CA_BUNDLE": str(origin.ca_file), "SSLKEYLOGFILE": str(keylog)}
    copy = round_trip(PassthroughClient({"base_url": secure.url}, environ=environ))
    copy.models()
    assert "CLIENT_" in keylog.read_text()


def test_stream_refuses_to_pickle(upstream: FakeUpstream) -> None:
    """A Stream is bound to this process's connection: pickling it is a TypeError."""
    client = PassthroughClient({"base_url": upstream.url}, environ={})
    stream = client.chat(model="fake-model", messages=MESSAGES, stream=True)
    with stream, pytest.raises(TypeError, match=r"Stream cannot be pickled.*collect"):
        pickle.dumps(stream)
