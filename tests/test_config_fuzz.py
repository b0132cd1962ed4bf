"""Property tests of configuration loading: arbitrary documents, round trips, substitution."""

from __future__ import annotations

import pathlib
import string
import tempfile
from typing import Any, Dict, List, Optional

from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

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

FUZZ = settings(max_examples=examples(200), deadline=None)

FIELD_NAMES = [
    "allowed_models",
    "refresh_models",
    "api_key",
    "network",
    "base_url",
    "forward_headers",
    "extra_blocked_headers",
    "tls",
    "proxy",
    "timeout",
    "headers",
    "verify",
    "min_version",
    "ciphers",
    "client_cert",
    "client_key",
    "url",
    "http",
    "https",
    "cacert",
    "no_proxy",
    "connect",
    "read",
    "version",
    "providers",
    "inference",
    "provider_id",
    "provider_type",
    "config",
    "verfy",
    "__user",
    "Host",
    "X-Tenant",
]

INTERESTING = [
    "",
    " ",
    "true",
    "false",
    "TRUE",
    "TLSv1.2",
    "TLSv1.3",
    "TLSv1.1",
    "http://h:1",
    "https://api.example.com/v1",
    "ftp://x",
    "http://",
    "localhost:8080",
    "http://user:pw@p:3128",
    "${env.X}",
    "${env.X:=}",
    "${env.X:=5}",
    "${env.X:=true}",
    "${env.X:+a}",
    "${env.x}",
    "${env.",
    "~",
    "~/nope.pem",
    "~nobody/x",
    ".",
    "/",
    "/etc/hosts",
    "a\x00b",
    "\ud800x",
    "x" * 300,  # longer than NAME_MAX: ENAMETOOLONG for a path
    "a\nb",
    "Host",
    "Cookie",
    "Authorization",
    "__x",
    " X-A ",
    "HIGH",
    "NOT-A-CIPHER",
    "remote::passthrough",
    "remote::ollama",
    "2.5",
    "-1",
    "nan",
    "1e999",
    "*",
    "10.0.0.0/8",
    "[::1]:8080",
]

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(INTERESTING),
    st.text(max_size=20),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12))
json_like = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)


def _section(fields: List[str], nested: Optional[Dict[str, Any]] = None) -> Any:
    """A mapping holding any subset of ``fields`` with arbitrary values."""
    optional = {f: json_like for f in fields}
    optional.update({k: v | json_like for k, v in (nested or {}).items()})
    return st.fixed_dictionaries({}, optional=optional)


tls_docs = _section(["verify", "min_version", "ciphers", "client_cert", "client_key"])
proxy_docs = _section(["url", "http", "https", "cacert", "no_proxy"])
network_docs = _section(
    ["headers"],
    {"tls": tls_docs, "proxy": proxy_docs, "timeout": _section(["connect", "read"])},
)
block_docs = _section(
    [
        "allowed_models",
        "refresh_models",
        "api_key",
        "base_url",
        "forward_headers",
        "extra_blocked_headers",
    ],
    {"network": network_docs},
)
run_docs = st.builds(
    lambda block, ptype, pid: {
        "version": 2,
        "providers": {"inference": [{"provider_id": pid, "provider_type": ptype, "config": block}]},
    },
    block_docs | json_like,
    st.sampled_from(["remote::passthrough", "remote::ollama"]) | leaves,
    st.sampled_from(["pt", "other"]) | leaves,
)
documents = st.one_of(block_docs, run_docs, st.dictionaries(keys, json_like, max_size=6))


@FUZZ
@given(doc=documents)
def test_arbitrary_documents_raise_only_config_error(doc: Dict[str, Any]) -> None:
    """Whatever the document, ``load_config`` returns a config or raises ``ConfigError``."""
    try:
        config = load_config(doc, environ={})
    except ConfigError as err:
        assert err.errors
        assert all(isinstance(e, str) and e for e in err.errors)
    else:
        assert isinstance(config, PassthroughConfig)


# --- valid configurations --------------------------------------------------------------------

_PKI: Dict[str, pathlib.Path] = {}
_HOLD: List[Any] = []


def _pki(name: str) -> pathlib.Path:
    """A real file (or folder, ``"dir"``) in a temporary folder made once per module."""
    if not _PKI:
        holder = tempfile.TemporaryDirectory(prefix="pt-config-fuzz-")
        _HOLD.append(holder)  # keeps the folder alive until the interpreter exits
        folder = pathlib.Path(holder.name)
        for file in ("ca.pem", "client.pem", "client.key"):
            (folder / file).write_text("placeholder\n", encoding="utf-8")
        _PKI.update(
            {"dir": folder, **{f: folder / f for f in ("ca.pem", "client.pem", "client.key")}}
        )
    return _PKI[name]


BLOCKED = set(
    [
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
)
CIPHERS = ["ECDHE+AESGCM", "DHE+AESGCM", "HIGH", "CHACHA20"]
SAFE = string.ascii_letters + string.digits + "-_."

tokens = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=16)
header_values = st.from_regex(
    r"[A-Za-z0-9._~+/=-]([A-Za-z0-9 ._~+/=-]{0,20}[A-Za-z0-9._~+/=-])?", fullmatch=True
)
hosts = st.from_regex(r"[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z]{1,6}){0,2}", fullmatch=True)
ports = st.none() | st.integers(min_value=1, max_value=65535)
secrets = st.text(alphabet=SAFE, min_size=1, max_size=24)
seconds = st.floats(min_value=0.001, max_value=1e6, allow_nan=False) | st.integers(1, 3600)


