"""Tests of passthrough_client._rules.proxy: routes and plans, configuration versus environment."""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Tuple

import attrs
import pytest

from passthrough_client._rules.proxy import ProxyPlan, ProxyRoute
from passthrough_client.exceptions import ConfigError

P = "http://proxy.corp:3128"
S = "http://secure.corp:3129"
A = "http://all.corp:3130"


@attrs.frozen(kw_only=True)
class FakeProxyConfig:
    """Stands in for config.ProxyConfig (same attribute names)."""

    url: Optional[str] = None
    http: Optional[str] = None
    https: Optional[str] = None
    cacert: Optional[str] = None
    no_proxy: Optional[Tuple[str, ...]] = None


# --- ProxyPlan and ProxyRoute ---------------------------------------------------------


def test_route_repr_masks_the_password() -> None:
    """A route's repr shows the proxy with its password masked."""
    route = ProxyRoute(proxy_url="http://u:hunter2@p:1", reason="network.proxy.url")
    assert (
        repr(route) == "ProxyRoute(proxy_url='http://u:**********@p:1', reason='network.proxy.url')"
    )


def test_plan_repr_masks_the_password() -> None:
    """A plan's repr shows its proxies masked, its no_proxy entries and its source."""
    plan = ProxyPlan(http=None, https="http://u:hunter2@p:1", no_proxy=[".corp"], source="x")
    assert repr(plan) == (
        "ProxyPlan(http=None, https='http://u:**********@p:1', "
        "no_proxy=NoProxy(['.corp']), source='x')"
    )


def _via(url: Optional[str], reason: str) -> ProxyRoute:
    return ProxyRoute(proxy_url=url, reason=reason)


def _skip(entry: str) -> ProxyRoute:
    return ProxyRoute(proxy_url=None, reason=f"no_proxy entry {entry!r} matched")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/v1/chat", _via(S, "src.https")),
        ("http://api.example.com/v1", _via(P, "src.http")),
        ("https://127.0.0.1:8443/v1", _via(S, "src.https")),
        ("https://[::1]/v1", _via(S, "src.https")),
        ("https://svc.corp/v1", _skip(".corp")),
        ("http://svc.corp:80/", _skip(".corp")),
        ("https://10.1.2.3/", _skip("10.0.0.0/8")),
        ("https://h:8443/", _skip("h:8443")),
        ("https://h/", _via(S, "src.https")),
        ("http://h:443/", _via(P, "src.http")),
        ("http://h:8443/", _skip("h:8443")),
        ("https://[::1]:8443/", _skip("[::1]:8443")),
        ("ws://h/", _via(None, "no proxy configured for ws (src)")),
    ],
)
def test_plan_routes_each_url(url: str, expected: ProxyRoute) -> None:
    """route() picks the scheme's proxy unless a no_proxy entry matches host and port."""
    plan = ProxyPlan(
        http=P, https=S, no_proxy=[".corp", "10.0.0.0/8", "h:8443", "[::1]:8443"], source="src"
    )
    assert expected == plan.route(url)


def test_plan_default_ports_follow_the_scheme() -> None:
    """Without a port in the URL, 443 applies to https and 80 to http."""
    plan = ProxyPlan(http=P, https=S, no_proxy=["h:443"], source="src")
    assert (plan.route("https://h/").proxy_url, plan.route("http://h/").proxy_url) == (None, P)


def test_plan_scheme_without_proxy_goes_direct() -> None:
    """A scheme with no proxy goes direct and says so."""
    plan = ProxyPlan(http=None, https=S, no_proxy=[], source="network.proxy")
    expected = ProxyRoute(proxy_url=None, reason="no proxy configured for http (network.proxy)")
    assert expected == plan.route("http://api.example.com/")


def test_plan_route_rejects_a_bad_port() -> None:
    """A request URL with a port that is not a number raises ValueError."""
    plan = ProxyPlan(http=P, https=S, no_proxy=["x"], source="src")
    with pytest.raises(ValueError):
        plan.route("https://h:notaport/")


def test_plan_exposes_source_and_no_proxy() -> None:
    """source and no_proxy are readable for diagnostics."""
    plan = ProxyPlan(http=P, https=None, no_proxy=[" .corp", "bad entry"], source="src")
    assert (
        plan.source,
        plan.no_proxy.entries,
        plan.no_proxy.ignored,
    ) == ("src", (".corp",), ("bad entry",))


# --- from_config: configuration versus environment ----------------------------------

