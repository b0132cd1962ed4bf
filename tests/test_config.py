"""Tests of the configuration classes: defaults, immutability and secrets.

Written black-box from DESIGN.md section 2 and provider-config.md. Validation rules are in
``test_config_network.py`` and ``test_config_forward.py``.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict

import attrs
import pytest
from configutil import load_error, nest

from passthrough_client import (
    ConfigError,
    NetworkConfig,
    PassthroughConfig,
    ProxyConfig,
    Secret,
    TimeoutConfig,
    TLSConfig,
    load_config,
)

API_KEY = "sk-TOPSECRET-4711"

PROXY_PASSWORD = "S3CRETPW"

PROXY_URL = f"http://user:{PROXY_PASSWORD}@proxy:8080"


# --- defaults, containers, immutability ---------------------------------------------------


DEFAULTS = [
    (PassthroughConfig, "allowed_models", None),
    (PassthroughConfig, "refresh_models", False),
    (PassthroughConfig, "api_key", None),
    (PassthroughConfig, "network", None),
    (PassthroughConfig, "base_url", None),
    (PassthroughConfig, "forward_headers", None),
    (PassthroughConfig, "extra_blocked_headers", ()),
    (NetworkConfig, "tls", None),
    (NetworkConfig, "proxy", None),
    (NetworkConfig, "timeout", None),
    (NetworkConfig, "headers", None),
    (TLSConfig, "verify", True),
    (TLSConfig, "min_version", None),
    (TLSConfig, "ciphers", None),
    (TLSConfig, "client_cert", None),
    (TLSConfig, "client_key", None),
    (ProxyConfig, "url", None),
    (ProxyConfig, "http", None),
    (ProxyConfig, "https", None),
    (ProxyConfig, "cacert", None),
    (ProxyConfig, "no_proxy", None),
    (TimeoutConfig, "connect", None),
    (TimeoutConfig, "read", None),
]


@pytest.mark.parametrize(("cls", "field", "default"), DEFAULTS)
def test_field_defaults_match_provider_config(cls: Any, field: str, default: Any) -> None:
    """Every field has the default of provider-config.md."""
    assert default == getattr(cls(), field)


@pytest.mark.parametrize("cls", [PassthroughConfig, NetworkConfig, TLSConfig, ProxyConfig])
def test_classes_have_exactly_the_documented_fields(cls: Any) -> None:
    """The attrs fields are exactly those of provider-config.md."""
    expected = {field for c, field, _ in DEFAULTS if c is cls}
    assert expected == {a.name for a in attrs.fields(cls)}


def test_empty_document_loads_the_default_config() -> None:
    """``load_config({})`` equals ``PassthroughConfig()``."""
    assert PassthroughConfig() == load_config({}, environ={})


@pytest.mark.parametrize(
    ("make", "get", "expected"),
    [
        (
            lambda: PassthroughConfig(allowed_models=["a", "b"]),
            lambda c: c.allowed_models,
            ("a", "b"),
        ),
        (lambda: PassthroughConfig(allowed_models=[]), lambda c: c.allowed_models, ()),
        (
            lambda: PassthroughConfig(extra_blocked_headers=["X-A"]),
            lambda c: c.extra_blocked_headers,
            ("X-A",),
        ),
        (lambda: TLSConfig(ciphers=["HIGH"]), lambda c: c.ciphers, ("HIGH",)),
        (lambda: ProxyConfig(no_proxy=["localhost"]), lambda c: c.no_proxy, ("localhost",)),
    ],
)
def test_sequences_are_stored_as_tuples(make: Callable[[], Any], get: Any, expected: Any) -> None:
    """A list given for a sequence field is stored as a tuple."""
    value = get(make())
    assert (tuple, expected) == (type(value), value)


def test_loaded_lists_are_tuples() -> None:
    """Lists read from a document are stored as tuples."""
    config = load_config({"allowed_models": ["m1", "m2"]}, environ={})
    assert config.allowed_models == ("m1", "m2")


@pytest.mark.parametrize(
    ("make", "get"),
    [
        (lambda: NetworkConfig(headers={"X-A": "1"}), lambda c: c.headers),
        (lambda: PassthroughConfig(forward_headers={"k": "X-A"}), lambda c: c.forward_headers),
    ],
)
def test_mappings_are_read_only(make: Callable[[], Any], get: Any) -> None:
    """Assigning into a stored mapping raises ``TypeError``."""
    mapping = get(make())
    with pytest.raises(TypeError):
        mapping["X-New"] = "v"


def test_mapping_is_not_shared_with_the_caller() -> None:
    """Changing the dict given to the constructor does not change the config."""
    headers = {"X-A": "1"}
    config = NetworkConfig(headers=headers)
    headers["X-B"] = "2"
    assert dict(config.headers or {}) == {"X-A": "1"}


@pytest.mark.parametrize(
    ("make", "attr", "value"),
    [
        (PassthroughConfig, "base_url", "http://h"),
        (NetworkConfig, "timeout", 1.0),
        (TLSConfig, "verify", False),
        (ProxyConfig, "url", "http://p:1"),
        (TimeoutConfig, "read", 1.0),
    ],
)
def test_classes_are_frozen(make: Any, attr: str, value: Any) -> None:
    """Setting an attribute raises ``FrozenInstanceError``."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(make(), attr, value)


