"""The benchmark harness runs (timings are not checked here: they live in `make bench`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("wrk") is None:
        pytest.skip("wrk not installed (Debian package wrk; `make bench` needs it)")
    argv = [sys.executable, str(ROOT / "benchmarks" / script), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_gateway_benchmark_harness_runs(smoke_registry: Path, tmp_path: Path) -> None:
    proc = run_bench(
        "bench_gateway.py",
        *("--only", "abgate", "hello", "abgate-2w", "hello-2w"),
        *("--runs", "1", "--duration", "1", "--connections", "4"),
        *("--registry", str(smoke_registry), "--out", str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "gateway.json").read_text())
    assert result["results"]["abgate"]["4"]["errors"] == 0
    assert result["results"]["abgate"]["4"]["rps"] > 0
    assert "abgate/hello" in result["throughput_ratios"]
    assert result["results"]["abgate-2w"]["4"]["errors"] == 0
    assert "abgate-2w/hello-2w" in result["throughput_ratios"]


@pytest.mark.slow
def test_means_benchmark_harness_runs(smoke_registry: Path, tmp_path: Path) -> None:
    proc = run_bench(
        "bench_means.py",
        *("--only", "default", "binary", "--runs", "1", "--duration", "1"),
        *("--registry", str(smoke_registry), "--out", str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "means.json").read_text())
    for variant in ("default", "binary"):
        row = result["results"][variant]
        assert row["errors"] == 0 and row["rps"] > 0 and row["cpu_us_per_req"] > 0
