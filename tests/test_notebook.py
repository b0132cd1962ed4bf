"""examples/notebook.ipynb executed in a real Jupyter kernel (nbclient + ipykernel).

The kernel is this interpreter (``sys.executable``), through a kernelspec written to a
temporary folder, so the test runs the same way in a fresh virtual environment; its
environment holds only what the notebook needs, with every Jupyter/IPython folder in
``tmp_path``. Start-up and every cell are bounded by nbclient's timeouts, and the
kernel is shut down by the manager this test holds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from passthrough_client.testing import FakeUpstream

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"
KERNEL = "passthrough-client-test"
TIMEOUT = 60


def kernel_env(tmp_path: Path, **extra: str) -> Dict[str, str]:
    """The kernel's whole environment: PATH, the checkout, private Jupyter folders, ``extra``."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    for name in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(tmp_path / name.lower())
    env.update(extra)
    return env


def execute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> List[Any]:
    """Run the notebook in a fresh kernel; returns its code cells with their outputs."""
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "this interpreter", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # connection files
    notebook = nbformat.read(str(NOTEBOOK), as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    runner = NotebookClient(
        notebook, km=manager, kernel_name=KERNEL, timeout=TIMEOUT, startup_timeout=TIMEOUT
    )
    try:
        runner.execute(env=kernel_env(tmp_path, **extra), cwd=str(tmp_path))
    finally:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def results(cell: Any) -> Dict[str, str]:
    """The mime bundle of a cell's value (its ``execute_result``)."""
    found = [out for out in cell.outputs if out.output_type == "execute_result"]
    assert len(found) == 1, cell.outputs
    return dict(found[0].data)


def text_of(cell: Any) -> str:
    """Everything a cell printed to stdout."""
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


@pytest.fixture(name="code_cells", scope="module")
def fixture_code_cells(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """The notebook executed once against a FakeUpstream, with what the service received."""
    tmp_path = tmp_path_factory.mktemp("notebook")
    with pytest.MonkeyPatch.context() as monkeypatch, FakeUpstream() as upstream:
        cells = execute(tmp_path, monkeypatch, PASSTHROUGH_URL=upstream.url)
        requests = upstream.requests
    return {"cells": cells, "requests": requests}


def test_notebook_runs_every_cell_without_an_error(code_cells: Dict[str, Any]) -> None:
    """Every code cell ran, against the FakeUpstream the test started, and none failed."""
    cells = code_cells["cells"]
    assert all(cell.execution_count for cell in cells)
    assert [o for c in cells for o in c.outputs if o.output_type == "error"] == []
    assert [r.path for r in code_cells["requests"]][:2] == ["/v1/models", "/v1/chat/completions"]


def test_notebook_shows_a_reply_as_its_summary(code_cells: Dict[str, Any]) -> None:
    """The chat reply shows as the short summary in text and as an HTML table, not attrs' repr."""
    shown = results(code_cells["cells"][1])
    assert shown["text/plain"].splitlines() == [
        "ChatCompletion(id='chatcmpl-fake-2', model='fake-model')",
        "  [0] assistant: 'Hello from a notebook!' (finish_reason='stop')",
        "  usage: 4 prompt + 4 completion = 8 tokens",
    ]
    html = shown["text/html"]
    assert html.startswith("<table>") and "Hello from a notebook!" in html
    assert "choices=" not in shown["text/plain"] + html


def test_notebook_streams_live_then_shows_the_assembled_reply(code_cells: Dict[str, Any]) -> None:
    """The live display ends with the whole text; the assembled reply shows as a summary."""
    cell = code_cells["cells"][3]
    live = [o for o in cell.outputs if o.output_type == "display_data"]
    assert [o.data["text/markdown"] for o in live] == [
        "Streaming shows every token the moment it arrives."
    ]
    assert results(cell)["text/plain"].startswith("ChatCompletion(id='chatcmpl-fake-3'")


def test_notebook_shows_a_stream_without_consuming_it(code_cells: Dict[str, Any]) -> None:
    """A stream shown as a cell's value is a summary; collecting it afterwards gets everything."""
    shown = results(code_cells["cells"][4])
    assert shown["text/plain"] == (
        "Stream of ChatCompletionChunk (open, HTTP 200 OK): iterate it or call .collect()"
    )
    assert "<caption" in shown["text/html"] and ">open<" in shown["text/html"]
    collected = results(code_cells["cells"][5])["text/plain"]
    assert "assistant: 'Shown first, then read.'" in collected


def test_notebook_reports_errors_and_forwards_provider_data(code_cells: Dict[str, Any]) -> None:
    """The errors cell prints each error; provider data reaches the service as X-Tenant-ID."""
    printed = text_of(code_cells["cells"][6])
    for error in ("ModelNotAllowedError", "ProviderDataError", "APIConnectionError"):
        assert error in printed
    assert "assistant: 'Which tenant am I?'" in results(code_cells["cells"][7])["text/plain"]
    assert code_cells["requests"][-1].headers["X-Tenant-ID"] == "acme-corp"
