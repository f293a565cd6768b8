"""The gateway for real: `abgate serve` in a subprocess on loopback, driven over TCP."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pytest

from ..helpers import serve, serve_once
from .conftest import EXPERIMENT, infer_body

pytestmark = pytest.mark.slow


def test_tritonclient_works_unchanged(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    http = pytest.importorskip("tritonclient.http", reason="tritonclient[http] not installed")
    with serve(smoke_registry, tmp_path / "e.db") as (_, url):
        client = http.InferenceServerClient(url.removeprefix("http://"))
        assert client.is_server_live() and client.is_model_ready("baseline-predictor")
        meta = client.get_model_metadata("enhanced-predictor")
        assert meta["inputs"][0]["shape"] == [-1, 40, 5]
        inp = http.InferInput("ohlcv", [4, 40, 5], "FP32")
        inp.set_data_from_numpy(np.ascontiguousarray(windows[:4]))  # binary by default
        result = client.infer("baseline-predictor", [inp])
        assert result.as_numpy("probability_up").shape == (4, 1)
        assert set(result.as_numpy("signal").reshape(-1)) <= {b"BUY", b"SELL", b"HOLD"}
        assert result.get_response()["model_name"] in (
            "baseline-predictor_1",
            "enhanced-predictor_1",
        )
        json_out = http.InferRequestedOutput("probability_up", binary_data=False)
        again = client.infer("enhanced-predictor", [inp], outputs=[json_out])
        assert again.as_numpy("probability_up").shape == (4, 1)
        client.close()


def test_refuses_non_loopback_without_expose(smoke_registry: Path, tmp_path: Path) -> None:
    proc = serve_once(smoke_registry, tmp_path / "e.db", "--host", "0.0.0.0", timeout=60)
    assert proc.returncode == 1 and "not a loopback address" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_acknowledged_event_lost_on_sigterm_under_load(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    db = tmp_path / "events.db"
    acked: list[str] = []

    async def load(url: str, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def worker(w: int) -> None:
                i = 0
                while not stop.is_set():
                    rid = f"w{w}-{i}"
                    i += 1
                    try:
                        r = await client.post(
                            "/v2/models/baseline-predictor/infer",
                            json=infer_body(windows[i % len(windows)]) | {"id": rid},
                        )
                    except httpx.HTTPError:
                        return  # server went away
                    if r.status_code == 200:
                        acked.append(rid)

            await asyncio.gather(*(worker(w) for w in range(8)))

    with serve(smoke_registry, db) as (proc, url):

        async def main() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(load(url, stop))
            while len(acked) < 300:
                await asyncio.sleep(0.05)
            os.kill(proc.pid, signal.SIGTERM)
            await asyncio.sleep(0)
            await asyncio.wait_for(task, 30)
            stop.set()

        asyncio.run(main())
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert proc.wait(30) in (0, -signal.SIGTERM)
    with sqlite3.connect(db) as conn:
        stored = {r[0] for r in conn.execute("SELECT request_id FROM inference")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    missing = set(acked) - stored
    assert len(acked) >= 300 and not missing, f"{len(missing)} acknowledged events lost"


def test_experiment_status_over_http(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    with (
        serve(smoke_registry, tmp_path / "e.db", "--durability", "relaxed") as (_, url),
        httpx.Client(base_url=url) as client,
    ):
        for i in range(10):
            assert (
                client.post(
                    "/v2/models/baseline-predictor/infer", json=infer_body(windows[i])
                ).status_code
                == 200
            )
        status = client.get(f"/v2/experiments/{EXPERIMENT}").json()
        assert sum(v["served"] for v in status["variants"]) == 10
        text = client.get("/metrics").text
        assert "abgate_requests_total" in text and "seldon_model_infer_total" in text