@st.composite
def urls(draw: Any, schemes: List[str], userinfo: bool = False) -> str:
    """An http(s) URL with a host, maybe a port, credentials and a path."""
    port = draw(ports)
    creds = draw(st.none() | st.tuples(secrets, secrets)) if userinfo else None
    return "".join(
        [
            draw(st.sampled_from(schemes)),
            "://",
            f"{creds[0]}:{creds[1]}@" if creds else "",
            draw(hosts),
            f":{port}" if port else "",
            draw(st.sampled_from(["", "/", "/v1", "/openai/v1"])),
        ]
    )


def _unique_ci(mapping: Dict[str, str]) -> bool:
    """Whether no two keys differ only in case."""
    return len({k.lower() for k in mapping}) == len(mapping)


@st.composite
def tls_configs(draw: Any) -> TLSConfig:
    """A valid ``TLSConfig`` with real files for its paths."""
    verify = draw(st.sampled_from([True, False, "ca.pem", "dir"]))
    pair = draw(st.booleans())
    return TLSConfig(
        verify=_pki(verify) if isinstance(verify, str) else verify,
        min_version=draw(st.sampled_from([None, "TLSv1.2", "TLSv1.3"])),
        ciphers=draw(st.none() | st.lists(st.sampled_from(CIPHERS), min_size=1, max_size=3)),
        client_cert=_pki("client.pem") if pair else None,
        client_key=_pki("client.key") if pair else None,
    )


no_proxy_entries = st.sampled_from(
    [
        "localhost",
        "127.0.0.1",
        ".internal.corp",
        "*.example.com",
        "10.0.0.0/8",
        "::1",
        "*",
        "example.com:8443",
        "[::1]:8080",
    ]
)
proxy_urls = urls(["http", "https"], userinfo=True)
proxy_configs = st.one_of(
    st.builds(ProxyConfig, url=proxy_urls),
    st.builds(ProxyConfig, http=st.none() | proxy_urls, https=st.none() | proxy_urls),
).flatmap(
    lambda p: st.builds(
        ProxyConfig,
        url=st.just(p.url),
        http=st.just(p.http),
        https=st.just(p.https),
        cacert=st.none() | st.just(_pki("ca.pem")),
        no_proxy=st.none() | st.lists(no_proxy_entries, min_size=1, max_size=4),
    )
)
timeouts = (
    st.none()
    | seconds
    | st.builds(TimeoutConfig, connect=st.none() | seconds, read=st.none() | seconds)
)
network_headers = st.dictionaries(
    tokens.filter(lambda n: n.lower() not in BLOCKED), header_values, min_size=1, max_size=3
).filter(_unique_ci)
network_configs = st.builds(
    NetworkConfig,
    tls=st.none() | tls_configs().filter(lambda t: t != TLSConfig()),
    proxy=st.none() | proxy_configs.filter(lambda p: p != ProxyConfig()),
    timeout=timeouts.filter(lambda t: t != TimeoutConfig()),
    headers=st.none() | network_headers,
)


@st.composite
def passthrough_configs(draw: Any) -> PassthroughConfig:
    """A valid ``PassthroughConfig`` whose strings contain no substitution syntax."""
    extra = draw(st.lists(tokens, max_size=3))
    blocked = BLOCKED | {e.lower() for e in extra}
    targets = tokens.filter(lambda t: t.lower() not in blocked)
    keys = st.text(alphabet=SAFE, min_size=1, max_size=12).filter(lambda k: not k.startswith("__"))
    return PassthroughConfig(
        allowed_models=draw(
            st.none() | st.lists(st.text(alphabet=SAFE + "/:", min_size=1), max_size=4)
        ),
        refresh_models=draw(st.booleans()),
        api_key=draw(st.none() | secrets.map(Secret)),
        network=draw(st.none() | network_configs.filter(lambda n: n != NetworkConfig())),
        base_url=draw(st.none() | urls(["http", "https"])),
        forward_headers=draw(st.none() | st.dictionaries(keys, targets, min_size=1, max_size=3)),
        extra_blocked_headers=extra,
    )


@FUZZ
@given(config=passthrough_configs())
def test_revealed_dump_loads_back_to_the_same_config(config: PassthroughConfig) -> None:
    """``load_config(dump_config(c, reveal_secrets=True)) == c`` for valid configs."""
    assert config == load_config(dump_config(config, reveal_secrets=True), environ={})


# --- substitution --------------------------------------------------------------------------------

# API keys are sent as a header, so they are Latin-1 text without surrounding whitespace.
plain_text = st.text(
    alphabet=st.characters(max_codepoint=0xFF, blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
).filter(lambda s: s == s.strip())
variable_values = plain_text | st.builds(
    lambda a, b: a + b, plain_text, st.sampled_from(["${env.K}", "${env.OTHER:=x}", "${env.K:+y}"])
)


@FUZZ
@given(value=variable_values)
def test_substituted_api_key_is_exactly_the_variable_value(value: str) -> None:
    """``api_key: ${env.K}`` loads to exactly the variable's text, never re-substituted."""
    config = load_config({"api_key": "${env.K}"}, environ={"K": value})
    assert Secret(value) == config.api_key
