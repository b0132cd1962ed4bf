"""Provider data over real sockets: forwarding, URL and key, Authorization, rejections."""

from __future__ import annotations

import itertools
import logging
from typing import Any, Optional

import pytest

from passthrough_client import (
    ConfigError,
    PassthroughClient,
    ProviderDataError,
    provider_data_from_headers,
)
from passthrough_client.testing import FakeUpstream, RecordedHeaders

MESSAGES = [{"role": "user", "content": "hi"}]
FORWARD = {"tenant": "X-Tenant", "token": "Authorization"}


def _client(upstream: Optional[FakeUpstream] = None, **config: Any) -> PassthroughClient:
    if upstream is not None:
        config.setdefault("base_url", upstream.url)
    config.setdefault("forward_headers", FORWARD)
    return PassthroughClient(config, max_retries=0, environ={})


def _sent(upstream: FakeUpstream) -> RecordedHeaders:
    return upstream.requests[-1].headers


def _chat(client: PassthroughClient, data: Any) -> None:
    client.chat(model="fake-model", messages=MESSAGES, provider_data=data)


# -- forms of provider data ------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [{"tenant": "acme"}, '{"tenant": "acme"}', b'{"tenant": "acme"}'], ids=repr
)
def test_provider_data_may_be_a_mapping_or_json_text(upstream: FakeUpstream, data: Any) -> None:
    """A mapping, or the raw JSON text of the header, forwards the same header."""
    _chat(_client(upstream), data)
    assert _sent(upstream).get("X-Tenant") == "acme"


@pytest.mark.parametrize(
    "incoming",
    [
        {"x-llamastack-provider-data": '{"tenant": "ls"}'},
        {"X-OGX-Provider-Data": '{"tenant": "ls"}'},
        {
            "X-OGX-Provider-Data": '{"tenant": "ogx"}',
            "X-LLAMASTACK-PROVIDER-DATA": '{"tenant": "ls"}',
        },
    ],
)
def test_provider_data_from_incoming_headers_is_forwarded(
    upstream: FakeUpstream, incoming: dict[str, str]
) -> None:
    """Provider data taken from a caller's headers (Llama Stack's header wins) is forwarded."""
    _chat(_client(upstream), provider_data_from_headers(incoming))
    assert _sent(upstream).get("X-Tenant") == "ls"


def test_no_provider_data_header_gives_a_plain_call(upstream: FakeUpstream) -> None:
    """Without a provider-data header the call carries no forwarded header."""
    _chat(_client(upstream), provider_data_from_headers({"Accept": "*/*"}))
    assert None is _sent(upstream).get("X-Tenant")


# -- default-deny forwarding -----------------------------------------------------------


def test_only_listed_keys_are_forwarded(upstream: FakeUpstream) -> None:
    """Unlisted keys, whatever they hold, add no header at all."""
    client = _client(upstream)
    client.models(provider_data={})
    data = {"tenant": "acme", "other_api_key": "x", "vllm": {"url": "http://x"}, "X-Other": "y"}
    client.models(provider_data=data)
    plain, forwarded = ({n.lower() for n, _ in r.headers} for r in upstream.requests)
    assert {"x-tenant"} == forwarded - plain


@pytest.mark.parametrize("data", [{}, {"tenant": None}, {"token": None, "other": 1}])
def test_missing_or_null_keys_are_skipped(upstream: FakeUpstream, data: Any) -> None:
    """A listed key that is absent or null sends nothing and is no error."""
    _chat(_client(upstream), data)
    assert (_sent(upstream).get("X-Tenant"), _sent(upstream).get("Authorization")) == (None, None)


@pytest.mark.parametrize(
    ("value", "text"), [(5, "5"), (1.5, "1.5"), (True, "true"), (False, "false"), ("", "")]
)
def test_scalars_are_forwarded_in_json_spelling(
    upstream: FakeUpstream, value: Any, text: str
) -> None:
    """Numbers and booleans are sent as JSON spells them; strings verbatim."""
    _chat(_client(upstream), {"tenant": value})
    assert [text] == _sent(upstream).get_all("X-Tenant")


