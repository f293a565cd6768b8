"""The demo end to end with its own gateway (subprocess, real HTTP on loopback), and the script."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from abgate.cli.demo import demo_command
from abgate.report.schema import load_schema, validate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "demo" / "advanced-ab-demo.py"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_embedded_run_writes_agreeing_reports(smoke_registry: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    args = ["--scenarios", "100", "--seed", "3", "--registry", str(smoke_registry)]
    result = CliRunner().invoke(demo_command, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Starting the gateway" in result.output
    assert "100/100 (100%)" in result.output  # plain progress lines: not a terminal
    assert "client and gateway tallies agree exactly" in result.output
    assert "Verdict: " in result.output

    files = sorted(out.iterdir())
    assert [f.suffix for f in files] == [".json", ".md", ".png"]
    assert len({f.stem for f in files}) == 1
    assert files[0].stem.startswith("advanced_ab_test_analysis_")
    assert png_size(files[2]) == (1600, 1100)

    report = json.loads(files[0].read_text())
    assert validate(report, load_schema()) == []
    assert report["run"]["mode"] == "embedded"
    assert report["traffic"] == {**report["traffic"], "requests": 100, "failures": 0}
    assert report["tally_check"]["available"] and report["tally_check"]["agree"]
    assert report["traffic"]["routing_counted_by"] == "gateway"
    routed = {m["name"]: m["routed"] for m in report["models"]}
    assert [a["assignments"] for a in report["analysis"]["arms"]] == list(routed.values())
    answered = {m["name"]: m["answered"] for m in report["models"]}
    assert sum(answered.values()) == 100 and set(answered) == {
        "baseline-predictor",
        "enhanced-predictor",
    }
    assert report["sticky"]["switched"] == 0  # one account, one variant (hashed on x-user-id)
    assert {p["assignment"] for p in report["predictions"]} <= {"hash", "sticky"}
    assert report["feedback"]["accepted"] == 100
    history = report["sequential_history"]
    assert history[-1]["kind"] == "final" and history[-1]["n"] == 100


def test_gateway_that_cannot_start_is_an_error(smoke_registry: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(smoke_registry, registry)
    (registry / "enhanced-predictor" / "1" / "model.onnx").write_bytes(b"not a model")
    result = CliRunner().invoke(
        demo_command, ["--scenarios", "20", "--registry", str(registry), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "Error: the gateway exited with code" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("advanced_ab_test_analysis_*"))


def test_script_explains_setup_without_dependencies() -> None:
    # -I -S: no site-packages at all, so none of abgate's dependencies can be found.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), "--scenarios", "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "missing packages: click" in done.stderr
    assert "make demo" in done.stderr and ".venv/bin/abgate demo" in done.stderr


def test_script_has_the_same_flags() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for flag in (
        "--scenarios",
        "--workers",
        "--seed",
        "--rate",
        "--duration",
        "--endpoint",
        "--experiment",
        "--host-header",
        "--registry",
        "--out",
        "--max-error-rate",
        "--candidate-fault",
    ):
        assert flag in done.stdout
