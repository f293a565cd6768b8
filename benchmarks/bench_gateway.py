"""Serving throughput side by side: abgate vs MLServer vs NGINX split in front of MLServer vs the
Python HTTP floor. wrk, one real held-out market day as payload, all stacks in one run.

    .venv/bin/python benchmarks/bench_gateway.py [--runs 3] [--duration 5] [--connections 1 16 64]

Stacks (127.0.0.1, one server process each unless said, wrk -t1):
  abgate        `abgate serve`: both models in-process, 70/30 experiment, events (strict: every
                event committed before its response) and metrics on, micro-batching on
  abgate-relaxed  the same with relaxed durability (events committed in batches after replying)
  mlserver      MLServer 1.7.1 serving the same ONNX model directly with abgate's runtime; the best
                of parallel_workers 0 / 2 and adaptive batching on / off, chosen at 16 connections
                (uvloop 0.21 in its venv: with 0.22+ its parallel workers cannot start)
  nginx         NGINX split_clients 70/30 → MLServer (best settings) serving both models: the
                seed's ingress-level split
  hello         a bare ASGI app on the gateway's server stack (uvicorn + uvloop + httptools with
                abgate's one-write protocol, one worker) that reads the same body and returns a
                fixed small JSON: the Python floor
  hello-stock   the same app on uvicorn's stock httptools protocol (two writes per response)
  *-2w          the same with two worker processes (`abgate serve --workers 2`, uvicorn
                --workers 2 for hello); each gateway is compared with the hello of as many
                workers
Stacks are measured in rounds (every stack once per round, ``--runs`` rounds), so a slow spell of
the machine falls on all of them alike; medians over the rounds. Also each gateway's RSS after
its first round. Results: benchmarks/results/gateway.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import (
    ROOT,
    ensure_mlserver,
    free_port,
    mlserver_repo,
    nginx_config,
    running,
)

from abgate.registry.store import Registry

RESULTS = ROOT / "benchmarks" / "results"
LUA = ROOT / "benchmarks" / "wrk_post.lua"
INFER = "/v2/models/baseline-predictor/infer"


def payload(registry: Registry) -> bytes:
    s = registry.get("baseline-predictor").load_heldout()
    window = s.windows[len(s) // 2]
    body = {
        "inputs": [
            {
                "name": "ohlcv",
                "shape": [1, 40, 5],
                "datatype": "FP32",
                "data": window.reshape(-1).tolist(),
            }
        ]
    }
    return orjson.dumps(body)


def wrk(
    url: str, body: Path, connections: int, duration: int, header: str = ""
) -> dict[str, float]:
    """One wrk run POSTing ``body`` (plus ``header``, "name: value"): rate, latency, errors."""
    env = dict(os.environ, ABGATE_BODY=str(body), ABGATE_HEADER=header)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(LUA), url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    r = json.loads(next(ln for ln in out.splitlines() if ln.startswith("{")))
    errors = sum(r[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
    return {
        "requests": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors + r["non_2xx"],
    }


# (name, durability, worker processes); ratios pair each with the hello of as many workers
GATEWAYS = (
    ("abgate", "strict", 1),
    ("abgate-relaxed", "relaxed", 1),
    ("abgate-2w", "strict", 2),
    ("abgate-relaxed-2w", "relaxed", 2),
)
HELLOS = (("hello", []), ("hello-2w", ["--workers", "2"]), ("hello-stock", ["--stock"]))


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} in {log}")
        time.sleep(0.2)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def mlserver_best(
    mlserver: Path, models: dict[str, Path], body: Path, tmp: Path, duration: int
) -> tuple[tuple[int, int], list[dict[str, Any]]]:
    """MLServer's best setting at 16 connections, and what each setting did."""
    tried: list[dict[str, Any]] = []
    best, best_rps = None, -1.0
    for workers, batch in ((0, 0), (0, 16), (2, 0), (2, 16)):
        port = free_port()
        repo = tmp / f"mls-{workers}-{batch}"
        mlserver_repo(repo, models, port, workers, batch, 0.001)
        url = f"http://127.0.0.1:{port}"
        try:
            with running(
                [str(mlserver), "start", str(repo)], url + "/v2/health/ready", tmp / "mls.log"
            ):
                wrk(url + INFER, body, 16, 2)
                trial = wrk(url + INFER, body, 16, duration)
                if trial["errors"]:  # a server that answers errors fast is not fast
                    raise RuntimeError(f"{trial['errors']} failed requests")
                rps = trial["rps"]
        except RuntimeError as exc:
            lines = (tmp / "mls.log").read_text(errors="replace").splitlines()
            why = next((ln for ln in lines if "RuntimeError" in ln), str(exc))
            print(f"mlserver parallel_workers={workers} max_batch_size={batch}: {why}")
            tried.append({"parallel_workers": workers, "max_batch_size": batch, "failed": why})
            continue
        print(
            f"mlserver parallel_workers={workers} max_batch_size={batch or 'off'}: "
            f"{rps:.0f} req/s at c=16",
            flush=True,
        )
        tried.append({"parallel_workers": workers, "max_batch_size": batch, "rps_c16": round(rps)})
        if rps > best_rps:
            best, best_rps = (workers, batch), rps
    if best is None:
        raise RuntimeError("MLServer did not start with any setting")
    return best, tried


Launcher = Callable[[], contextlib.AbstractContextManager[tuple[str, list[int]]]]