def test_later_key_wins_for_the_same_header(upstream: FakeUpstream) -> None:
    """Two keys mapping to one header (any case): the later in forward_headers wins."""
    client = _client(upstream, forward_headers={"a": "X-Tenant", "b": "x-tenant"})
    _chat(client, {"b": "second", "a": "first"})
    assert _sent(upstream).get_all("x-tenant") == ["second"]


# -- base URL and key from provider data -----------------------------------------------


def test_passthrough_url_is_used_without_a_configured_base_url(upstream: FakeUpstream) -> None:
    """With no ``base_url``, ``passthrough_url`` decides where the call goes."""
    client = _client(None)
    _chat(client, {"passthrough_url": upstream.url + "/"})
    assert upstream.requests[-1].path == "/v1/chat/completions"


def test_configured_base_url_wins_over_passthrough_url(upstream: FakeUpstream) -> None:
    """``passthrough_url`` is ignored when the config has a ``base_url``."""
    with FakeUpstream() as other:
        _chat(_client(upstream), {"passthrough_url": other.url})
        assert (len(upstream.requests), len(other.requests)) == (1, 0)


@pytest.mark.parametrize("data", [None, {}, {"tenant": "acme"}, {"passthrough_url": None}])
def test_no_url_anywhere_is_a_config_error_naming_passthrough_url(data: Any) -> None:
    """Neither ``base_url`` nor ``passthrough_url`` -> ConfigError before any traffic."""
    with pytest.raises(ConfigError, match="passthrough_url"):
        _chat(_client(None), data)


# -- Authorization precedence ----------------------------------------------------------

CONFIG_KEY, DATA_KEY, FORWARDED, NETWORK = "Bearer cfg", "Bearer pd", "Token fwd", "Basic net"


def _precedence_rows() -> list[tuple[bool, bool, bool, bool, Optional[str]]]:
    rows = []
    for flags in itertools.product([True, False], repeat=4):
        winners = [v for v, on in zip((CONFIG_KEY, DATA_KEY, FORWARDED, NETWORK), flags) if on]
        rows.append((*flags, winners[0] if winners else None))
    return rows


@pytest.mark.parametrize(("cfg", "pd_key", "fwd", "net", "expected"), _precedence_rows())
def test_authorization_precedence(
    upstream: FakeUpstream, cfg: bool, pd_key: bool, fwd: bool, net: bool, expected: Any
) -> None:
    """api_key > passthrough_api_key > forwarded Authorization > network.headers."""
    config: dict[str, Any] = {"network": {"headers": {"authorization": NETWORK}}} if net else {}
    client = _client(upstream, api_key="cfg" if cfg else "", **config)
    data = {"passthrough_api_key": "pd"} if pd_key else {}
    data.update({"token": FORWARDED} if fwd else {})
    _chat(client, data)
    assert ([expected] if expected else []) == _sent(upstream).get_all("Authorization")


def test_key_replaces_an_authorization_in_any_case(upstream: FakeUpstream) -> None:
    """A key becomes the only ``Authorization`` header, whatever case others used."""
    client = _client(upstream, api_key="k", forward_headers={"token": "AUTHORIZATION"})
    _chat(client, {"token": "Token other"})
    assert [v for n, v in _sent(upstream) if n.lower() == "authorization"] == ["Bearer k"]


def test_empty_passthrough_api_key_sends_no_authorization(upstream: FakeUpstream) -> None:
    """An empty ``passthrough_api_key`` counts as no key: no Authorization header."""
    _chat(_client(upstream), {"passthrough_api_key": ""})
    assert _sent(upstream).get_all("Authorization") == []


@pytest.mark.parametrize("bad", ["\r\nX-Evil: 1", "\x00", "\t", "\u2028", "\u20ac", " "])
def test_unsendable_api_key_is_refused_when_the_client_is_built(bad: str) -> None:
    """A configured key that is no valid header value is a ConfigError that never quotes it."""
    with pytest.raises(ConfigError, match=r"^api_key: ") as info:
        PassthroughClient(base_url="http://127.0.0.1:9", api_key="sk-" + bad, environ={})
    assert "sk-" not in str(info.value)


