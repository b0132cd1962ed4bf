"""Side-by-side benchmarks of passthrough_client and its peers (DESIGN.md section 9).

Usage, from a virtualenv with the ``bench`` extra (``pip install -e '.[bench]'``)::

    python tests/benchmarks/run.py [--quick] [--json results.json] [--only FIGURE ...]
        [--python PY [--python LEGACY_PY]]

Starts ``server.py`` (a canned-response HTTP/1.1 server) in its own process, then runs
every measurement in a fresh interpreter (``workers.py``), interleaving the
implementations round by round (A B C D, A B C D, ...), and prints the medians, the
ratios against each target and PASS/FAIL (exit status 1 when a target fails). A full
run takes 5 to 8 minutes per stack on 2 cores; ``--quick`` about 40 seconds (fewer
rounds, shorter windows: noisier). Each ``--python`` is a virtualenv with the
``bench`` extra (another stack: the urllib3 1.26 one of section 10, say): one table
per interpreter. Proxy, CA-bundle, ``SSL_CERT_*``, ``PASSTHROUGH_*`` and
``OPENAI_*`` variables are removed from the workers' environment. See
the README's "Performance" section for what each figure measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from server import start_server, stop_server

__all__ = ["main"]

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "workers.py")
STRIPPED = ("proxy", "ca_bundle", "ssl_cert", "passthrough_", "openai_")
IMPORT_SNIPPET = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)
Settings = Dict[str, Any]


def _clean_env() -> Dict[str, str]:
    """The environment without proxy, CA bundle, PASSTHROUGH_* and OPENAI_* variables."""
    return {k: v for k, v in os.environ.items() if not any(s in k.lower() for s in STRIPPED)}


def _run(cmd: List[str], timeout: float = 180.0) -> str:
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=_clean_env(), check=False
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _worker(py: str, figure: str, impl: str, options: Dict[str, Any]) -> Dict[str, Any]:
    cmd = [py, WORKERS, figure, impl]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    result: Dict[str, Any] = json.loads(_run(cmd).strip().splitlines()[-1])
    return result


# Writes the package's .pyc files as ``pip install`` does for every installed package (the
# peers' already exist): an editable install under PYTHONDONTWRITEBYTECODE=1 never gets
# them and would be timed compiling its sources (about 130 ms on 3.11). Does not import it.
COMPILE_SNIPPET = (
    "import compileall, importlib.util; "
    "spec = importlib.util.find_spec('passthrough_client'); "
    "compileall.compile_dir(spec.submodule_search_locations[0], quiet=1)"
)


def _import_time(py: str, module: Optional[str]) -> Dict[str, Any]:
    """In-process import seconds, and the whole interpreter's wall time."""
    code = IMPORT_SNIPPET.format(module=module) if module else "pass"
    start = time.perf_counter()
    out = _run([py, "-c", code])
    wall = time.perf_counter() - start
    return {"value": float(out) if module else 0.0, "wall": wall}


# ------------------------------------------------------------------ plan

# key, worker figure, implementations, worker options on top of the settings.
FIGURES: List[Tuple[str, str, List[str], Dict[str, Any]]] = [
    ("chat", "chat", ["passthrough", "openai", "requests", "urllib3"], {}),
    ("chat16", "chat", ["passthrough", "openai", "requests"], {"threads": 16}),
    ("stream", "stream", ["passthrough", "raw", "openai"], {}),
    ("embed", "embed", ["passthrough", "requests"], {}),
    ("import", "import", ["passthrough", "openai", "python"], {}),
    ("construct", "construct", ["passthrough", "openai", "openai-capath"], {}),
    ("memory", "memory", ["passthrough", "raw"], {}),
    ("trickle", "trickle", ["passthrough", "openai"], {}),
    ("trickle_partial", "trickle", ["passthrough", "openai"], {"frames": "block"}),
]

# The targets of DESIGN.md section 9, one row each:
# figure, peer, comparison ("ratio >=", "ratio <=", "value <", "info"), target, label.
# "info" rows show a ratio without a target (a lower-level peer, or a peer's best case).
CHECKS: List[Tuple[str, str, str, float, str]] = [
    ("chat", "openai", "ratio >=", 2.5, "chat() calls/s"),
    ("chat", "requests", "ratio >=", 1.5, "chat() calls/s"),
    ("chat", "urllib3", "info", 0.0, "chat() calls/s"),
    ("chat16", "requests", "ratio >=", 1.5, "16 threads, calls/s"),
    ("chat16", "openai", "ratio >=", 2.5, "16 threads, calls/s"),
    ("stream", "openai", "ratio >=", 12.0, "stream chunks/s"),
    ("stream", "raw", "ratio >=", 0.8, "stream chunks/s"),
    ("embed", "requests", "ratio <=", 1.3, "8 MB embeddings, time"),
    ("import", "openai", "ratio <=", 0.3, "import time"),
    ("construct", "openai", "ratio <=", 0.2, "construct a client"),
    ("construct", "openai-capath", "info", 0.2, "construct a client"),
    ("memory", "", "value <", 20.0, "memory, 200k chunks (MB)"),
    ("trickle", "", "value <", 0.050, "trickle max lag (s)"),
    ("trickle_partial", "", "value <", 0.050, "trickle in 1 HTTP chunk"),
]