def stacks(
    args: argparse.Namespace, tmp: Path, mls: tuple[Path, dict[str, Path], tuple[int, int]] | None
) -> list[tuple[str, Launcher]]:
    """Every stack to measure, each as a context manager that serves it: (infer URL, pids)."""
    py = sys.executable
    out: list[tuple[str, Launcher]] = []

    def gateway(name: str, durability: str, workers: int) -> Launcher:
        @contextlib.contextmanager
        def launch() -> Iterator[tuple[str, list[int]]]:
            port = free_port()
            log = tmp / f"{name}.log"
            cmd = [
                py, "-m", "abgate.cli.main", "serve", "--registry", args.registry,
                "--events-db", str(tmp / f"{name}-{port}.db"), "--port", str(port),
                "--durability", durability, "--workers", str(workers),
            ]  # fmt: skip
            with running(cmd, f"http://127.0.0.1:{port}/v2/health/ready", log) as proc:
                if workers > 1:
                    wait_for_line(log, "workers ready", proc)
                pids = [proc.pid] if workers == 1 else children(proc.pid)
                yield f"http://127.0.0.1:{port}{INFER}", pids

        return launch

    def hello(flags: list[str]) -> Launcher:
        @contextlib.contextmanager
        def launch() -> Iterator[tuple[str, list[int]]]:
            port = free_port()
            cmd = [py, str(ROOT / "benchmarks" / "hello_app.py"), str(port), *flags]
            url = f"http://127.0.0.1:{port}"
            with running(cmd, url + "/", tmp / "hello.log", post_ready=True) as proc:
                yield url + INFER, [proc.pid]

        return launch

    def mlserver(front: bool) -> Launcher:
        assert mls is not None
        binary, models, (workers, batch) = mls

        @contextlib.contextmanager
        def launch() -> Iterator[tuple[str, list[int]]]:
            port = free_port()
            repo = tmp / "mls-best"
            mlserver_repo(repo, models, port, workers, batch, 0.001)
            url = f"http://127.0.0.1:{port}"
            cmd = [str(binary), "start", str(repo)]
            with running(cmd, url + "/v2/health/ready", tmp / "mls.log") as proc:
                if not front:
                    yield url + INFER, [proc.pid]
                    return
                nport = free_port()
                conf = nginx_config(tmp / "nginx", nport, port)
                ncmd = ["nginx", "-c", str(conf), "-g", "daemon off;"]
                with running(ncmd, None, tmp / "nginx.log", wait_port=nport) as nginx:
                    yield f"http://127.0.0.1:{nport}/", [nginx.pid]

        return launch

    for name, durability, workers in GATEWAYS:
        if name in args.only:
            out.append((name, gateway(name, durability, workers)))
    for name, flags in HELLOS:
        if name in args.only:
            out.append((name, hello(flags)))
    if mls is not None:
        for name, front in (("mlserver", False), ("nginx", True)):
            if name in args.only:
                out.append((name, mlserver(front)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds over every stack")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--registry", default=str(ROOT / "models"))
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[g[0] for g in GATEWAYS] + [h[0] for h in HELLOS] + ["mlserver", "nginx"],
    )
    args = parser.parse_args()
    registry = Registry(args.registry)
    if registry.is_empty():
        subprocess.run(
            [sys.executable, "-m", "abgate.cli.main", "train", "--registry", args.registry],
            check=True,
        )
    extra: dict[str, Any] = {}
    samples: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        body = tmp / "body.json"
        body.write_bytes(payload(registry))
        mls = None
        if "mlserver" in args.only or "nginx" in args.only:
            binary = ensure_mlserver()
            models = {n: registry.get(n).path for n in ("baseline-predictor", "enhanced-predictor")}
            best, tried = mlserver_best(binary, models, body, tmp, args.duration)
            extra["mlserver_settings_tried"] = tried
            extra["mlserver_best"] = {"parallel_workers": best[0], "max_batch_size": best[1]}
            mls = (binary, models, best)
        # Rounds: every stack is measured once per round, so a slow spell of this noisy machine
        # hits all of them alike instead of whichever stack happened to be running.
        for round_ in range(args.runs):
            for name, launch in stacks(args, tmp, mls):
                with launch() as (url, pids):
                    wrk(url, body, 16, 2)  # warm-up
                    for c in args.connections:
                        r = wrk(url, body, c, args.duration)
                        samples.setdefault(name, {}).setdefault(str(c), []).append(r)
                        print(
                            f"round {round_ + 1} {name:18s} c={c:3d} {r['rps']:8.0f} req/s  "
                            f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}",
                            flush=True,
                        )
                    if round_ == 0 and name.startswith("abgate"):
                        extra[f"{name}_rss_mb"] = round(sum(rss_mb(p) for p in pids), 1)
    table: dict[str, Any] = {}
    for name, by_c in samples.items():
        for c, runs in by_c.items():
            med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
            med["errors"] = sum(r["errors"] for r in runs)
            med["runs_rps"] = [round(r["rps"]) for r in runs]
            table.setdefault(name, {})[c] = med
            print(
                f"{name:18s} c={c:>3s} {med['rps']:8.0f} req/s  p50 {med['p50_ms']:6.2f} ms  "
                f"p99 {med['p99_ms']:7.2f} ms  errors {med['errors']}",
                flush=True,
            )
    ratios: dict[str, dict[str, float]] = {}
    for mine, _, workers in GATEWAYS:
        hello = "hello-2w" if workers > 1 else "hello"
        for other in ("mlserver", "nginx", hello, "hello-stock"):
            if mine in table and other in table:
                ratios[f"{mine}/{other}"] = {
                    c: round(table[mine][c]["rps"] / table[other][c]["rps"], 2)
                    for c in table[mine]
                    if c in table[other]
                }
    result = {
        "benchmark": "serving throughput, wrk -t1, [1,40,5] JSON payload (3.8 KB)",
        "command": "benchmarks/bench_gateway.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "duration_s": args.duration,
        "results": table,
        "throughput_ratios": ratios,
        **extra,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gateway.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, by_c in ratios.items():
        print(name, by_c)


if __name__ == "__main__":
    main()
