"""The gateway killed with SIGKILL under load, then restarted on the same event log."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pytest

from abgate.events.chain import verify_chain

from ..helpers import serve
from .conftest import infer_body

pytestmark = pytest.mark.slow


def _load_until_killed(url: str, pid: int, windows: np.ndarray, kill_after: int) -> list[str]:
    acked: list[str] = []

    async def main() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def worker(w: int) -> None:
                i = 0
                while True:
                    rid = f"w{w}-{i}"
                    i += 1
                    try:
                        r = await client.post(
                            "/v2/models/baseline-predictor/infer",
                            json=infer_body(windows[i % len(windows)]) | {"id": rid},
                        )
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        acked.append(rid)
                        if len(acked) == kill_after:
                            os.kill(pid, signal.SIGKILL)

            await asyncio.gather(*(worker(w) for w in range(8)))

    asyncio.run(main())
    return acked


def _stored(db: Path) -> tuple[set[str], str]:
    with sqlite3.connect(db) as conn:
        ids = {r[0] for r in conn.execute("SELECT request_id FROM inference")}
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return ids, integrity


@pytest.mark.parametrize("durability", ["strict", "relaxed"])
def test_sigkill_under_load_then_restart(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray, durability: str
) -> None:
    db = tmp_path / "events.db"
    with serve(smoke_registry, db, "--durability", durability) as (proc, url):
        acked = _load_until_killed(url, proc.pid, windows, kill_after=400)
        assert proc.wait(10) == -signal.SIGKILL
    stored, integrity = _stored(db)
    assert integrity == "ok"
    assert verify_chain(db).ok
    lost = set(acked) - stored
    if durability == "strict":
        assert len(acked) >= 400 and not lost, f"{len(lost)} acknowledged events lost"
    else:
        # Relaxed acknowledges before the commit: the loss window is the unflushed queue at the
        # moment of the kill (a few ms of traffic). Recorded, not hidden.
        print(f"relaxed: {len(lost)} of {len(acked)} acknowledged events lost on SIGKILL")
        assert len(lost) < len(acked)
    # Restart on the same file: the chain continues, new events are appended and verified.
    with serve(smoke_registry, db, "--durability", durability) as (proc, url):
        r = httpx.post(
            f"{url}/v2/models/baseline-predictor/infer",
            json=infer_body(windows[0]) | {"id": "after-restart"},
            timeout=10,
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)  # a clean stop flushes even relaxed events
        proc.wait(30)
    stored_after, integrity = _stored(db)
    report = verify_chain(db)
    assert integrity == "ok" and report.ok and "after-restart" in stored_after
    assert report.events > len(stored)
