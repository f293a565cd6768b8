"""`abgate analyze` over a log the real gateway wrote, and `abgate stats aa`."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from abgate.gateway.server import build_app
from abgate.gateway.settings import ServerSettings
from abgate.registry.store import Registry

EXP = "financial-ab-test-experiment"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "abgate.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _traffic(registry: Path, db: Path, n: int) -> dict[str, Any]:
    app = build_app(
        ServerSettings(registry=str(registry), events_db=str(db), durability="relaxed"),
        rng=random.Random(4),
    )
    samples = Registry(registry).get("baseline-predictor").load_heldout()
    await app.startup()
    truth: dict[str, list[int]] = {}
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            feedback = []
            for i in range(n):
                body = {
                    "id": f"r{i}",
                    "inputs": [
                        {
                            "name": "ohlcv",
                            "shape": [1, 40, 5],
                            "datatype": "FP32",
                            "data": samples.windows[i].reshape(-1).tolist(),
                        }
                    ],
                }
                doc = (await client.post("/v2/models/baseline-predictor/infer", json=body)).json()
                model = doc["model_name"].rsplit("_", 1)[0]
                p = doc["outputs"][0]["data"][0]
                y = int(samples.labels[i])
                truth.setdefault(model, []).append(int((p > 0.5) == y))
                feedback.append({"id": f"r{i}", "truth": y, "reward": 0.001})
            r = await client.post(f"/v2/experiments/{EXP}/feedback", json={"feedback": feedback})
            assert r.json()["accepted"] == n
    finally:
        await app.shutdown()
    return truth


def test_analyze_reads_the_log(smoke_registry: Path, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    truth = asyncio.run(_traffic(smoke_registry, db, 300))
    proc = run("analyze", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["weights"] == {"baseline-predictor": 70.0, "enhanced-predictor": 30.0}
    arms = {a["name"]: a for a in doc["analysis"]["arms"]}
    for model, outcomes in truth.items():
        assert arms[model]["accuracy"]["estimate"] == pytest.approx(np.mean(outcomes))
        assert arms[model]["assignments"] == len(outcomes)
        assert arms[model]["returns_mean"] == pytest.approx(0.001)
    assert doc["analysis"]["decision"]["verdict"] in ("continue", "promote", "rollback")
    assert doc["analysis"]["srm"]["healthy"] is True
    text = run("analyze", "--db", str(db))
    assert text.returncode == 0
    assert "Verdict:" in text.stdout and "always-valid" in text.stdout


def test_analyze_errors(tmp_path: Path) -> None:
    proc = run("analyze", "--db", str(tmp_path / "none.db"))
    assert proc.returncode == 1 and "no such event log" in proc.stderr
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    proc = run("analyze", "--db", str(tmp_path / "junk.db"))
    assert proc.returncode == 1 and proc.stderr.startswith("Error:")
    assert "Traceback" not in proc.stderr


def test_stats_aa_shows_naive_inflation() -> None:
    proc = run("stats", "aa", "--simulations", "300", "--looks", "10", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("│")]
    last = [c.strip() for c in rows[-1].strip("│").split("│")]
    naive, valid = float(last[2].rstrip("%")), float(last[3].rstrip("%"))
    assert naive > 10.0 and valid <= 5.0 + 3 * 100 * (0.05 * 0.95 / 300) ** 0.5