POISON: Dict[str, str] = {
    "HTTPS_PROXY": "http://env-https:1",
    "https_proxy": "http://env-https-lower:1",
    "HTTP_PROXY": "http://env-http:1",
    "ALL_PROXY": "http://env-all:1",
    "NO_PROXY": "*",
    "no_proxy": "*",
}

CONFIG_TABLE = [
    (FakeProxyConfig(url=P), "https://api.example.com/", P, "network.proxy.url"),
    (FakeProxyConfig(url=P), "http://api.example.com/", P, "network.proxy.url"),
    (FakeProxyConfig(https=S), "https://api.example.com/", S, "network.proxy.https"),
    (
        FakeProxyConfig(https=S),
        "http://api.example.com/",
        None,
        "no proxy configured for http (network.proxy)",
    ),
    (FakeProxyConfig(http=P), "http://api.example.com/", P, "network.proxy.http"),
    (
        FakeProxyConfig(),
        "https://api.example.com/",
        None,
        "no proxy configured for https (network.proxy)",
    ),
    (FakeProxyConfig(url=P, no_proxy=()), "https://localhost/", P, "network.proxy.url"),
    (
        FakeProxyConfig(url=P, no_proxy=("localhost",)),
        "https://localhost/",
        None,
        "no_proxy entry 'localhost' matched",
    ),
]


@pytest.mark.parametrize(("config", "url", "proxy", "reason"), CONFIG_TABLE)
def test_config_wins_over_the_environment(
    config: FakeProxyConfig, url: str, proxy: Optional[str], reason: str
) -> None:
    """With network.proxy set, HTTPS_PROXY, ALL_PROXY and NO_PROXY=* are not consulted."""
    route = ProxyPlan.from_config(config, POISON).route(url)
    assert ProxyRoute(proxy_url=proxy, reason=reason) == route


def test_config_source_is_network_proxy() -> None:
    """A plan built from configuration says so."""
    assert ProxyPlan.from_config(FakeProxyConfig(), POISON).source == "network.proxy"


def test_config_with_invalid_environment_still_builds() -> None:
    """A socks proxy in the environment does not matter when the config has a proxy."""
    env = {"ALL_PROXY": "socks5://x:1"}
    assert ProxyPlan.from_config(FakeProxyConfig(url=P), env).route("https://h/").proxy_url == P


NO_HTTP = "no proxy configured for http (environment)"
NO_HTTPS = "no proxy configured for https (environment)"
HIT_H = "no_proxy entry 'h' matched"

ENV_TABLE = [
    # (environ, url, expected proxy, expected reason)
    ({}, "https://h/", None, NO_HTTPS),
    ({"HTTPS_PROXY": S}, "https://h/", S, "HTTPS_PROXY"),
    ({"https_proxy": S}, "https://h/", S, "https_proxy"),
    ({"Https_Proxy": S}, "https://h/", S, "Https_Proxy"),
    ({"HTTPS_PROXY": A, "https_proxy": S}, "https://h/", S, "https_proxy"),
    ({"https_proxy": S, "HTTPS_PROXY": A}, "https://h/", S, "https_proxy"),
    ({"HTTPS_PROXY": A, "Https_Proxy": S}, "https://h/", A, "HTTPS_PROXY"),
    ({"https_proxy": "", "HTTPS_PROXY": A}, "https://h/", A, "HTTPS_PROXY"),
    ({"HTTPS_PROXY": "  "}, "https://h/", None, NO_HTTPS),
    ({"HTTPS_PROXY": S}, "http://h/", None, NO_HTTP),
    ({"HTTP_PROXY": P}, "http://h/", P, "HTTP_PROXY"),
    ({"HTTP_PROXY": P}, "https://h/", None, NO_HTTPS),
    ({"ALL_PROXY": A}, "https://h/", A, "ALL_PROXY"),
    ({"all_proxy": A}, "http://h/", A, "all_proxy"),
    ({"ALL_PROXY": A, "HTTPS_PROXY": S}, "https://h/", S, "HTTPS_PROXY"),
    ({"ALL_PROXY": A, "HTTPS_PROXY": S}, "http://h/", A, "ALL_PROXY"),
    ({"HTTPS_PROXY": "proxy:3128"}, "https://h/", "http://proxy:3128", "HTTPS_PROXY"),
    ({"HTTPS_PROXY": " u:p@proxy:3128 "}, "https://h/", "http://u:p@proxy:3128", "HTTPS_PROXY"),
    ({"HTTPS_PROXY": "https://p:1"}, "https://h/", "https://p:1", "HTTPS_PROXY"),
    # CGI: the uppercase HTTP_PROXY may come from a client's "Proxy:" header
    ({"REQUEST_METHOD": "GET", "HTTP_PROXY": P}, "http://h/", None, NO_HTTP),
    ({"REQUEST_METHOD": "", "HTTP_PROXY": P}, "http://h/", None, NO_HTTP),
    ({"REQUEST_METHOD": "GET", "Http_Proxy": P}, "http://h/", None, NO_HTTP),
    ({"REQUEST_METHOD": "GET", "http_proxy": P}, "http://h/", P, "http_proxy"),
    ({"REQUEST_METHOD": "GET", "HTTP_PROXY": P, "ALL_PROXY": A}, "http://h/", A, "ALL_PROXY"),
    ({"REQUEST_METHOD": "GET", "HTTPS_PROXY": S}, "https://h/", S, "HTTPS_PROXY"),
    # NO_PROXY
    ({"HTTPS_PROXY": S, "NO_PROXY": "a.corp, h ,x"}, "https://h/", None, HIT_H),
    ({"HTTPS_PROXY": S, "no_proxy": "h", "NO_PROXY": "other"}, "https://h/", None, HIT_H),
    ({"HTTPS_PROXY": S, "no_proxy": "other", "NO_PROXY": "h"}, "https://h/", S, "HTTPS_PROXY"),
    ({"HTTPS_PROXY": S, "no_proxy": "", "NO_PROXY": "h"}, "https://h/", None, HIT_H),
    ({"HTTPS_PROXY": S, "NO_PROXY": "*"}, "https://h/", None, "no_proxy entry '*' matched"),
    ({"HTTPS_PROXY": S, "NO_PROXY": ""}, "https://h/", S, "HTTPS_PROXY"),
    ({"HTTPS_PROXY": S, "NO_PROXY": "bad entry,h"}, "https://h/", None, HIT_H),
    ({"HTTPS_PROXY": S, "NO_PROXY": "localhost"}, "https://127.0.0.1/", S, "HTTPS_PROXY"),
    ({"HTTPS_PROXY": S}, "https://localhost/", S, "HTTPS_PROXY"),
]


