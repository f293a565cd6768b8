"""Gateway vs MLServer serving the same ONNX model directly: wrk, same payload, same run.

    .venv/bin/python benchmarks/bench_gateway.py [--runs 3] [--duration 5] [--connections 1 16 64]

Targets (all on 127.0.0.1, one server process each):
  abgate    `abgate serve`, both models in-process, 70/30 experiment, events (strict) and metrics on
  mlserver  MLServer 1.7.1 with abgate's ONNX runtime, parallel_workers=0 (inference in the server
            process; the fastest setting for a model this small, see the README)
The payload is one real held-out market day (`[1, 40, 5]` JSON). Medians over --runs.
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
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import ROOT, ensure_mlserver, free_port, mlserver_repo, running

from abgate.registry.store import Registry

RESULTS = ROOT / "benchmarks" / "results"
LUA = ROOT / "benchmarks" / "wrk_post.lua"


def payload(registry: Registry) -> bytes:
    s = registry.get("baseline-predictor").load_heldout()
    window = s.windows[len(s) // 2]
    return orjson.dumps(
        {
            "inputs": [
                {
                    "name": "ohlcv",
                    "shape": [1, 40, 5],
                    "datatype": "FP32",
                    "data": window.reshape(-1).tolist(),
                }
            ]
        }
    )


def wrk(url: str, body: Path, connections: int, duration: int) -> dict[str, float]:
    env = dict(os.environ, ABGATE_BODY=str(body), ABGATE_HEADER="")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(LUA), url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("{"))
    r = json.loads(line)
    seconds = r["duration_us"] / 1e6
    errors = r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"]
    return {
        "rps": r["requests"] / seconds,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors + r["non_2xx"],
    }


def measure(name: str, url: str, body: Path, args: argparse.Namespace, table: dict) -> None:
    wrk(url, body, 16, 2)  # warm-up
    for c in args.connections:
        runs = [wrk(url, body, c, args.duration) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
        med["errors"] = sum(r["errors"] for r in runs)
        med["runs_rps"] = [round(r["rps"]) for r in runs]
        table.setdefault(name, {})[str(c)] = med
        print(
            f"{name:10s} c={c:3d}  {med['rps']:8.0f} req/s  p50 {med['p50_ms']:6.2f} ms  "
            f"p99 {med['p99_ms']:6.2f} ms  errors {med['errors']}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--registry", default=str(ROOT / "models"))
    args = parser.parse_args()
    registry = Registry(args.registry)
    if registry.is_empty():
        subprocess.run(
            [sys.executable, "-m", "abgate.cli.main", "train", "--registry", args.registry],
            check=True,
        )
    table: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        body = tmp / "body.json"
        body.write_bytes(payload(registry))
        port = free_port()
        gw_cmd = [
            sys.executable,
            "-m",
            "abgate.cli.main",
            "serve",
            "--registry",
            args.registry,
            "--events-db",
            str(tmp / "events.db"),
            "--port",
            str(port),
        ]
        with running(gw_cmd, f"http://127.0.0.1:{port}/v2/health/ready", tmp / "gw.log"):
            measure(
                "abgate",
                f"http://127.0.0.1:{port}/v2/models/baseline-predictor/infer",
                body,
                args,
                table,
            )
        mlserver = ensure_mlserver()
        port = free_port()
        repo = tmp / "mlserver"
        mv = registry.get("baseline-predictor")
        mlserver_repo(repo, {"baseline-predictor": mv.path}, port, workers=0)
        with running(
            [str(mlserver), "start", str(repo)],
            f"http://127.0.0.1:{port}/v2/health/ready",
            tmp / "mls.log",
        ):
            measure(
                "mlserver",
                f"http://127.0.0.1:{port}/v2/models/baseline-predictor/infer",
                body,
                args,
                table,
            )
    ratios = {c: table["abgate"][c]["rps"] / table["mlserver"][c]["rps"] for c in table["abgate"]}
    result = {
        "benchmark": "gateway vs MLServer direct, wrk -t1, [1,40,5] JSON payload",
        "command": "benchmarks/bench_gateway.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "duration_s": args.duration,
        "results": table,
        "throughput_ratio_abgate_over_mlserver": {c: round(r, 2) for c, r in ratios.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gateway.json").write_text(json.dumps(result, indent=2) + "\n")
    for c, r in ratios.items():
        print(f"c={c}: abgate / mlserver throughput = {r:.2f}x")


if __name__ == "__main__":
    main()
