"""The ``config`` command: the effective configuration, masked, and its sources."""

from __future__ import annotations

from typing import Any, Mapping, Optional, TextIO

from .._client import PassthroughClient
from .._loading import dump_config
from .._rules.proxy import mask_url
from .common import EXIT_OK, mask_header, print_json

__all__ = ["print_config"]


def _masked_dump(client: PassthroughClient) -> dict[str, Any]:
    dumped = dump_config(client.config)
    if "base_url" in dumped:
        dumped["base_url"] = mask_url(dumped["base_url"])
    headers = dumped.get("network", {}).get("headers")
    if headers:
        dumped["network"]["headers"] = {k: mask_header(k, v) for k, v in headers.items()}
    return dumped


def _tls_detail(transport: Any) -> str:
    tls = transport.tls
    bits = [f"trust {transport.trust}"]
    bits += [f"min_version {tls.min_version}"] if tls.min_version else []
    bits += [f"ciphers {':'.join(tls.ciphers)}"] if tls.ciphers else []
    bits += [f"client certificate {tls.client_cert}"] if tls.client_cert else []
    return "; ".join(bits)


def _proxy_detail(transport: Any, base_url: Optional[str]) -> str:
    plan, bits = transport.proxy_plan, []
    if base_url:
        route = plan.route(base_url)
        way = f"via {mask_url(route.proxy_url)}" if route.proxy_url else "direct"
        bits.append(f"{mask_url(base_url)} goes {way} ({route.reason})")
    for label, entries in (("no_proxy", plan.no_proxy.entries), ("ignored", plan.no_proxy.ignored)):
        bits += [f"{label} {', '.join(entries)}"] if entries else []
    return "; ".join(bits) or "no proxy"


def _network_lines(client: PassthroughClient) -> list[str]:
    transport: Any = client._transport  # read-only: the settings in effect and their sources
    timeout = transport.timeout
    details = {
        "tls": _tls_detail(transport),
        "proxy": _proxy_detail(transport, client.config.base_url),
        "timeout": f"connect {timeout.connect:g} s, read {timeout.read:g} s",
        "headers": ", ".join(transport.headers) or "none",
    }
    sources: Mapping[str, str] = transport.sources
    return [f"  {k + ':':<9}{sources.get(k, 'default'):<12} {v}" for k, v in details.items()]


def print_config(client: PassthroughClient, source: str, out: TextIO) -> int:
    """``config``: the masked configuration and where each network setting came from."""
    out.write(f"configuration: {source} (valid; secrets masked)\n")
    print_json(_masked_dump(client), out)
    out.write("network settings (setting, source, value in effect):\n")
    out.writelines(line.rstrip() + "\n" for line in _network_lines(client))
    return EXIT_OK
