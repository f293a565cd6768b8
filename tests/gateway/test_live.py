"""Live analysis inside the gateway: summary endpoint, verdict/SRM gauges, drift."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from abgate.stats.drift import DriftReference, psi, reference_from_values

from .conftest import EXPERIMENT, infer_body

URL = "/v2/models/baseline-predictor/infer"
SUMMARY = f"/v2/experiments/{EXPERIMENT}/summary"


async def _traffic(
    client: Any, windows: np.ndarray, labels: np.ndarray, start: int, n: int
) -> None:
    rs = await asyncio.gather(
        *(
            client.post(URL, json=infer_body(windows[i]) | {"id": f"id-{i}"})
            for i in range(start, start + n)
        )
    )
    feedback = [{"id": r.json()["id"], "truth": int(labels[start + k])} for k, r in enumerate(rs)]
    r = await client.post(f"/v2/experiments/{EXPERIMENT}/feedback", json={"feedback": feedback})
    assert r.json()["accepted"] == n


async def test_summary_verdict_and_gauges(
    make_app: Any, windows: np.ndarray, smoke_registry: Any
) -> None:
    from abgate.registry.store import Registry

    labels = Registry(smoke_registry).get("baseline-predictor").load_heldout().labels
    async with make_app(seed=21, analysis_interval_s=0.01) as (app, client):
        empty = (await client.get(SUMMARY)).json()
        assert empty["verdict"]["verdict"] == "continue"
        p_values = []
        for look in range(3):
            await _traffic(client, windows, labels, look * 120, 120)
            doc = (await client.get(SUMMARY)).json()
            assert doc["status"]["name"] == EXPERIMENT
            analysis = doc["analysis"]
            assert analysis is not None and analysis["baseline"] == "baseline-predictor"
            p_values.append(doc["verdict"]["always_valid_p"]["enhanced-predictor"])
            assert doc["verdict"]["verdict"] in ("continue", "promote", "rollback", "invalid")
        # the always-valid p-value is a running minimum across looks
        assert p_values == sorted(p_values, reverse=True)
        reg = app.registry
        assert reg.get_sample_value("abgate_srm_p_value", {"experiment": EXPERIMENT}) is not None
        assert reg.get_sample_value("abgate_verdict", {"experiment": EXPERIMENT}) in (0, 1, 2, 3)
        labels_p = {"experiment": EXPERIMENT, "candidate": "enhanced-predictor"}
        assert reg.get_sample_value("abgate_always_valid_p_value", labels_p) == p_values[-1]
        assert doc["drift"]["baseline-predictor"]["prediction"] is not None
        assert (
            reg.get_sample_value(
                "abgate_drift_psi", {"model": "baseline-predictor", "feature": "vol_20d"}
            )
            is not None
        )
        assert (await client.get("/v2/experiments/nope/summary")).status_code == 404


async def test_volatile_traffic_shows_drift(make_app: Any, windows: np.ndarray) -> None:
    calm = windows[:300]
    # Same days with every daily move amplified 6×: a market regime the models never saw.
    log_close = np.log(calm[:, :, 3])
    amplified = np.exp(log_close[:, :1] + 6.0 * (log_close - log_close[:, :1]))
    wild = calm.copy()
    ratio = (amplified / calm[:, :, 3])[..., None]
    wild[:, :, :4] = calm[:, :, :4] * ratio
    results = []
    for i, batch in enumerate((calm, wild)):
        async with make_app(seed=1, db=f"d{i}.db", analysis_interval_s=0.01) as (_, client):
            await asyncio.gather(
                *(
                    client.post("/v2/models/baseline-predictor/infer", json=infer_body(w))
                    for w in batch
                )
            )
            doc = (await client.get(SUMMARY)).json()
            results.append(doc["drift"]["baseline-predictor"]["vol_20d"])
    # The held-out years (2011-2013) were already calmer than training (2000-2009, with two
    # crashes), so even "calm" traffic drifts; the amplified market drifts far more.
    assert results[1] > 0.25 and results[1] > 2 * results[0]


def test_psi_properties() -> None:
    rng = np.random.default_rng(0)
    ref = reference_from_values(rng.normal(size=5000))
    assert psi(ref, rng.normal(size=5000)) < 0.02
    assert psi(ref, rng.normal(1.0, 1.0, size=5000)) > 0.25
    assert psi(ref, []) is None
    assert DriftReference.from_dict(ref.to_dict()) == ref
    assert abs(sum(ref.fractions) - 1.0) < 1e-12
