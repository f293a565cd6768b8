"""`abgate audit verify` on a log the gateway wrote: intact, edited, deleted, inserted."""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from abgate.gateway.server import build_app
from abgate.gateway.settings import ServerSettings
from abgate.registry.store import Registry


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "abgate.cli.main", "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _write_log(registry: Path, db: Path) -> None:
    app = build_app(ServerSettings(registry=str(registry), events_db=str(db)), rng=random.Random(1))
    window = Registry(registry).get("baseline-predictor").load_heldout().windows[0]
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
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            for i in range(20):
                await client.post(
                    "/v2/models/baseline-predictor/infer", json=body | {"id": f"a{i}"}
                )
    finally:
        await app.shutdown()


def test_audit_detects_each_kind_of_tampering(smoke_registry: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(smoke_registry, registry)
    clean = tmp_path / "clean.db"
    asyncio.run(_write_log(registry, clean))
    ok = run("--db", str(clean), "--registry", str(registry))
    assert ok.returncode == 0, ok.stderr
    assert "chain intact: 21 events" in ok.stdout and "matches its model card" in ok.stdout

    cases = {
        "edited": "UPDATE inference SET probability = 0.99 WHERE request_id = 'a7'",
        "deleted": "DELETE FROM inference WHERE request_id = 'a3'",
        "inserted": "INSERT INTO inference SELECT seq + 1000, ts, 'forged', experiment, model, "
        "version, assigned_model, assignment, unit_hash, input_sha256, probability, signal, "
        "latency_ms, status, error, fallback_reason, propensity, prev_hash, hash "
        "FROM inference WHERE request_id = 'a9'",
    }
    for name, sql in cases.items():
        db = tmp_path / f"{name}.db"
        shutil.copy(clean, db)
        with sqlite3.connect(db) as conn:
            conn.execute(sql)
        proc = run("--db", str(db))
        assert proc.returncode == 1, name
        assert proc.stderr.startswith("Error: hash chain broken at event"), proc.stderr

    onnx = Registry(registry).get("enhanced-predictor").onnx_path
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    swapped = run("--db", str(clean), "--registry", str(registry))
    assert swapped.returncode == 1 and "enhanced-predictor" in swapped.stderr
    assert "Traceback" not in swapped.stderr
