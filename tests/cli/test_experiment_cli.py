"""`abgate experiment …` against a real gateway subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import serve

EXP = "financial-ab-test-experiment"
pytestmark = pytest.mark.slow


def run(url: str, *args: str, token: str | None = "t") -> subprocess.CompletedProcess[str]:
    extra = ["--token", token] if token else []
    return subprocess.run(
        [sys.executable, "-m", "abgate.cli.main", "experiment", "--url", url, *extra, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_set_weights_promote_rollback(smoke_registry: Path, tmp_path: Path) -> None:
    with serve(smoke_registry, tmp_path / "e.db") as (_, url):
        status = run(url, "status", EXP)
        assert status.returncode == 0 and "baseline-predictor_1" in status.stdout
        doc = json.loads(run(url, "status", "--json").stdout)
        assert doc[0]["name"] == EXP
        ok = run(url, "set-weights", EXP, "baseline-predictor=1", "enhanced-predictor=3")
        assert ok.returncode == 0 and "75%" in ok.stdout
        bad = run(url, "set-weights", EXP, "enhanced-predictor")
        assert bad.returncode == 2 and "is not MODEL=WEIGHT" in bad.stderr
        denied = run(url, "rollback", EXP, token=None)
        assert denied.returncode == 1 and "401" in denied.stderr and "--token" in denied.stderr
        assert "100" in run(url, "promote", EXP).stdout
        back = json.loads(run(url, "status", EXP, "--json").stdout)
        assert back["fallback"] == "enhanced-predictor"
        assert run(url, "rollback", EXP).returncode == 0
        unknown = run(url, "status", "nope")
        assert unknown.returncode == 1 and "404" in unknown.stderr
    gone = run(url, "status")
    assert gone.returncode == 1 and "cannot reach the gateway" in gone.stderr