def _settings(quick: bool) -> Settings:
    if quick:
        return {
            "rounds": {"chat": 2, "chat16": 2, "stream": 2, "import": 5, "construct": 2},
            "rounds_default": 1,
            "chat": {"seconds": 0.6, "warmup": 100},
            "chat16": {"seconds": 0.8, "warmup": 160},
            "embed": {"seconds": 1.0},
            "stream": {"chunks": 20000},
            "stream_openai_chunks": 5000,
            "construct": {"seconds": 0.4},
            "memory": {"chunks": 200000},
            "trickle": {"chunks": 10, "interval": 0.1},
            "trickle_partial": {"chunks": 10, "interval": 0.1},
        }
    return {
        # Stream rounds, chat rounds and 16-thread windows were the noisiest rows (single
        # rounds 2x apart on a shared 2-core machine): more rounds, longer windows.
        "rounds": {"chat": 7, "chat16": 5, "stream": 11, "import": 15, "construct": 5},
        "rounds_default": 3,
        "chat": {"seconds": 1.5, "warmup": 200},
        "chat16": {"seconds": 3.0, "warmup": 320},
        "embed": {"seconds": 1.5},
        "stream": {"chunks": 50000},
        # openai yields about 3,500 chunks/s here: 50,000 would take 15 s a round. Its
        # rate is per chunk, request included, and does not depend on the length.
        "stream_openai_chunks": 10000,
        "construct": {"seconds": 1.0},
        "memory": {"chunks": 200000},
        "trickle": {"chunks": 20, "interval": 0.1},
        "trickle_partial": {"chunks": 20, "interval": 0.1},
    }


def _measure(
    py: str, key: str, impl: str, settings: Settings, base: str, pid: int
) -> Dict[str, Any]:
    _, figure, _, extra = next(entry for entry in FIGURES if entry[0] == key)
    if figure == "import":
        return _import_time(
            py, {"passthrough": "passthrough_client", "python": None}.get(impl, impl)
        )
    options = dict(settings[key], base=base, **extra)
    if key == "stream" and impl == "openai":
        options["chunks"] = settings["stream_openai_chunks"]
    if figure in ("chat", "stream"):
        options["server_pid"] = pid
    return _worker(py, figure, impl, options)


def collect(
    py: str, settings: Settings, log: Callable[[str], None], only: Optional[List[str]] = None
) -> Dict[str, Any]:
    """Run every figure (or those in ``only``), interleaving implementations by round."""
    server, port = start_server(py)
    base = f"http://127.0.0.1:{port}"
    figures: Dict[str, Any] = {}
    if not only or "import" in only:
        _run([py, "-c", COMPILE_SNIPPET])
    try:
        for figure, _, impls, _ in FIGURES:
            if only and figure not in only:
                continue
            rounds = settings["rounds"].get(figure, settings["rounds_default"])
            runs: Dict[str, List[Dict[str, Any]]] = {impl: [] for impl in impls}
            for number in range(rounds):
                log(f"{figure}: round {number + 1}/{rounds}")
                for impl in impls:
                    runs[impl].append(_measure(py, figure, impl, settings, base, server.pid))
            figures[figure] = _summarise(figure, runs)
    finally:
        stop_server(server)
    return figures