# -- rejections ------------------------------------------------------------------------

SECRET = "tok-SECRET-VALUE"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"tenant": SECRET + "\x00"}, "tenant"),
        ({"tenant": SECRET + "\tx"}, "tenant"),
        ({"tenant": SECRET + "\r\nX-Evil: 1"}, "tenant"),
        ({"tenant": SECRET + "\x7f"}, "tenant"),
        ({"tenant": SECRET + "\u0085"}, "tenant"),
        ({"tenant": SECRET + "\u2028"}, "tenant"),
        ({"tenant": SECRET + "\u2029"}, "tenant"),
        ({"tenant": " " + SECRET}, "tenant"),
        ({"tenant": SECRET + " "}, "tenant"),
        ({"tenant": SECRET + "\u20ac"}, "tenant"),
        ({"tenant": SECRET + "x" * 8192}, "tenant"),
        ({"tenant": {"value": SECRET}}, "tenant"),
        ({"tenant": [SECRET]}, "tenant"),
        ({"token": SECRET + "\n"}, "token"),
        ({"passthrough_api_key": SECRET + "\n"}, "passthrough_api_key"),
        ({"passthrough_api_key": [SECRET]}, "passthrough_api_key"),
        ({"passthrough_url": "ftp://" + SECRET}, "passthrough_url"),
    ],
)
def test_rejected_value_names_the_key_and_sends_nothing(
    upstream: FakeUpstream, data: Any, key: str
) -> None:
    """Every rejection is a ProviderDataError naming the key, never the value."""
    with pytest.raises(ProviderDataError) as info:
        _chat(_client(upstream), data)
    error = info.value
    shown = f"{error} {error!r} {error.args}"
    assert (error.key, key in str(error), SECRET in shown, upstream.requests) == (
        key,
        True,
        False,
        [],
    )


@pytest.mark.parametrize(
    "data", ['{"tenant": "' + SECRET, "[1, 2]", '"' + SECRET + '"', "", b"\xff\xfe", 42]
)
def test_malformed_provider_data_is_refused_before_traffic(
    upstream: FakeUpstream, data: Any
) -> None:
    """Invalid JSON, or JSON that is not an object, is a ProviderDataError without text."""
    with pytest.raises(ProviderDataError) as info:
        _chat(_client(upstream), data)
    assert (info.value.key, SECRET in str(info.value), upstream.requests) == (None, False, [])


def test_rejected_provider_data_fails_models_too(upstream: FakeUpstream) -> None:
    """``models()`` with bad provider data raises and sends nothing either."""
    with pytest.raises(ProviderDataError):
        _client(upstream).models(provider_data={"tenant": "a\nb"})
    assert upstream.requests == []


# -- the "nothing matched" warning -----------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "passthrough_client"
    ]


def test_warning_when_no_provider_data_key_matched(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """Provider data with no listed key, URL or key logs one warning (and still calls)."""
    caplog.set_level(logging.DEBUG, logger="passthrough_client")
    _chat(_client(upstream), {"tenant_id": "acme"})
    assert (len(_warnings(caplog)), len(upstream.requests)) == (1, 1)
    assert "forward_headers" in _warnings(caplog)[0]


@pytest.mark.parametrize(
    ("config", "data"),
    [
        ({}, {"tenant": "acme"}),
        ({}, {"passthrough_api_key": "k"}),
        ({"forward_headers": None}, {"tenant_id": "acme"}),
    ],
)
def test_no_warning_when_something_applies(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture, config: Any, data: Any
) -> None:
    """A matched key, a passthrough key, or no forward_headers at all: no warning."""
    caplog.set_level(logging.DEBUG, logger="passthrough_client")
    _chat(_client(upstream, **config), data)
    assert _warnings(caplog) == []


def test_provider_data_does_not_leak_into_the_next_call(upstream: FakeUpstream) -> None:
    """A call without provider data carries nothing from an earlier call's."""
    client = _client(upstream)
    _chat(client, {"tenant": "acme", "passthrough_api_key": "pd"})
    _chat(client, None)
    assert [_sent(upstream).get(n) for n in ("X-Tenant", "Authorization")] == [None, None]
