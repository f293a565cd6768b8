"""Faults of a REAL remote V2 backend: a second `abgate serve` process serves the candidate over
loopback and is killed, slowed and restarted while the front gateway carries load."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from ..helpers import free_port, serve
from .conftest import EXPERIMENT, infer_body

pytestmark = pytest.mark.slow
URL = "/v2/models/baseline-predictor/infer"


def front_config(tmp: Path, backend_port: int, remote: str) -> Path:
    """Front gateway: `remote` is served by the backend process, the other model in-process."""
    local = "baseline-predictor" if remote == "enhanced-predictor" else "enhanced-predictor"
    doc: dict[str, Any] = {
        "models": [
            {"name": local, "timeout_ms": 1000},
            {
                "name": remote,
                "url": f"http://127.0.0.1:{backend_port}",
                "remote_name": remote,
                "timeout_ms": 300,
            },
        ],
        "experiments": [
            {
                "name": EXPERIMENT,
                "default": "baseline-predictor",
                "candidates": [
                    {"name": "baseline-predictor", "weight": 50},
                    {"name": "enhanced-predictor", "weight": 50},
                ],
            }
        ],
        "breaker": {
            "consecutive_failures": 3,
            "window": 10,
            "failure_rate": 0.5,
            "min_calls": 5,
            "cooldown_s": 1.0,
        },
    }
    path = tmp / f"front-{remote}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def _load(
    url: str, windows: np.ndarray, seconds: float, out: list[tuple[float, int, str]]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        stop = time.monotonic() + seconds

        async def worker() -> None:
            i = 0
            while time.monotonic() < stop:
                i += 1
                t = time.monotonic()
                r = await client.post(URL, json=infer_body(windows[i % len(windows)]))
                route = r.headers.get("x-seldon-route", "")
                out.append((time.monotonic() - t, r.status_code, route))

        await asyncio.gather(*(worker() for _ in range(6)))


def breaker_moves(db: Path, model: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT json_extract(payload, '$.to') FROM admin WHERE kind = 'breaker' "
            "AND json_extract(payload, '$.model') = ? ORDER BY seq",
            (model,),
        ).fetchall()
    return [r[0] for r in rows]


def test_candidate_backend_killed_and_restarted(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    bport = free_port()
    cfg = front_config(tmp_path, bport, "enhanced-predictor")
    front_db = tmp_path / "front.db"
    results: list[tuple[float, int, str]] = []
    backend = serve(smoke_registry, tmp_path / "b1.db", port=bport)
    bproc, _ = backend.__enter__()
    try:
        with serve(smoke_registry, front_db, "--config", str(cfg)) as (_, url):
            asyncio.run(_load(url, windows, 1.5, results))
            bproc.send_signal(signal.SIGKILL)  # the candidate's server dies mid-load
            bproc.wait(10)
            asyncio.run(_load(url, windows, 2.5, results))
            with serve(smoke_registry, tmp_path / "b2.db", port=bport):  # and comes back
                asyncio.run(_load(url, windows, 3.0, results))
                status = httpx.get(f"{url}/v2/experiments/{EXPERIMENT}").json()
    finally:
        backend.__exit__(None, None, None)
    codes = {code for _, code, _ in results}
    assert codes == {200}, "a client saw a failure"
    moves = breaker_moves(front_db, "enhanced-predictor")
    assert "open" in moves and moves[-1] == "closed", moves  # opened, then recovered
    tail = results[-200:]
    assert any(route == ":enhanced-predictor_1:" for _, _, route in tail)  # serving again
    enhanced = next(v for v in status["variants"] if v["model"] == "enhanced-predictor")
    assert enhanced["circuit"] == "closed"


def test_default_backend_down_gives_fast_clean_503s(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    bport = free_port()
    cfg = front_config(tmp_path, bport, "baseline-predictor")
    results: list[tuple[float, int, str]] = []
    backend = serve(smoke_registry, tmp_path / "b1.db", port=bport)
    bproc, _ = backend.__enter__()
    try:
        with serve(smoke_registry, tmp_path / "front.db", "--config", str(cfg)) as (_, url):
            bproc.send_signal(signal.SIGKILL)
            bproc.wait(10)
            asyncio.run(_load(url, windows, 2.0, results))
            r = httpx.post(f"{url}{URL}", json=infer_body(windows[0]), timeout=10)
            with serve(smoke_registry, tmp_path / "b2.db", port=bport):
                time.sleep(1.2)  # breaker cooldown
                recovered: list[tuple[float, int, str]] = []
                asyncio.run(_load(url, windows, 1.5, recovered))
    finally:
        backend.__exit__(None, None, None)
    failed = [x for x in results if x[1] != 200]
    assert failed and all(code == 503 for _, code, _ in failed)
    assert max(t for t, _, _ in failed) < 0.3 + 0.25  # never beyond the model's deadline
    assert {route for _, code, route in results if code == 200} == {":enhanced-predictor_1:"}
    assert r.headers["content-type"] == "application/json" or r.status_code == 200
    assert {code for _, code, _ in recovered[-50:]} == {200}  # recovered when it came back


def test_slow_candidate_deadline_holds_at_p99(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    bport = free_port()
    cfg = front_config(tmp_path, bport, "enhanced-predictor")
    results: list[tuple[float, int, str]] = []
    with serve(smoke_registry, tmp_path / "b.db", port=bport) as (_, burl):
        slow = httpx.put(
            f"{burl}/v2/models/enhanced-predictor/faults",
            json={"latency_ms": 2000},
            headers={"authorization": "Bearer t"},
        )
        assert slow.status_code == 200
        with serve(smoke_registry, tmp_path / "front.db", "--config", str(cfg)) as (_, url):
            asyncio.run(_load(url, windows, 3.0, results))
    latencies = np.array([t for t, _, _ in results])
    assert {code for _, code, _ in results} == {200}
    # 300 ms candidate deadline, then the in-process default answers: never 2 s.
    assert np.percentile(latencies, 99) < 0.3 + 0.3
