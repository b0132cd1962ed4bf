"""Secret canaries: no API key, proxy password or forwarded value shows anywhere.

Every error path runs with canaries configured (an API key, a password in the proxy
URL, a forwarded token). Each exception's ``str``/``repr``, its whole traceback (causes
included: ``logging.exception`` would print them), its pickled copy, and every log
record down to DEBUG (urllib3's included) must be free of them; so must the client's
and the configuration's reprs and ``dump_config`` without ``reveal_secrets``.
"""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import traceback
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from passthrough_client import (
    APIConnectionError,
    APIStatusError,
    ConfigError,
    InvalidResponseError,
    ModelNotAllowedError,
    PassthroughClient,
    PassthroughError,
    ProviderDataError,
    StreamError,
    dump_config,
    load_config,
)
from passthrough_client.testing import FakeUpstream, Reply

KEY = "sk-canary-api-key-7f3a91"
PASSWORD = "pw-canary-proxy-51c0de"
TOKEN = "tok-canary-forwarded-9e2b44"
CANARIES = (KEY, PASSWORD, TOKEN)
FORWARD = {"token": "Authorization", "tenant_token": "X-Tenant-Token"}
PROVIDER_DATA = {"token": f"Bearer {TOKEN}", "tenant_token": TOKEN}
MESSAGES = [{"role": "user", "content": "hi"}]


def leaks(text: str) -> List[str]:
    """The canaries found in ``text``."""
    return [canary for canary in CANARIES if canary in text]