@pytest.mark.parametrize(
    ("cls", "arg"),
    [
        (PassthroughConfig, ["m"]),
        (NetworkConfig, None),
        (TLSConfig, False),
        (ProxyConfig, "http://p:1"),
        (TimeoutConfig, 1.0),
    ],
)
def test_classes_are_keyword_only(cls: Any, arg: Any) -> None:
    """A positional argument raises ``TypeError``."""
    with pytest.raises(TypeError):
        cls(arg)


def test_evolve_returns_a_changed_copy() -> None:
    """``attrs.evolve`` replaces one field and keeps the others."""
    config = PassthroughConfig(base_url="http://a", refresh_models=True)
    changed = attrs.evolve(config, base_url="https://b")
    assert (
        changed.base_url,
        changed.refresh_models,
        config.base_url,
    ) == ("https://b", True, "http://a")


@pytest.mark.parametrize(
    ("make", "changes"),
    [
        (PassthroughConfig, {"base_url": "ftp://x"}),
        (TLSConfig, {"min_version": "TLSv1.1"}),
        (TimeoutConfig, {"connect": 0}),
        (ProxyConfig, {"url": "socks5://p:1"}),
    ],
)
def test_evolve_revalidates(make: Any, changes: Dict[str, Any]) -> None:
    """``attrs.evolve`` with an invalid value raises ``ConfigError``."""
    with pytest.raises(ConfigError):
        attrs.evolve(make(), **changes)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PassthroughConfig(base_url="localhost:8080"),
        lambda: PassthroughConfig(forward_headers={"k": "Host"}),
        lambda: PassthroughConfig(extra_blocked_headers=[""]),
        lambda: PassthroughConfig(refresh_models="false"),
        lambda: PassthroughConfig(allowed_models="gpt"),
        lambda: NetworkConfig(timeout=-1.0),
        lambda: NetworkConfig(headers={"Bad Header": "x"}),
        lambda: TLSConfig(min_version="TLSv1.1"),
        lambda: TLSConfig(ciphers=["NOT-A-CIPHER"]),
        lambda: TLSConfig(verify=pathlib.Path("/nonexistent/ca.pem")),
        lambda: ProxyConfig(url="http://p:1", https="http://p:2"),
        lambda: ProxyConfig(cacert=pathlib.Path("/nonexistent/ca.pem")),
        lambda: TimeoutConfig(read=0.0),
    ],
)
def test_direct_construction_validates(make: Callable[[], Any]) -> None:
    """Constructing a class with an invalid value raises ``ConfigError``."""
    with pytest.raises(ConfigError):
        make()


def test_direct_construction_error_starts_with_the_field_name() -> None:
    """A direct-construction error entry starts with the offending field's name."""
    with pytest.raises(ConfigError) as info:
        PassthroughConfig(base_url="ftp://x")
    assert [e for e in info.value.errors if e.startswith("base_url:")]


# --- secrets ------------------------------------------------------------------------------


def test_secret_repr_is_masked() -> None:
    """``repr(Secret)`` shows only asterisks."""
    assert repr(Secret(API_KEY)) == "Secret('**********')"


def test_secret_str_is_masked() -> None:
    """``str()`` and formatting of a ``Secret`` show only asterisks."""
    secret = Secret(API_KEY)
    assert (str(secret), f"{secret}") == ("**********", "**********")


def test_secret_reveals_its_value() -> None:
    """``get_secret_value()`` returns the wrapped string."""
    assert Secret(API_KEY).get_secret_value() == API_KEY


@pytest.mark.parametrize(("a", "b", "equal"), [("x", "x", True), ("x", "y", False)])
def test_secrets_compare_by_value(a: str, b: str, equal: bool) -> None:
    """Two secrets are equal exactly when their values are."""
    assert equal == (Secret(a) == Secret(b))
    assert equal != (Secret(a) != Secret(b))


def test_api_key_is_loaded_as_a_secret() -> None:
    """A string ``api_key`` becomes a ``Secret`` holding it."""
    assert Secret(API_KEY) == load_config({"api_key": API_KEY}, environ={}).api_key


@pytest.mark.parametrize("field", ["url", "http", "https"])
def test_config_reprs_hide_secrets(field: str) -> None:
    """The reprs of the config tree contain neither the API key nor a proxy password."""
    proxy = ProxyConfig(**{field: PROXY_URL})
    network = NetworkConfig(proxy=proxy)
    config = PassthroughConfig(api_key=Secret(API_KEY), network=network)
    shown = repr(config) + repr(network) + repr(proxy) + str(config)
    assert (API_KEY in shown, PROXY_PASSWORD in shown) == (False, False)


@pytest.mark.parametrize(
    "doc",
    [
        {"api_key": API_KEY, "base_url": "ftp://x"},
        {"api_key": API_KEY, "refresh_models": "yes"},
        {"api_key": 987654321},
        nest("network.proxy.url", f"socks5://user:{PROXY_PASSWORD}@proxy:1080"),
        nest("network.proxy.https", f"ftp://user:{PROXY_PASSWORD}@proxy"),
        nest("network.proxy", {"url": PROXY_URL, "http": PROXY_URL}),
        {"network": {"proxy": {"http": PROXY_URL}, "timeout": 0}, "api_key": API_KEY},
    ],
)
def test_config_error_hides_secrets(doc: Dict[str, Any]) -> None:
    """No ``ConfigError`` text contains the API key, a proxy password or a numeric key."""
    err = load_error(doc)
    shown = str(err) + repr(err) + "".join(err.errors)
    assert [s for s in (API_KEY, PROXY_PASSWORD, "987654321") if s in shown] == []
