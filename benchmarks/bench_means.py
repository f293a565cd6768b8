"""What each means of the performance work buys: variants of the gateway side by side, one run.

    .venv/bin/python benchmarks/bench_means.py [--runs 3] [--duration 5] [--only NAME ...]

Every variant serves the same held-out window to ``wrk -t1 -c16``. Reported per variant: median
req/s and p99 over the runs, and the gateway's CPU time per request (all its threads, and all
its processes, from /proc), which is steadier than req/s on a noisy machine.

  default        ``abgate serve``: strict durability, JSON body, micro-batching (64 rows, two
                 loop turns), one write per response
  relaxed        events committed in batches after the reply
  binary         the same window in the V2 binary tensor extension (what tritonclient sends):
                 no JSON floats to parse
  no-batching    ABGATE_MAX_BATCH_SIZE=1: one ONNX Runtime call per request
  one-turn       ABGATE_BATCH_WAIT_TURNS=1: a batch takes only the requests already parsed
  two-processes  ``abgate serve --workers 2``: two gateway processes on the port and the log

Results: benchmarks/results/means.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import ROOT, free_port, running
from bench_gateway import INFER, RESULTS, children, payload, wait_for_line, wrk

from abgate.registry.store import Registry

VARIANTS = ("default", "relaxed", "binary", "no-batching", "one-turn", "two-processes")


def binary_payload(registry: Registry) -> tuple[bytes, str]:
    """The bench window as a binary-extension request, and its header."""
    s = registry.get("baseline-predictor").load_heldout()
    raw = s.windows[len(s) // 2].astype("<f4").tobytes()
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "ohlcv",
                    "shape": [1, 40, 5],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    return head + raw, f"Inference-Header-Content-Length: {len(head)}"


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


@contextlib.contextmanager
def gateway(variant: str, registry: str, tmp: Path) -> Iterator[tuple[str, list[int]]]:
    py = sys.executable
    db = tmp / f"{variant}.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env_extra = {
        "no-batching": {"ABGATE_MAX_BATCH_SIZE": "1"},
        "one-turn": {"ABGATE_BATCH_WAIT_TURNS": "1"},
    }.get(variant, {})
    durability = "relaxed" if variant == "relaxed" else "strict"
    workers = "2" if variant == "two-processes" else "1"
    cmd = [
        py, "-m", "abgate.cli.main", "serve", "--registry", registry,
        "--events-db", str(db), "--port", str(port), "--durability", durability,
        "--workers", workers,
    ]  # fmt: skip
    old = {k: os.environ.get(k) for k in env_extra}
    os.environ.update(env_extra)
    try:
        log = tmp / f"{variant}.log"
        with running(cmd, url + "/v2/health/ready", log) as proc:
            if workers == "1":
                yield url, [proc.pid]
            else:
                wait_for_line(log, "workers ready", proc)
                yield url, [proc.pid, *children(proc.pid)]
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--registry", default=str(ROOT / "models"))
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--only", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    registry = Registry(args.registry)
    if registry.is_empty():
        sys.exit(f"Error: no models in {args.registry}; run `abgate train` first")
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    table: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        json_body, bin_body = tmp / "body.json", tmp / "body.bin"
        json_body.write_bytes(payload(registry))
        raw, bin_header = binary_payload(registry)
        bin_body.write_bytes(raw)
        for variant in args.only:
            body, header = (bin_body, bin_header) if variant == "binary" else (json_body, "")
            with gateway(variant, args.registry, tmp) as (url, pids):
                wrk(url + INFER, body, 16, 2, header)  # warm-up
                runs = []
                for _ in range(args.runs):
                    before = cpu_ticks(pids)
                    r = wrk(url + INFER, body, 16, args.duration, header)
                    used = (cpu_ticks(pids) - before) * tick_us
                    r["cpu_us_per_req"] = used / max(r["requests"], 1)
                    runs.append(r)
            med = {
                k: round(statistics.median(x[k] for x in runs), 2)
                for k in ("rps", "p99_ms", "cpu_us_per_req")
            }
            med["errors"] = sum(x["errors"] for x in runs)
            med["runs_rps"] = [round(x["rps"]) for x in runs]
            table[variant] = med
            print(
                f"{variant:14s} {med['rps']:7.0f} req/s  p99 {med['p99_ms']:6.2f} ms  "
                f"{med['cpu_us_per_req']:6.0f} µs CPU/req  errors {med['errors']}",
                flush=True,
            )
    base = table.get("default")
    if base:
        for row in table.values():
            row["rps_vs_default"] = round(row["rps"] / base["rps"], 2)
            row["cpu_vs_default"] = round(row["cpu_us_per_req"] / base["cpu_us_per_req"], 2)
    result = {
        "benchmark": "gateway variants at 16 connections, wrk -t1, one held-out window",
        "command": "benchmarks/bench_means.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "duration_s": args.duration,
        "results": table,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "means.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
