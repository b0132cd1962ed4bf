"""A batch of chat calls on a Dask cluster: one client shipped to every worker process.

For batch work that outgrows one machine. The client is built once here, from the
configuration and this process's environment, and pickled to the workers
(``scatter(..., broadcast=True)``: once per worker, not once per task). Each worker
gets a copy with the same configuration, options and proxy/CA settings — it does not
read the worker's environment — and opens its own connections. The pickle carries the
API key: keep the cluster's network private (see SECURITY.md).

Here the cluster is a ``LocalCluster`` of 2 worker processes; with a real scheduler,
pass its address to ``distributed.Client`` instead. Needs ``pip install
"dask[distributed]"``. Run::

    PASSTHROUGH_URL=http://localhost:8000 PASSTHROUGH_MODEL=my-model python examples/batch_dask.py

Without ``PASSTHROUGH_URL`` it starts the embedded fake service (which echoes).
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional, Tuple

from distributed import Client, LocalCluster

from passthrough_client import PassthroughClient, PassthroughError

PROMPTS = [f"Summarise document {i} in one line." for i in range(24)]


def ask(client: PassthroughClient, prompt: str, model: str) -> Tuple[str, Optional[str], int]:
    """Runs on a worker: ``(prompt, answer or None, worker pid)``; a failed call is None."""
    try:
        reply = client.chat(model=model, messages=[{"role": "user", "content": prompt}])
        answer = reply.choices[0].message.content if reply.choices else None
    except PassthroughError:  # keep the batch going; the caller counts the failures
        answer = None
    return prompt, answer, os.getpid()


def run_batch(
    client: PassthroughClient, prompts: List[str], model: str, *, workers: int = 2
) -> List[Tuple[str, Optional[str], int]]:
    """Send every prompt through ``client`` on a local cluster of ``workers`` processes."""
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=4, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as dask,
    ):
        shipped = dask.scatter(client, broadcast=True)  # one copy per worker process
        futures = dask.map(ask, [shipped] * len(prompts), prompts, model=model, pure=False)
        return list(dask.gather(futures))


def main() -> int:
    """Run the batch and print each answer, then a summary line."""
    fake = None
    if not os.environ.get("PASSTHROUGH_URL"):
        from passthrough_client.testing import FakeUpstream

        fake = FakeUpstream().start()
        os.environ["PASSTHROUGH_URL"] = fake.url
        print("PASSTHROUGH_URL is not set: using the embedded fake service at", fake.url)
    model = os.environ.get("PASSTHROUGH_MODEL", "fake-model")
    try:
        with PassthroughClient() as client:  # PASSTHROUGH_URL, PASSTHROUGH_API_KEY
            results = run_batch(client, PROMPTS, model)
    finally:
        if fake is not None:
            fake.stop()
    for prompt, answer, pid in results:
        print(f"[worker {pid}] {prompt} -> {answer}")
    failed = sum(answer is None for _, answer, _ in results)
    pids = {pid for _, _, pid in results}
    print(f"{len(results) - failed} of {len(results)} answered by {len(pids)} worker processes")
    return 1 if failed else 0


if __name__ == "__main__":  # required: the workers are started with "spawn"
    sys.exit(main())
