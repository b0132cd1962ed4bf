"""A legacy synchronous WSGI service that forwards its callers' provider data.

The use case: an existing service (standard-library ``wsgiref`` here; Flask, Django or
any WSGI framework alike) is called by a Llama Stack-style front end that sends
per-user settings in an ``X-LlamaStack-Provider-Data`` header. The service extracts
them with :func:`passthrough_client.provider_data_from_headers` and passes them on
through ONE shared :class:`PassthroughClient` (thread-safe, one connection pool). Only
the keys listed in ``forward_headers`` leave the service, as the mapped headers.

Run::

    PASSTHROUGH_URL=http://localhost:8000 python examples/wsgi_service.py --port 8080
    curl -s localhost:8080/ask -H 'X-LlamaStack-Provider-Data: {"tenant_id": "acme"}' \\
         -d '{"model": "fake-model", "prompt": "Hello"}'

Under a pre-forking server such as gunicorn, keep one module-level client: it is
fork-safe (each worker opens its own connections), also with ``--preload``::

    # myservice.py
    import wsgi_service
    client = PassthroughClient(wsgi_service.CONFIG)
    app = wsgi_service.make_app(client)

    # gunicorn --preload -w 4 myservice:app

``POST /ask`` takes ``{"prompt": ..., "model": ...}`` (``model`` defaults to
``PASSTHROUGH_MODEL``) and answers ``{"answer": ...}``; errors are JSON too:
400 for bad input, 502 when the inference service fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socketserver
import sys
from typing import Any, Callable, Iterable, Mapping, Optional
from wsgiref.simple_server import WSGIServer, make_server

from passthrough_client import (
    APIStatusError,
    ModelNotAllowedError,
    PassthroughClient,
    PassthroughError,
    ProviderDataError,
    provider_data_from_headers,
)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[Mapping[str, Any], StartResponse], Iterable[bytes]]

CONFIG = {
    "base_url": "${env.PASSTHROUGH_URL}",
    "api_key": "${env.PASSTHROUGH_API_KEY:=}",
    # provider-data key -> outbound header; every other key is dropped (default-deny)
    "forward_headers": {"tenant_id": "X-Tenant-ID", "maas_api_token": "Authorization"},
}
MAX_BODY = 1 << 20


def headers_from_environ(environ: Mapping[str, Any]) -> dict[str, str]:
    """Request headers from a WSGI environ.

    WSGI stores them as ``HTTP_*`` keys (``HTTP_X_LLAMASTACK_PROVIDER_DATA``); this turns
    them back into header names (``X-Llamastack-Provider-Data``; look-ups are
    case-insensitive anyway).
    """
    return {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }


def _reply(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(status, headers)
    return [data]


def _read_json(environ: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def make_app(client: PassthroughClient) -> WSGIApp:
    """The WSGI application; every request goes through the one shared ``client``."""

    def app(environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")) != ("POST", "/ask"):
            return _reply(start_response, "404 Not Found", {"error": "use POST /ask"})
        body = _read_json(environ)
        model = (body or {}).get("model") or os.environ.get("PASSTHROUGH_MODEL")
        if body is None or not isinstance(body.get("prompt"), str) or not model:
            return _reply(start_response, "400 Bad Request", {"error": "need prompt and model"})
        try:
            provider_data = provider_data_from_headers(headers_from_environ(environ))
            reply = client.chat(
                model=model,
                messages=[{"role": "user", "content": body["prompt"]}],
                provider_data=provider_data,  # None when the caller sent none
            )
        except (ProviderDataError, ModelNotAllowedError) as exc:  # the caller's fault
            return _reply(start_response, "400 Bad Request", {"error": str(exc)})
        except APIStatusError as exc:
            error = f"the inference service answered {exc.status_code}: {exc.message}"
            return _reply(start_response, "502 Bad Gateway", {"error": error})
        except PassthroughError as exc:  # connection problems, invalid responses
            return _reply(start_response, "502 Bad Gateway", {"error": str(exc)})
        answer = reply.choices[0].message.content if reply.choices else None
        return _reply(start_response, "200 OK", {"answer": answer})

    return app


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request: the shared client is safe to use from all of them."""

    daemon_threads = True


def main(argv: list[str]) -> int:
    """Serve until interrupted; prints ``listening on http://HOST:PORT`` first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        client = PassthroughClient(CONFIG)
    except PassthroughError as exc:
        print(f"configuration problem:\n{exc}", file=sys.stderr)
        return 2
    with client, make_server(args.host, args.port, make_app(client), ThreadingWSGIServer) as server:
        print(f"listening on http://{args.host}:{server.server_port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the service
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