def closed_port() -> int:
    """A local port on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Refusing407Proxy:
    """A proxy that records each request head and answers 407 (a thread per connection)."""

    def __init__(self) -> None:
        self.heads: List[bytes] = []
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # accept() polls, so stop() is quick
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # a timeout, or closed by stop()
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    break
                head += data
            self.heads.append(head)
            conn.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="canary"\r\nContent-Length: 0\r\n'
                b"Connection: close\r\n\r\n"
            )
        except OSError:
            pass

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5.0)
        self._listener.close()


@pytest.fixture(name="upstream", scope="module")
def fixture_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(name="proxy", scope="module")
def fixture_proxy() -> Iterator[Refusing407Proxy]:
    proxy = Refusing407Proxy()
    yield proxy
    proxy.stop()


def config_for(base_url: str, proxy_port: Optional[int] = None, **extra: Any) -> Dict[str, Any]:
    """A configuration carrying the API key canary (and the password canary with a proxy)."""
    config: Dict[str, Any] = {"base_url": base_url, "api_key": KEY, "forward_headers": FORWARD}
    if proxy_port is not None:
        proxy = {"url": f"http://user:{PASSWORD}@127.0.0.1:{proxy_port}"}
        config["network"] = {"proxy": proxy, "timeout": 2.0}
    else:
        config["network"] = {"timeout": 2.0}
    return {**config, **extra}


def call(
    config: Dict[str, Any], reply: Optional[Reply] = None, times: int = 1, **options: Any
) -> Any:
    """Build a client from ``config`` and make one call with the forwarded-token canary.

    ``reply`` is served ``times`` times: once per request the call makes.
    """

    def run(upstream: FakeUpstream, proxy: Refusing407Proxy) -> None:
        if reply is not None:
            upstream.enqueue(reply, times=times)
        url = str(config["base_url"]).format(up=upstream.port, closed=closed_port())
        port = config.get("proxy_port")
        port = {"closed": closed_port(), "407": proxy.port}.get(port, port)
        settings = {k: v for k, v in config.items() if k not in ("base_url", "proxy_port")}
        built = {**config_for(url, port), **settings}
        stream = options.pop("stream", False)
        with PassthroughClient(built, max_retries=1, environ={}) as client:
            data = options.pop("provider_data", PROVIDER_DATA)
            result = client.chat(
                model="fake-model", messages=MESSAGES, provider_data=data, stream=stream, **options
            )
            if stream:
                list(result)

    return run


UP = "http://127.0.0.1:{up}"
ERROR_PATHS: Dict[str, Callable[[FakeUpstream, Refusing407Proxy], None]] = {
    "connection refused": call({"base_url": "http://127.0.0.1:{closed}"}),
    "proxy unreachable": call({"base_url": UP, "proxy_port": "closed"}),
    "proxy answers 407 (plain HTTP)": call({"base_url": UP, "proxy_port": "407"}),
    "proxy refuses CONNECT with 407": call(
        {"base_url": "https://127.0.0.1:{up}", "proxy_port": "407"}
    ),
    "TLS to a plain HTTP server": call({"base_url": "https://127.0.0.1:{up}"}),
    "401": call({"base_url": UP}, Reply.json(401, {"error": {"message": "bad key"}})),
    "503, retried": call(
        {"base_url": UP}, Reply.json(503, {}, headers={"retry-after-ms": "1"}), times=2
    ),
    # The hangs end when the client gives up; they must outlast its timeouts by far.
    "read timeout": call({"base_url": UP}, Reply.hang(10.0), timeout=(2.0, 0.2)),
    "deadline": call({"base_url": UP}, Reply.hang(10.0), deadline=0.3),
    "reset": call({"base_url": UP}, Reply.drop(reset=True)),
    "garbage": call({"base_url": UP}, Reply.raw(b"garbage\r\n\r\n")),
    "not JSON": call({"base_url": UP}, Reply.text(200, "<html></html>")),
    "stream error event": call(
        {"base_url": UP}, Reply.sse(['data: {"error": {"message": "boom"}}\n\n']), stream=True
    ),
    "stream cut": call({"base_url": UP}, Reply.sse(["data: {"], end="drop"), stream=True),
    "cross-origin redirect": call(
        {"base_url": UP}, Reply.redirect(307, "http://localhost:1/v1/chat/completions")
    ),
    "model not allowed": call({"base_url": UP, "allowed_models": ["other"]}),
    "forwarded value with a control character": call(
        {"base_url": UP}, provider_data={"tenant_token": TOKEN + "\n"}
    ),
    "forwarded value outside Latin-1": call(
        {"base_url": UP}, provider_data={"tenant_token": TOKEN + "\u0100"}
    ),
    "provider data that is not JSON": call(
        {"base_url": UP}, provider_data='{"tenant_token": "' + TOKEN + '"'
    ),
    "provider data that is not an object": call(
        {"base_url": UP}, provider_data='["' + TOKEN + '"]'
    ),
    "passthrough_api_key with a control character": call(
        {"base_url": UP, "api_key": None}, provider_data={"passthrough_api_key": KEY + "\r\n"}
    ),
    "extra header with a control character": call(
        {"base_url": UP}, extra_headers={"X-Extra": TOKEN + "\r\nX: y"}
    ),
}
EXPECTED = (
    APIConnectionError,
    APIStatusError,
    InvalidResponseError,
    StreamError,
    ModelNotAllowedError,
    ProviderDataError,
    ConfigError,
)


def exception_text(exc: BaseException) -> str:
    """Everything an exception can show: str, repr, traceback with causes, a pickled copy."""
    parts = ["".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    seen: Optional[BaseException] = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(getattr(seen, "args", ""))]
        seen = seen.__cause__ or seen.__context__
    copy = pickle.loads(pickle.dumps(exc))
    return "\n".join([*parts, str(copy), repr(copy), repr(vars(copy))])


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log record, formatted (with any traceback)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.mark.parametrize("path", ERROR_PATHS.values(), ids=list(ERROR_PATHS))
def test_no_canary_in_errors_or_logs_on_any_error_path(
    upstream: FakeUpstream,
    proxy: Refusing407Proxy,
    caplog: pytest.LogCaptureFixture,
    path: Callable[[FakeUpstream, Refusing407Proxy], None],
) -> None:
    """An error path raises a typed error; no canary in it (or its causes) or any log record."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EXPECTED) as info:
        path(upstream, proxy)
    assert (leaks(exception_text(info.value)), leaks(log_text(caplog))) == ([], [])
    assert upstream.pending_replies == 0


