"""Every example runs against FakeUpstream: scripts, YAML files, the WSGI service, the notebook."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import trustme

from passthrough_client import ConfigError, PassthroughClient, load_config
from passthrough_client.testing import FakeUpstream

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CANARY = "sk-CANARY-3x4mpl3"
TIMEOUT = 30.0

# Runs the notebook's code cells in plain Python, in order, printing each cell's last
# expression (tests/test_notebook.py runs it in a real kernel). With "plain", IPython
# cannot be imported; with "stub", a stand-in ``IPython.display`` records every live
# update of a display handle.
NOTEBOOK_RUNNER = r"""
import ast, json, sys, types

path, mode = sys.argv[1], sys.argv[2]
updates = []
if mode == "plain":  # as if IPython were not installed (the test extra installs it)
    sys.modules["IPython"] = sys.modules["IPython.display"] = None
if mode == "stub":
    class Markdown:
        def __init__(self, data): self.data = data
    class Handle:
        def update(self, obj): updates.append(obj.data)
    def display(obj, display_id=None):
        return Handle() if display_id else None
    module = types.ModuleType("IPython.display")
    module.Markdown, module.display = Markdown, display
    sys.modules["IPython"] = types.ModuleType("IPython")
    sys.modules["IPython.display"] = module

class Printer:
    def __init__(self): self.parts = []
    def text(self, text): self.parts.append(text)

def show(value):
    if value is None:
        return
    if hasattr(type(value), "_repr_pretty_"):
        printer = Printer()
        value._repr_pretty_(printer, False)
        print("".join(printer.parts))
    else:
        print(repr(value))

namespace = {"__name__": "__main__"}
with open(path, encoding="utf-8") as f:
    cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
for number, cell in enumerate(cells):
    print(f"--- cell {number} ---", flush=True)
    tree = ast.parse("".join(cell["source"]))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, f"<cell {number}>", "exec"), namespace)
    if last is not None:
        show(eval(compile(ast.Expression(last.value), f"<cell {number}>", "eval"), namespace))
print("--- updates ---")
print(json.dumps(updates))
"""


def example_env(**extra: str) -> Dict[str, str]:
    """Only what an example needs: PATH, the repository on sys.path, and ``extra``."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    if "SYSTEMROOT" in os.environ:
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    env.update(extra)
    return env


