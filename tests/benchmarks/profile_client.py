"""Where passthrough_client spends its time: cProfile and ``-X importtime`` reports.

    python tests/benchmarks/profile_client.py [chat|stream|construct|import ...]
        [--top 25] [--calls 2000] [--chunks 50000] [--dump DIR]

- ``chat``: cProfile over ``--calls`` non-streaming ``chat()`` calls (after a warm-up).
- ``stream``: cProfile over one ``--chunks`` stream, iterated and touched.
- ``construct``: cProfile over 500 ``PassthroughClient(...)`` after the first.
- ``import``: ``python -X importtime -c 'import passthrough_client'``, top modules by
  cumulative and by own time (in a fresh process, ``.pyc`` already written).

Each profile prints the top functions by cumulative and by own time; ``--dump DIR``
also writes the ``.prof`` files (for snakeviz or ``python -m pstats``). Named
``profile_client`` so that it does not shadow the standard ``profile`` module.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
from typing import Any, Callable, List, Optional, Tuple

from server import start_server, stop_server

__all__ = ["main"]

MODEL = "bench-model"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def _client(base: str) -> Any:
    from passthrough_client import PassthroughClient

    return PassthroughClient(base_url=base, environ={})


def _report(title: str, profile: cProfile.Profile, top: int, dump: Optional[str]) -> None:
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        text = out.getvalue()
        print(f"\n===== {title}: top {top} by {key} =====")
        print(text[text.find("   ncalls") :].rstrip())
    if dump:
        os.makedirs(dump, exist_ok=True)
        profile.dump_stats(os.path.join(dump, f"{title}.prof"))


def _profiled(work: Callable[[], None]) -> cProfile.Profile:
    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    return profile


def profile_chat(base: str, args: argparse.Namespace) -> cProfile.Profile:
    """cProfile of ``args.calls`` non-streaming chat() calls."""
    client = _client(base)
    for _ in range(200):
        client.chat(model=MODEL, messages=MESSAGES)

    def work() -> None:
        for _ in range(args.calls):
            client.chat(model=MODEL, messages=MESSAGES)

    return _profiled(work)


def profile_stream(base: str, args: argparse.Namespace) -> cProfile.Profile:
    """cProfile of one long stream, each chunk's text read."""
    client = _client(base)
    headers = {"X-Bench-Chunks": str(args.chunks)}
    client.chat(model=MODEL, messages=MESSAGES, stream=True).collect()

    def work() -> None:
        for chunk in client.chat(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers=headers
        ):
            if chunk.choices:
                chunk.choices[0].delta.content  # noqa: B018 - read it, as a consumer does

    return _profiled(work)


def profile_construct(base: str, args: argparse.Namespace) -> cProfile.Profile:
    """cProfile of 500 client constructions after the first."""
    _client(base).close()

    def work() -> None:
        for _ in range(500):
            _client(base).close()

    return _profiled(work)


def _importtime(module: str) -> List[Tuple[int, int, str]]:
    """(own us, cumulative us, name) per module that ``import module`` itself imported.

    Modules imported at interpreter start (``site``, an editable install's finder)
    are left out: only the subtree printed before ``module``'s own line is kept.
    """
    # Write the .pyc files first (importing does not under PYTHONDONTWRITEBYTECODE=1).
    compile_code = (
        "import compileall, importlib.util; "
        f"spec = importlib.util.find_spec({module!r}); "
        "compileall.compile_dir(spec.submodule_search_locations[0], quiet=1)"
    )
    subprocess.run([sys.executable, "-c", compile_code], capture_output=True, check=True)
    cmd = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part for part in line[12:].split("|"))
        rows.append((int(own), int(cumulative), name.rstrip()))
    end = max(i for i, row in enumerate(rows) if row[2].strip() == module)
    start = end
    while start > 0 and rows[start - 1][2].startswith("  "):
        start -= 1
    return rows[start : end + 1]


def profile_import(top: int) -> None:
    """Print the ``-X importtime`` breakdown of passthrough_client."""
    rows = _importtime("passthrough_client")
    total = max(cumulative for _, cumulative, _ in rows)
    print(f"\n===== import passthrough_client: {total / 1000:.1f} ms in {len(rows)} modules")
    for label, index in (("cumulative", 1), ("own", 0)):
        print(f"--- top {top} by {label} time (ms: own, cumulative, module as nested)")
        for own, cumulative, name in sorted(rows, key=lambda r: -int(r[index]))[:top]:
            print(f"{own / 1000:8.2f} {cumulative / 1000:8.2f}  {name}")
    groups: dict[str, int] = {}
    for own, _, name in rows:
        root = name.strip().split(".")[0]
        groups[root] = groups.get(root, 0) + own
    print("--- own time summed per top-level package (ms)")
    for root, own in sorted(groups.items(), key=lambda item: -item[1])[:top]:
        print(f"{own / 1000:8.2f}  {root}")


PROFILES = {"chat": profile_chat, "stream": profile_stream, "construct": profile_construct}


def main(argv: Optional[List[str]] = None) -> None:
    """Run the chosen profiles (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", default=["chat", "stream", "construct", "import"])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=50000)
    parser.add_argument("--dump", metavar="DIR", help="also write .prof files here")
    args = parser.parse_args(argv)
    server, port = start_server()
    try:
        for what in args.what:
            if what == "import":
                profile_import(args.top)
                continue
            profile = PROFILES[what](f"http://127.0.0.1:{port}", args)
            _report(what, profile, args.top, args.dump)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