@pytest.mark.parametrize(("environ", "url", "proxy", "reason"), ENV_TABLE)
def test_environment_applies_when_config_is_absent(
    environ: Mapping[str, str], url: str, proxy: Optional[str], reason: str
) -> None:
    """Without network.proxy the injected environment decides, like curl/urllib."""
    route = ProxyPlan.from_config(None, environ).route(url)
    assert ProxyRoute(proxy_url=proxy, reason=reason) == route


def test_environment_source_is_environment() -> None:
    """A plan built from the environment says so."""
    assert ProxyPlan.from_config(None, {}).source == "environment"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"ALL_PROXY": "socks5://user:hunter2@p:1"}, "ALL_PROXY"),
        ({"https_proxy": "http://"}, "https_proxy"),
        ({"HTTP_PROXY": "proxy:bad"}, "HTTP_PROXY"),
    ],
)
def test_environment_proxy_that_is_not_http_is_a_config_error(
    environ: Mapping[str, str], variable: str
) -> None:
    """An unusable proxy variable raises ConfigError naming it, without its password."""
    with pytest.raises(ConfigError) as caught:
        ProxyPlan.from_config(None, environ)
    assert str(caught.value).startswith(f"{variable}: ") and "hunter2" not in str(caught.value)


def test_environment_unused_invalid_all_proxy_is_ignored() -> None:
    """ALL_PROXY is not checked when both schemes have their own proxy variable."""
    env = {"ALL_PROXY": "socks5://p:1", "HTTP_PROXY": P, "HTTPS_PROXY": S}
    assert ProxyPlan.from_config(None, env).route("https://h/").proxy_url == S


def test_os_environ_is_neither_read_nor_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poison HTTPS_PROXY/ALL_PROXY in os.environ does not reach a plan built from {}."""
    monkeypatch.setenv("HTTPS_PROXY", "http://poison:1")
    monkeypatch.setenv("https_proxy", "http://poison:1")
    monkeypatch.setenv("ALL_PROXY", "http://poison:1")
    before = dict(os.environ)
    plan = ProxyPlan.from_config(None, {})
    route = plan.route("https://api.example.com/")
    assert (None, before) == (route.proxy_url, dict(os.environ))


def test_environment_mapping_is_not_modified() -> None:
    """from_config leaves the injected mapping as it was."""
    env = {"HTTPS_PROXY": "proxy:3128", "NO_PROXY": " a , b ", "REQUEST_METHOD": "GET"}
    snapshot = dict(env)
    ProxyPlan.from_config(None, env)
    assert snapshot == env
