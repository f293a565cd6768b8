"""Wall time of `abgate train` (both variants, default sample data), median of N runs.

    .venv/bin/python benchmarks/bench_train.py --runs 3

Each run is a fresh process into an empty temporary registry, so imports, data loading,
training, ONNX export with its parity check and registration are all included.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def one_run() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "abgate.cli.main", "train", "--registry", tmp],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for i in range(args.runs):
        times.append(one_run())
        print(f"run {i + 1}/{args.runs}: {times[-1]:.1f} s", flush=True)
    result = {
        "benchmark": "train both variants (abgate train, sample data)",
        "runs_s": [round(t, 2) for t in times],
        "median_s": round(statistics.median(times), 2),
        "target_s": 60,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"median {result['median_s']} s over {args.runs} runs (target < 60 s)")


if __name__ == "__main__":
    main()
