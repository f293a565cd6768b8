"""A Thompson-sampling experiment through the app: shares move, propensities are logged."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from .conftest import EXPERIMENT, infer_body, make_config

URL = "/v2/models/baseline-predictor/infer"


async def test_bandit_logs_propensities_and_reports_ipw(
    make_app: Any, windows: np.ndarray, tmp_path: Path
) -> None:
    config = make_config(
        allocation={"policy": "thompson", "min_share": 0.1, "update_interval_s": 3600}
    )
    async with make_app(config=config, seed=5, analysis_interval_s=0.01) as (app, client):
        rs = await asyncio.gather(
            *(client.post(URL, json=infer_body(windows[i]) | {"id": f"b{i}"}) for i in range(200))
        )
        # Ground truth that favours the enhanced model: it is always right, baseline never.
        feedback = []
        for r in rs:
            doc = r.json()
            up = doc["outputs"][0]["data"][0] > 0.5
            right = doc["model_name"].startswith("enhanced")
            feedback.append({"id": doc["id"], "truth": int(up == right)})
        await client.post(f"/v2/experiments/{EXPERIMENT}/feedback", json={"feedback": feedback})
        exp = app.gateway.experiment(EXPERIMENT)
        before = exp.splitter.shares
        allocator_shares = await app.bandit.update(exp)
        assert allocator_shares["enhanced-predictor"] == 0.9  # floor 0.1 for the loser
        assert exp.splitter.shares == allocator_shares != before
        summary = (await client.get(f"/v2/experiments/{EXPERIMENT}/summary")).json()
        assert summary["verdict"]["reasons"] == ["bandit_allocation"]
        ipw = summary["verdict"]["ipw"]
        assert ipw["enhanced-predictor"]["hajek"] == 1.0
        assert ipw["baseline-predictor"]["hajek"] == 0.0
    with sqlite3.connect(tmp_path / "events.db") as conn:
        props = {r[0] for r in conn.execute("SELECT propensity FROM inference")}
        kinds = {r[0] for r in conn.execute("SELECT kind FROM admin")}
    assert props == set(before.values())  # every request logged the share it was drawn with
    assert "allocation" in kinds
