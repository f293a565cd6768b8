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
Also the gateway's RSS after the load. Results: benchmarks/results/gateway.json (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
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


def wrk(url: str, body: Path, connections: int, duration: int) -> dict[str, float]:
    env = dict(os.environ, ABGATE_BODY=str(body), ABGATE_HEADER="")
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
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors + r["non_2xx"],
    }


def sweep(
    name: str,
    url: str,
    body: Path,
    conns: list[int],
    args: argparse.Namespace,
    table: dict[str, Any],
) -> None:
    wrk(url, body, 16, 2)  # warm-up
    for c in conns:
        runs = [wrk(url, body, c, args.duration) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
        med["errors"] = sum(r["errors"] for r in runs)
        med["runs_rps"] = [round(r["rps"]) for r in runs]
        table.setdefault(name, {})[str(c)] = med
        print(
            f"{name:10s} c={c:3d} {med['rps']:8.0f} req/s  p50 {med['p50_ms']:6.2f} ms  "
            f"p99 {med['p99_ms']:7.2f} ms  errors {med['errors']}",
            flush=True,
        )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
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
    table: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        body = tmp / "body.json"
        body.write_bytes(payload(registry))
        for name, durability, workers in GATEWAYS:
            if name not in args.only:
                continue
            port = free_port()
            log = tmp / f"{name}.log"
            cmd = [
                py, "-m", "abgate.cli.main", "serve", "--registry", args.registry,
                "--events-db", str(tmp / f"{name}.db"), "--port", str(port),
                "--durability", durability, "--workers", str(workers),
            ]  # fmt: skip
            with running(cmd, f"http://127.0.0.1:{port}/v2/health/ready", log) as proc:
                if workers > 1:
                    wait_for_line(log, "workers ready", proc)
                url = f"http://127.0.0.1:{port}{INFER}"
                sweep(name, url, body, args.connections, args, table)
                pids = [proc.pid] if workers == 1 else children(proc.pid)
                extra[f"{name}_rss_mb"] = round(sum(rss_mb(p) for p in pids), 1)
        for name, flags in HELLOS:
            if name not in args.only:
                continue
            port = free_port()
            cmd = [py, str(ROOT / "benchmarks" / "hello_app.py"), str(port), *flags]
            with running(cmd, f"http://127.0.0.1:{port}/", tmp / "hello.log", post_ready=True):
                url = f"http://127.0.0.1:{port}{INFER}"
                sweep(name, url, body, args.connections, args, table)
        if "mlserver" in args.only or "nginx" in args.only:
            mlserver = ensure_mlserver()
            models = {n: registry.get(n).path for n in ("baseline-predictor", "enhanced-predictor")}
            best, best_rps = None, -1.0
            for workers, batch in ((0, 0), (0, 16), (2, 0), (2, 16)):
                port = free_port()
                repo = tmp / f"mls-{workers}-{batch}"
                mlserver_repo(repo, models, port, workers, batch, 0.001)
                url = f"http://127.0.0.1:{port}"
                try:
                    with running(
                        [str(mlserver), "start", str(repo)],
                        url + "/v2/health/ready",
                        tmp / "mls.log",
                    ):
                        wrk(url + INFER, body, 16, 2)
                        trial = wrk(url + INFER, body, 16, args.duration)
                        if trial["errors"]:  # a server that answers errors fast is not fast
                            raise RuntimeError(f"{trial['errors']} failed requests")
                        rps = trial["rps"]
                except RuntimeError as exc:
                    lines = (tmp / "mls.log").read_text(errors="replace").splitlines()
                    why = next((ln for ln in lines if "RuntimeError" in ln), str(exc))
                    print(f"mlserver parallel_workers={workers} max_batch_size={batch}: {why}")
                    extra.setdefault("mlserver_settings_tried", []).append(
                        {"parallel_workers": workers, "max_batch_size": batch, "failed": why}
                    )
                    continue
                print(
                    f"mlserver parallel_workers={workers} max_batch_size={batch or 'off'}: "
                    f"{rps:.0f} req/s at c=16",
                    flush=True,
                )
                extra.setdefault("mlserver_settings_tried", []).append(
                    {"parallel_workers": workers, "max_batch_size": batch, "rps_c16": round(rps)}
                )
                if rps > best_rps:
                    best, best_rps = (workers, batch), rps
            assert best is not None
            extra["mlserver_best"] = {"parallel_workers": best[0], "max_batch_size": best[1]}
            port = free_port()
            repo = tmp / "mls-best"
            mlserver_repo(repo, models, port, best[0], best[1], 0.001)
            url = f"http://127.0.0.1:{port}"
            with running(
                [str(mlserver), "start", str(repo)], url + "/v2/health/ready", tmp / "mls.log"
            ):
                if "mlserver" in args.only:
                    sweep("mlserver", url + INFER, body, args.connections, args, table)
                if "nginx" in args.only:
                    nport = free_port()
                    conf = nginx_config(tmp / "nginx", nport, port)
                    cmd = ["nginx", "-c", str(conf), "-g", "daemon off;"]
                    with running(cmd, None, tmp / "nginx.log", wait_port=nport):
                        sweep(
                            "nginx",
                            f"http://127.0.0.1:{nport}/",
                            body,
                            args.connections,
                            args,
                            table,
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