def test_the_407_proxy_received_the_credentials(
    upstream: FakeUpstream, proxy: Refusing407Proxy
) -> None:
    """The recording proxy got ``Proxy-Authorization`` (so the 407 cases above were real)."""
    proxy.heads.clear()
    with pytest.raises(PassthroughError):
        ERROR_PATHS["proxy refuses CONNECT with 407"](upstream, proxy)
    assert any(b"Proxy-Authorization: Basic" in head for head in proxy.heads)


def test_no_canary_when_the_api_key_itself_is_malformed(upstream: FakeUpstream) -> None:
    """An API key with CR/LF gives a typed error that does not quote the key."""
    with pytest.raises(PassthroughError) as info:  # building or calling may raise
        client = PassthroughClient(base_url=upstream.url, api_key=KEY + "\r\n", environ={})
        with client:
            client.chat(model="fake-model", messages=MESSAGES)
    assert leaks(exception_text(info.value)) == []


BAD_CONFIGS = {
    "unknown key holding the key": {"api_keyy": KEY},
    "api_key of the wrong type": {"api_key": [KEY]},
    "proxy URL with a bad port": {"network": {"proxy": {"url": f"http://u:{PASSWORD}@h:99999"}}},
    "proxy URL with a bad scheme": {"network": {"proxy": {"url": f"socks5://u:{PASSWORD}@h:1"}}},
    "proxy URL with whitespace": {"network": {"proxy": {"url": f"http://u:{PASSWORD} @h:1"}}},
    "proxy URL without a host": {"network": {"proxy": {"url": f"http://u:{PASSWORD}@"}}},
    "proxy URL with brackets": {"network": {"proxy": {"https": f"http://u:{PASSWORD}@[::1"}}},
    "proxy url and http together": {
        "network": {"proxy": {"url": f"http://u:{PASSWORD}@h:1", "http": f"http://u:{PASSWORD}@h"}}
    },
    "header value with a control character": {"network": {"headers": {"X-Key": TOKEN + "\n"}}},
    "base_url with credentials": {"base_url": f"http://u:{PASSWORD}@h"},
}


@pytest.mark.parametrize("document", BAD_CONFIGS.values(), ids=list(BAD_CONFIGS))
def test_no_canary_in_configuration_errors(document: Dict[str, Any]) -> None:
    """A configuration error never quotes a secret from the document."""
    with pytest.raises(ConfigError) as info:
        load_config(document, environ={})
    assert leaks(exception_text(info.value)) == []


@pytest.fixture(name="secret_client")
def fixture_secret_client(upstream: FakeUpstream) -> Iterator[PassthroughClient]:
    config = config_for(upstream.url, closed_port())
    config["network"]["proxy"]["no_proxy"] = ["127.0.0.1"]
    with PassthroughClient(config, environ={}) as client:
        yield client


def test_no_canary_in_reprs_or_dump(secret_client: PassthroughClient) -> None:
    """The client's and the config's repr/str and ``dump_config`` show no secret."""
    config = secret_client.config
    shown = [repr(secret_client), str(secret_client), repr(config), str(config)]
    shown += [repr(config.network), repr(config.api_key), str(config.api_key)]
    shown.append(repr(dump_config(config)))
    assert leaks("\n".join(shown)) == []


def test_dump_config_reveals_secrets_only_when_asked(secret_client: PassthroughClient) -> None:
    """``reveal_secrets=True`` does show them (so the check above can fail)."""
    assert leaks(repr(dump_config(secret_client.config, reveal_secrets=True))) == [KEY, PASSWORD]


def test_no_canary_in_logs_of_successful_calls(
    secret_client: PassthroughClient, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs of successful plain and streamed calls carry no secret."""
    caplog.set_level(logging.DEBUG)
    secret_client.chat(model="fake-model", messages=MESSAGES, provider_data=PROVIDER_DATA)
    with secret_client.chat(
        model="fake-model", messages=MESSAGES, provider_data=PROVIDER_DATA, stream=True
    ) as stream:
        stream.collect()
    secret_client.models(provider_data=PROVIDER_DATA)
    assert [TOKEN, f"Bearer {KEY}"] == [  # it was sent: the canaries were live
        upstream.requests[-1].headers["x-tenant-token"],
        upstream.requests[-1].headers["authorization"],
    ]
    assert caplog.records
    assert leaks(log_text(caplog)) == []