def run_python(*args: str, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


# ------------------------------------------------------------------ scripts


def test_quickstart_lists_models_and_prints_the_answer(upstream: FakeUpstream) -> None:
    """quickstart.py lists the models and prints the answer and the readable summary."""
    env = example_env(PASSTHROUGH_URL=upstream.url, PASSTHROUGH_API_KEY=CANARY)
    result = run_python(str(EXAMPLES / "quickstart.py"), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["models: fake-model, fake-embedder", "answer: Say hello in five words."]
    assert "usage: " in result.stdout
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {CANARY}"


def test_quickstart_without_url_exits_2() -> None:
    """quickstart.py explains a missing PASSTHROUGH_URL and exits 2."""
    result = run_python(str(EXAMPLES / "quickstart.py"), env=example_env())
    assert result.returncode == 2
    assert "PASSTHROUGH_URL" in result.stderr


def test_streaming_prints_the_tokens_then_the_summary(upstream: FakeUpstream) -> None:
    """streaming.py prints the streamed answer, then the assembled completion with usage."""
    env = example_env(PASSTHROUGH_URL=upstream.url, PASSTHROUGH_MODEL="fake-model")
    result = run_python(str(EXAMPLES / "streaming.py"), "one two three", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "one two three"
    assert "usage: 3 prompt + 3 completion" in result.stdout
    assert upstream.requests[-1].json["stream"] is True


def test_show_config_masks_the_key() -> None:
    """show_config.py prints the example configuration with the API key masked."""
    env = example_env(PASSTHROUGH_API_KEY=CANARY)
    result = run_python(str(EXAMPLES / "show_config.py"), env=env)
    assert result.returncode == 0, result.stderr
    assert '"api_key": "**********"' in result.stdout
    assert CANARY not in result.stdout


# ------------------------------------------------------------------ run.yaml


def test_run_yaml_needs_a_provider_id_and_loads_each_provider() -> None:
    """run.yaml has two passthrough providers: each loads by its id, none without one."""
    path = EXAMPLES / "run.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "several remote::passthrough providers ('research', 'production')" in str(caught.value)
    research = load_config(
        path, environ={"PASSTHROUGH_URL": "http://127.0.0.1:9"}, provider_id="research"
    )
    assert research.base_url == "http://127.0.0.1:9"
    production = load_config(path, environ={}, provider_id="production")
    assert production.allowed_models == ("llama-3-70b",)


# ------------------------------------------------------------------ corporate-network.yaml


def test_corporate_network_loads_with_its_defaults() -> None:
    """corporate-network.yaml is valid as it is: every variable has a default."""
    config = load_config(EXAMPLES / "corporate-network.yaml", environ={})
    assert config.network is not None and config.network.proxy is not None
    assert config.network.proxy.url == "http://proxy.corp.example:3128"
    assert config.network.tls is not None and config.network.tls.verify is True


@pytest.fixture(name="mtls")
def fixture_mtls(tmp_path: Path) -> Tuple[ssl.SSLContext, Dict[str, str]]:
    """A server context that requires a client certificate, and the variables for the YAML."""
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.configure_trust(server)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ca.issue_cert("client@corp.example")
    files = {"ca.pem": ca.cert_pem, "client.pem": client.cert_chain_pems[0]}
    files["client.key"] = client.private_key_pem
    for name, blob in files.items():
        blob.write_to_path(str(tmp_path / name))
    env = {"CORP_CA_BUNDLE": "ca.pem", "CORP_CLIENT_CERT": "client.pem"}
    env["CORP_CLIENT_KEY"] = "client.key"
    return server, {k: str(tmp_path / v) for k, v in env.items()}


def test_corporate_network_reaches_an_mtls_service_directly(
    mtls: Tuple[ssl.SSLContext, Dict[str, str]],
) -> None:
    """With its variables set, the YAML gives mTLS with the private CA, bypassing the proxy."""
    server, env = mtls
    with FakeUpstream(ssl_context=server) as upstream:
        environ = {**env, "PASSTHROUGH_URL": upstream.url}
        with PassthroughClient(EXAMPLES / "corporate-network.yaml", environ=environ) as client:
            client.chat(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        request = upstream.requests[-1]
    assert request.client_cert_subject is not None
    assert request.headers["X-Team"] == "research"


# ------------------------------------------------------------------ wsgi_service.py


def post(port: int, body: Dict[str, Any], headers: Dict[str, str]) -> Tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/ask", body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture(name="wsgi_port")
def fixture_wsgi_port(upstream: FakeUpstream) -> Iterator[int]:
    """The example WSGI service in a subprocess, forwarding to the fake service."""
    env = example_env(PASSTHROUGH_URL=upstream.url, PASSTHROUGH_MODEL="fake-model")
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "wsgi_service.py"), "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "listening on http://127.0.0.1:PORT"
        assert line.startswith("listening on "), line
        yield int(line.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()


def test_wsgi_service_forwards_only_the_listed_provider_data(
    upstream: FakeUpstream, wsgi_port: int
) -> None:
    """The caller's X-LlamaStack-Provider-Data becomes X-Tenant-ID; other keys stay behind."""
    data = {"tenant_id": "acme", "other_provider": {"api_key": CANARY}}
    headers = {"X-LlamaStack-Provider-Data": json.dumps(data), "Content-Type": "application/json"}
    status, body = post(wsgi_port, {"prompt": "hello legacy"}, headers)
    assert (status, body) == (200, {"answer": "hello legacy"})
    sent = upstream.requests[-1].headers
    assert sent["X-Tenant-ID"] == "acme"
    assert all(CANARY not in value for _, value in sent)


@pytest.mark.parametrize(
    ("headers", "tenant"),
    [
        ({"X-OGX-Provider-Data": '{"tenant_id": "ogx"}'}, "ogx"),
        (
            {
                "X-OGX-Provider-Data": '{"tenant_id": "ogx"}',
                "X-LlamaStack-Provider-Data": '{"tenant_id": "llamastack"}',
            },
            "llamastack",
        ),
    ],
)
def test_wsgi_service_understands_the_ogx_header(
    upstream: FakeUpstream, wsgi_port: int, headers: Dict[str, str], tenant: str
) -> None:
    """X-OGX-Provider-Data is understood too; X-LlamaStack-Provider-Data wins when both come."""
    status, _ = post(wsgi_port, {"prompt": "hello"}, headers)
    assert status == 200
    assert upstream.requests[-1].headers["X-Tenant-ID"] == tenant


def test_wsgi_service_rejects_invalid_provider_data(upstream: FakeUpstream, wsgi_port: int) -> None:
    """Provider data that is not JSON is the caller's error (400); nothing is sent upstream."""
    status, body = post(wsgi_port, {"prompt": "x"}, {"X-LlamaStack-Provider-Data": "{oops"})
    assert status == 400
    assert "provider data" in body["error"]
    assert upstream.requests == []


# ------------------------------------------------------------------ notebook.ipynb


def run_notebook(mode: str, env: Dict[str, str]) -> Dict[str, str]:
    """Run the notebook's code cells; returns each cell's output, and the live updates."""
    notebook = str(EXAMPLES / "notebook.ipynb")
    result = run_python("-c", NOTEBOOK_RUNNER, notebook, mode, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    outputs: Dict[str, str] = {}
    for block in result.stdout.split("--- ")[1:]:
        name, _, text = block.partition(" ---\n")
        outputs[name] = text
    return outputs


def test_notebook_runs_without_ipython(upstream: FakeUpstream) -> None:
    """The code cells run in plain Python: chat, printed stream, errors and provider data."""
    out = run_notebook("plain", example_env(PASSTHROUGH_URL=upstream.url))
    assert out["cell 2"] == "'Hello from a notebook!'\n"
    assert out["cell 3"].startswith("Streaming shows every token the moment it arrives.\n")
    for error in ("ModelNotAllowedError", "ProviderDataError", "APIConnectionError"):
        assert error in out["cell 6"]
    assert upstream.requests[-1].headers["X-Tenant-ID"] == "acme-corp"
    assert "stays" not in json.dumps(upstream.requests[-1].headers.items())


def test_notebook_streams_live_through_ipython_display() -> None:
    """With IPython, the streamed text grows in one display, one update per token.

    No PASSTHROUGH_URL: the notebook starts the embedded fake service itself.
    """
    out = run_notebook("stub", example_env())
    updates: List[str] = json.loads(out["updates"])
    text = "Streaming shows every token the moment it arrives."
    assert updates[-1] == text
    assert len(updates) == len(text.split())
    assert "embedded fake service" in out["cell 0"]


def test_notebook_is_stored_without_outputs() -> None:
    """The notebook is nbformat 4 with unique cell ids and no stored outputs."""
    notebook = json.loads((EXAMPLES / "notebook.ipynb").read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    ids = [cell["id"] for cell in notebook["cells"]]
    assert len(ids) == len(set(ids))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
