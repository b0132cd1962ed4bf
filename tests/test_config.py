"""Tests of the configuration classes: defaults, immutability, secrets and validation rules.

Written black-box from DESIGN.md section 2 and provider-config.md. Validation rules are
exercised through ``load_config`` on mappings, so that the reported paths can be checked.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict, List, NamedTuple

import attrs
import pytest
import trustme

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

CORE_BLOCKED = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "cookie",
    "set-cookie",
    "forwarded",
    "proxy-authorization",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-prefix",
    "x-real-ip",
]
FRAMING = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "TE", "Trailer", "Upgrade"]


class Files(NamedTuple):
    """Real certificate files for path-valued fields."""

    folder: pathlib.Path
    ca: pathlib.Path
    cert: pathlib.Path
    key: pathlib.Path


@pytest.fixture(name="files", scope="module")
def fixture_files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """A CA file, a client certificate and its key, made once per module."""
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("client.example")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    leaf.private_key_pem.write_to_path(str(folder / "client.key"))
    return Files(folder, folder / "ca.pem", folder / "client.pem", folder / "client.key")


def mixed_case(name: str) -> str:
    """``content-type`` -> ``cOnTeNt-tYpE``."""
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))


def nest(path: str, value: Any) -> Dict[str, Any]:
    """``nest("network.tls.verify", v)`` -> ``{"network": {"tls": {"verify": v}}}``."""
    doc: Any = value
    for part in reversed(path.split(".")):
        doc = {part: doc}
    return doc  # type: ignore[no-any-return]


def load_error(doc: Any) -> ConfigError:
    """Load ``doc`` with an empty environment and return the ``ConfigError`` it raises."""
    with pytest.raises(ConfigError) as info:
        load_config(doc, environ={})
    return info.value


def entries_at(err: ConfigError, path: str) -> List[str]:
    """The error entries reported exactly at ``path``."""
    return [e for e in err.errors if e.startswith(path + ":")]


# --- defaults, containers, immutability -------------------------------------------------

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


# --- secrets ----------------------------------------------------------------------------


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


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["client_cert", "client_key"])
def test_client_cert_and_key_must_come_together(files: Files, missing: str) -> None:
    """``client_cert`` without ``client_key`` (or the reverse) is an error."""
    tls = {"client_cert": str(files.cert), "client_key": str(files.key)}
    del tls[missing]
    err = load_error(nest("network.tls", tls))
    assert [e for e in err.errors if e.startswith("network.tls")]


def test_client_cert_and_key_together_are_accepted(files: Files) -> None:
    """A certificate and key given together are stored as paths."""
    tls = {"client_cert": str(files.cert), "client_key": str(files.key)}
    loaded = load_config(nest("network.tls", tls), environ={}).network
    assert loaded is not None and loaded.tls is not None
    assert (files.cert, files.key) == (loaded.tls.client_cert, loaded.tls.client_key)


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("network.tls.verify", {}),
        ("network.tls.client_cert", {"network.tls.client_key": "KEY"}),
        ("network.tls.client_key", {"network.tls.client_cert": "CERT"}),
        ("network.proxy.cacert", {"network.proxy.url": "http://proxy:3128"}),
    ],
)
def test_missing_file_is_reported_with_the_path_as_written(
    files: Files, path: str, extra: Dict[str, str]
) -> None:
    """A path field naming a missing file is an error naming the field and the path."""
    written = str(files.folder / "no-such-file.pem")
    section, _, field = path.rpartition(".")
    block = {field: written}
    for other, value in extra.items():
        block[other.rpartition(".")[2]] = str(files.key if value == "KEY" else files.cert)
    err = load_error(nest(section, block))
    [entry] = entries_at(err, path)
    assert written in entry
    assert "not found" in entry.lower() or "does not exist" in entry.lower()


@pytest.mark.parametrize("which", ["ca", "folder"])
def test_existing_ca_file_or_directory_is_accepted_for_verify(files: Files, which: str) -> None:
    """``verify`` accepts an existing CA file or directory and stores a ``Path``."""
    target = getattr(files, which)
    tls = load_config(nest("network.tls.verify", str(target)), environ={}).network.tls  # type: ignore[union-attr]
    assert target == tls.verify


def test_relative_path_in_direct_construction_is_made_absolute(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative ``verify`` path given to ``TLSConfig`` is resolved against the cwd."""
    monkeypatch.chdir(files.folder)
    verify = TLSConfig(verify=pathlib.Path("ca.pem")).verify
    assert isinstance(verify, pathlib.Path)
    assert (True, files.ca.resolve()) == (verify.is_absolute(), verify.resolve())


