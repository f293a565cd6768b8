"""The CLI for real, in a subprocess: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "abgate.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_train_smoke_then_models(tmp_path: Path) -> None:
    proc = run("train", "--smoke", "--variant", "baseline", "--registry", "reg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "epoch 1/1" in proc.stdout  # plain progress lines when not a terminal
    assert "registered baseline-predictor version 1" in proc.stdout
    listing = run("models", "--registry", "reg", cwd=tmp_path)
    assert listing.returncode == 0
    assert "baseline-predictor" in listing.stdout and "1×24" in listing.stdout
    cards = json.loads(run("models", "--json", "--registry", "reg", cwd=tmp_path).stdout)
    assert cards[0]["name"] == "baseline-predictor" and cards[0]["epochs_run"] == 1
    again = run("train", "--if-empty", "--variant", "baseline", "--registry", "reg", cwd=tmp_path)
    assert "nothing to train" in again.stdout


@pytest.mark.slow
def test_train_on_shared_csv_window(shared_data: Path, tmp_path: Path) -> None:
    proc = run(
        "train",
        "--smoke",
        "--variant",
        "baseline",
        "--csv",
        str(shared_data / "AAPL.csv"),
        str(shared_data / "MSFT.csv"),
        "--start",
        "2018-01-01",
        "--end",
        "2023-12-31",
        "--registry",
        "reg",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "AAPL: 1509 daily bars 2018-01-02 … 2023-12-29" in proc.stdout
    card = json.loads((tmp_path / "reg/baseline-predictor/1/card.json").read_text())
    assert card["data"]["source"] == "csv"
    assert card["data"]["date_ranges"]["MSFT"] == ["2018-01-02", "2023-12-29"]


def test_bad_csv_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "AAPL.csv").write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,2,1,1\n")
    proc = run("train", "--csv", "AAPL.csv", "--registry", "reg", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: AAPL.csv, line 2: high 1.0 is below low 2.0"
    assert "Traceback" not in proc.stderr


def test_usage_errors(tmp_path: Path) -> None:
    proc = run("train", "stray.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "unexpected argument" in proc.stderr
    proc = run("train", "--variant", "huge", cwd=tmp_path)
    assert proc.returncode == 2 and "Invalid value for '--variant'" in proc.stderr
    proc = run("models", "--registry", "empty", cwd=tmp_path)
    assert proc.returncode == 0 and "is empty" in proc.stdout


def test_help_explains() -> None:
    proc = run("train", "--help", cwd=Path.cwd())
    assert proc.returncode == 0
    assert "--csv" in proc.stdout and "--seed" in proc.stdout and "Examples" in proc.stdout