def _summarise(figure: str, runs: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for impl, results in runs.items():
        values = [r["value"] for r in results]
        entry: Dict[str, Any] = {"median": statistics.median(values), "runs": results}
        if figure.startswith("trickle"):
            lags = sorted(lag for r in results for lag in r["lags"])
            entry["median"] = max(lags)
            entry["p99"] = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
        if figure in ("chat", "chat16", "stream"):
            entry["server_cpu_max"] = max(r["server_cpu"] for r in results)
        out[impl] = entry
    if figure == "import":
        base = statistics.median(r["wall"] for r in runs["python"])
        for impl in runs:
            out[impl]["wall_minus_python"] = statistics.median(r["wall"] for r in runs[impl]) - base
    return out


# ------------------------------------------------------------------ report

UNITS = {
    "chat": ("{:,.0f}/s", 1.0),
    "chat16": ("{:,.0f}/s", 1.0),
    "embed": ("{:.1f} ms", 1e3),
    "stream": ("{:,.0f}/s", 1.0),
    "import": ("{:.1f} ms", 1e3),
    "construct": ("{:.3f} ms", 1e3),
    "memory": ("{:.1f} MB", 1.0),
    "trickle": ("{:.1f} ms", 1e3),
    "trickle_partial": ("{:.1f} ms", 1e3),
}


def _fmt(figure: str, value: float) -> str:
    pattern, scale = UNITS[figure]
    return pattern.format(value * scale)


def evaluate(figures: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per target: values, ratio and whether it passes."""
    rows = []
    for figure, peer, comparison, target, label in CHECKS:
        if figure not in figures:
            continue
        ours = figures[figure]["passthrough"]["median"]
        row: Dict[str, Any] = {"figure": label, "key": figure, "passthrough": ours}
        if peer:
            theirs = figures[figure][peer]["median"]
            ratio = ours / theirs
            row.update(peer=peer, peer_value=theirs, ratio=ratio)
            if comparison == "info":
                row.update(target="(info)", info=True)
                ok = True
            else:
                ok = ratio >= target if comparison == "ratio >=" else ratio <= target
                row["target"] = f"{comparison.split()[1]} {target:g}x"
        else:
            ok = ours < target
            row["target"] = f"< {_fmt(figure, target)}"
        row["pass"] = ok
        rows.append(row)
    return rows


def _verdict(row: Dict[str, Any]) -> str:
    if row.get("info"):
        return "-"
    return "PASS" if row["pass"] else "FAIL"


def render(figures: Dict[str, Any], rows: List[Dict[str, Any]]) -> str:
    """The table of targets, then every implementation's median (with spread)."""
    head = f"{'figure':<26}{'passthrough':>14}  {'peer':<24}{'ratio':>8}  {'target':<12}result"
    lines = [head, "-" * len(head)]
    for row in rows:
        key = row["key"]
        peer = f"{row['peer']} {_fmt(key, row['peer_value'])}" if "peer" in row else ""
        ratio = f"{row['ratio']:.{2 if row['ratio'] >= 0.1 else 3}f}x" if "ratio" in row else ""
        lines.append(
            f"{row['figure']:<26}{_fmt(key, row['passthrough']):>14}  {peer:<24}{ratio:>8}  "
            f"{row['target']:<12}{_verdict(row)}"
        )
    lines += ["", "medians per implementation (min..max over rounds; server CPU share):"]
    for figure, impls in figures.items():
        for impl, entry in impls.items():
            values = [r["value"] for r in entry["runs"]]
            spread = f"{_fmt(figure, min(values))}..{_fmt(figure, max(values))}"
            notes = []
            if "server_cpu_max" in entry:
                notes.append(f"server CPU <= {entry['server_cpu_max']:.0%}")
            if "p99" in entry:
                notes.append(f"p99 {_fmt(figure, entry['p99'])}")
            if "wall_minus_python" in entry:
                notes.append(f"process wall - python: {entry['wall_minus_python'] * 1e3:.0f} ms")
            lines.append(
                f"  {figure:<16}{impl:<14}{_fmt(figure, entry['median']):>14}  ({spread})  "
                + "; ".join(notes)
            )
    return "\n".join(lines)


def machine(py: str) -> Dict[str, Any]:
    """Where the figures come from: CPU, cores, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = _run([py, "-c", _VERSIONS]).split()
    return {"cpu": cpu, "nproc": os.cpu_count(), "python": versions[0], "packages": versions[1:]}


_VERSIONS = """
import sys, importlib.metadata as m
names = ("passthrough-client", "openai", "httpx", "requests", "urllib3", "pydantic",
         "attrs", "cattrs")
found = []
for name in names:
    try:
        found.append(f"{name}=={m.version(name)}")
    except m.PackageNotFoundError:
        pass
print(sys.version.split()[0], *found)
"""


def _one_stack(py: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Measure every figure with the interpreter ``py``; print its table."""
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    settings = _settings(args.quick)
    figures = collect(py, settings, lambda text: print(text, file=sys.stderr), args.only)
    info = machine(py)
    info["loadavg_1min"] = [load_before, os.getloadavg()[0]]
    rows = evaluate(figures)
    print(f"\n===== {py}")
    print(render(figures, rows))
    print(f"\n{info['cpu']}, {info['nproc']} cores, Python {info['python']}")
    print("1-minute load average before/after: {:.2f} / {:.2f}".format(*info["loadavg_1min"]))
    print(" ".join(info["packages"]))
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    return {"machine": info, "settings": settings, "checks": rows, "figures": figures}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmarks; exit status 1 when a target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~40 s run: fewer rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--python",
        action="append",
        help="interpreter for the server and workers (default: this one); repeat it to "
        "print one table per stack, e.g. a venv with urllib3 1.26 (README)",
    )
    parser.add_argument(
        "--only", action="append", choices=[key for key, *_ in FIGURES], help="figures to run"
    )
    args = parser.parse_args(argv)
    results = [_one_stack(py, args) for py in args.python or [sys.executable]]
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0 if all(row["pass"] for result in results for row in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