def test_home_is_expanded_in_direct_construction(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``~`` in a path given to ``TLSConfig`` is the home directory."""
    monkeypatch.setenv("HOME", str(files.folder))
    assert files.ca == TLSConfig(verify=pathlib.Path("~/ca.pem")).verify


@pytest.mark.parametrize("value", ["TLSv1.1", "TLSv1", "SSLv3", "TLSv1.4", "1.2", "tls"])
def test_min_version_is_tls12_or_tls13_only(value: str) -> None:
    """``tls.min_version`` other than TLSv1.2/TLSv1.3 is an error at its path."""
    assert entries_at(load_error(nest("network.tls.min_version", value)), "network.tls.min_version")


@pytest.mark.parametrize("value", ["TLSv1.2", "TLSv1.3"])
def test_min_version_accepts_tls12_and_tls13(value: str) -> None:
    """``TLSv1.2`` and ``TLSv1.3`` are accepted as they are."""
    config = load_config(nest("network.tls.min_version", value), environ={})
    assert value == config.network.tls.min_version  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ciphers", "bad_index"),
    [
        (["NOT-A-CIPHER"], 0),
        (["ECDHE+AESGCM", "NOT-A-CIPHER"], 1),
        (["HIGH", "NOPE-NOPE", "AESGCM"], 1),
    ],
)
def test_cipher_rejected_by_openssl_is_reported_at_its_index(
    ciphers: List[str], bad_index: int
) -> None:
    """A ``tls.ciphers`` entry OpenSSL rejects is an error at ``ciphers[i]``."""
    err = load_error(nest("network.tls.ciphers", ciphers))
    assert entries_at(err, f"network.tls.ciphers[{bad_index}]")


def test_ciphers_openssl_accepts_are_stored() -> None:
    """Cipher strings OpenSSL accepts are stored as a tuple in order."""
    config = load_config(nest("network.tls.ciphers", ["ECDHE+AESGCM", "DHE+AESGCM"]), environ={})
    assert config.network.tls.ciphers == ("ECDHE+AESGCM", "DHE+AESGCM")  # type: ignore[union-attr]


# --- proxy and URLs -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_url_excludes_per_scheme_proxies(scheme: str) -> None:
    """``proxy.url`` together with ``proxy.http`` or ``proxy.https`` is an error."""
    err = load_error(nest("network.proxy", {"url": "http://p:1", scheme: "http://q:2"}))
    assert [e for e in err.errors if e.startswith("network.proxy")]


def test_per_scheme_proxies_may_be_combined() -> None:
    """``proxy.http`` and ``proxy.https`` may be given together."""
    proxy = {"http": "http://p:1", "https": "https://q:2"}
    loaded = load_config(nest("network.proxy", proxy), environ={}).network.proxy  # type: ignore[union-attr]
    assert (loaded.http, loaded.https) == ("http://p:1", "https://q:2")


URL_FIELDS = ["base_url", "network.proxy.url", "network.proxy.http", "network.proxy.https"]


@pytest.mark.parametrize("path", URL_FIELDS)
@pytest.mark.parametrize(
    "url", ["ftp://x", "http://", "socks5://p:1", "localhost:8080", "https:///v1", "p:8080"]
)
def test_urls_must_be_http_or_https_with_a_host(path: str, url: str) -> None:
    """A URL field that is not an http(s) URL with a host is an error at its path."""
    assert entries_at(load_error(nest(path, url)), path)


@pytest.mark.parametrize("path", URL_FIELDS)
@pytest.mark.parametrize(
    "url", ["http://localhost:8321", "https://api.example.com/v1", "http://[::1]:8080"]
)
def test_http_and_https_urls_are_accepted(path: str, url: str) -> None:
    """http(s) URLs with a host are stored unchanged."""
    config: Any = load_config(nest(path, url), environ={})
    for part in path.split("."):
        config = getattr(config, part)
    assert url == config


# --- network.headers ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Bad Header", "X(Y)", "X:Y", "Ümlaut", ""])
def test_header_names_must_be_tokens(name: str) -> None:
    """A ``network.headers`` name that is not an HTTP token is an error at its key."""
    err = load_error(nest("network.headers", {name: "v"}))
    assert entries_at(err, f"network.headers[{name!r}]")


@pytest.mark.parametrize(
    "value", ["a\x00b", "a\nb", "a\rb", "a\tb", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b"]
)
def test_header_values_must_not_contain_control_characters(value: str) -> None:
    """A ``network.headers`` value with a control character is an error at its key."""
    err = load_error(nest("network.headers", {"X-Foo": value}))
    assert entries_at(err, "network.headers['X-Foo']")


@pytest.mark.parametrize(
    "name", FRAMING + [n.lower() for n in FRAMING] + [n.upper() for n in FRAMING]
)
def test_framing_headers_are_rejected(name: str) -> None:
    """Framing headers in ``network.headers`` are errors, in any case."""
    err = load_error(nest("network.headers", {name: "x"}))
    assert entries_at(err, f"network.headers[{name!r}]")


def test_valid_network_headers_are_stored() -> None:
    """Valid header names and values are stored as given."""
    headers = {"X-Foo": "bar baz", "Authorization": "Bearer abc", "x-tenant": "t1"}
    config = load_config(nest("network.headers", headers), environ={})
    assert headers == dict(config.network.headers)  # type: ignore[union-attr,arg-type]


# --- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["network.timeout", "network.timeout.connect", "network.timeout.read"]
)
@pytest.mark.parametrize("value", [0, 0.0, -1, -0.5, float("nan")])
def test_timeouts_must_be_positive(path: str, value: float) -> None:
    """A timeout <= 0 is an error at its path saying it must be > 0."""
    [entry] = entries_at(load_error(nest(path, value)), path)
    assert "> 0" in entry or "greater than 0" in entry.lower()


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (2.5, 2.5),
        (5, 5.0),
        ({"connect": 1.5}, TimeoutConfig(connect=1.5)),
        ({"read": 30}, TimeoutConfig(read=30.0)),
        ({"connect": 1, "read": 2}, TimeoutConfig(connect=1.0, read=2.0)),
    ],
)
def test_positive_timeouts_are_accepted(timeout: Any, expected: Any) -> None:
    """A positive float (or int) or a ``TimeoutConfig`` mapping is accepted."""
    config = load_config(nest("network.timeout", timeout), environ={})
    assert expected == config.network.timeout  # type: ignore[union-attr]


# --- forward_headers ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["__user", "__authenticated_user", "__"])
def test_forward_headers_reserved_keys_are_rejected(key: str) -> None:
    """A ``forward_headers`` key starting with ``__`` is an error at that key."""
    err = load_error({"forward_headers": {key: "X-User"}})
    assert entries_at(err, f"forward_headers[{key!r}]")


@pytest.mark.parametrize("target", ["Bad Header", "X:Y", "X(Y)", "Ümlaut", ""])
def test_forward_headers_targets_must_be_tokens(target: str) -> None:
    """A target that is not a valid header name is an error at its key."""
    err = load_error({"forward_headers": {"tenant": target}})
    assert entries_at(err, "forward_headers['tenant']")


@pytest.mark.parametrize(
    "target",
    CORE_BLOCKED + [n.upper() for n in CORE_BLOCKED] + [mixed_case(n) for n in CORE_BLOCKED],
)
def test_forward_headers_core_blocked_targets_are_rejected(target: str) -> None:
    """Each core blocked header name, in any case, is rejected as a target."""
    err = load_error({"forward_headers": {"k": target}})
    assert entries_at(err, "forward_headers['k']")


@pytest.mark.parametrize("target", ["Authorization", "authorization", "X-Tenant", "x-api-key"])
def test_forward_headers_allowed_targets_are_stored(target: str) -> None:
    """``Authorization`` and ordinary headers are allowed targets."""
    config = load_config({"forward_headers": {"maas_api_token": target}}, environ={})
    assert {"maas_api_token": target} == dict(config.forward_headers or {})


def test_forward_headers_targets_are_trimmed() -> None:
    """Surrounding whitespace is trimmed from target names."""
    config = load_config({"forward_headers": {"tenant": " X-Tenant "}}, environ={})
    assert dict(config.forward_headers or {}) == {"tenant": "X-Tenant"}


@pytest.mark.parametrize("blocked", ["X-Tenant", " x-tenant ", "X-TENANT"])
def test_extra_blocked_headers_block_targets(blocked: str) -> None:
    """``extra_blocked_headers`` (trimmed, case-insensitive) blocks a target."""
    doc = {"forward_headers": {"t": "x-Tenant"}, "extra_blocked_headers": [blocked]}
    assert entries_at(load_error(doc), "forward_headers['t']")


def test_extra_blocked_headers_cannot_unblock_core_names() -> None:
    """With ``extra_blocked_headers`` set, core blocked names stay blocked."""
    doc = {"forward_headers": {"c": "Cookie"}, "extra_blocked_headers": ["X-Other"]}
    assert entries_at(load_error(doc), "forward_headers['c']")


@pytest.mark.parametrize("names", [["X-A", ""], ["X-A", "   "]])
def test_empty_extra_blocked_header_is_an_error(names: List[str]) -> None:
    """An empty ``extra_blocked_headers`` entry is an error even without forward_headers."""
    assert entries_at(load_error({"extra_blocked_headers": names}), "extra_blocked_headers[1]")


def test_all_forward_header_problems_are_reported_together() -> None:
    """Reserved keys, bad names and blocked targets are reported in one error."""
    doc = {
        "forward_headers": {"__u": "X-U", "a": "Bad Header", "b": "Cookie", "c": "X-Tenant"},
        "extra_blocked_headers": ["x-tenant"],
    }
    err = load_error(doc)
    paths = ["forward_headers['__u']", "forward_headers['a']", "forward_headers['b']"]
    assert [p for p in [*paths, "forward_headers['c']"] if not entries_at(err, p)] == []


def test_every_problem_in_a_document_is_reported_at_once(files: Files) -> None:
    """One ``ConfigError`` lists the problems of every section together."""
    doc = {
        "base_url": "ftp://x",
        "refresh_models": "yes",
        "allowed_models": ["ok", 1],
        "bogus": 1,
        "extra_blocked_headers": [""],
        "forward_headers": {"k": "Host"},
        "network": {
            "tls": {"verify": str(files.folder / "missing.pem"), "min_version": "TLSv1.0"},
            "proxy": {"url": "http://p:1", "http": "http://p:2", "cacert": "/no/such.pem"},
            "timeout": {"connect": 0, "read": -1},
            "headers": {"Host": "x"},
        },
    }
    err = load_error(doc)
    paths = [
        "base_url",
        "refresh_models",
        "allowed_models[1]",
        "bogus",
        "extra_blocked_headers[0]",
        "forward_headers['k']",
        "network.tls.verify",
        "network.tls.min_version",
        "network.proxy.cacert",
        "network.timeout.connect",
        "network.timeout.read",
        "network.headers['Host']",
    ]
    assert [p for p in paths if not entries_at(err, p)] == []
    assert [e for e in err.errors if e.startswith("network.proxy")]
    assert "\n".join(err.errors) == str(err)
