"""Fallback, circuit breaking, timeouts and mirrors through the whole app (in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from abgate.events.summaries import load_experiment
from abgate.events.types import FeedbackItem
from abgate.gateway.backends import BackendError, RemoteV2Backend

from .conftest import EXPERIMENT, infer_body, make_config

URL = "/v2/models/baseline-predictor/infer"


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def test_failing_candidate_falls_back_with_zero_failed_requests(
    make_app: Any, windows: np.ndarray, tmp_path: Path
) -> None:
    config = make_config(faults={"enhanced-predictor": {"error_rate": 1.0}})
    async with make_app(config=config, seed=11) as (app, client):
        rs = []
        for _ in range(20):  # waves of 10 concurrent calls, so the breaker sees failures land
            rs += await asyncio.gather(
                *(client.post(URL, json=infer_body(windows[0])) for _ in range(10))
            )
        assert {r.status_code for r in rs} == {200}
        assert {r.headers["x-seldon-route"] for r in rs} == {":baseline-predictor_1:"}
        reasons = {r.json()["parameters"].get("fallback_reason") for r in rs}
        assert reasons >= {"injected_error"}
        # after 5 consecutive failures the breaker opens: later calls skip the candidate
        assert "circuit_open" in reasons
        status = (await client.get(f"/v2/experiments/{EXPERIMENT}")).json()
        enhanced = next(v for v in status["variants"] if v["model"] == "enhanced-predictor")
        assert enhanced["circuit"] == "open" and enhanced["served"] == 0
        metrics = app.registry
        fallbacks = sum(
            metrics.get_sample_value(
                "abgate_fallbacks_total",
                {"experiment": EXPERIMENT, "from_model": "enhanced-predictor", "reason": reason},
            )
            or 0.0
            for reason in ("injected_error", "circuit_open")
        )
        assigned = sum(1 for r in rs if r.json()["parameters"]["assignment"] == "fallback")
        assert fallbacks == assigned > 0
        assert (
            metrics.get_sample_value("abgate_circuit_state", {"model": "enhanced-predictor"}) == 1
        )
    db = tmp_path / "events.db"
    logged = rows(db, "SELECT assignment, model, assigned_model, fallback_reason FROM inference")
    fb = [r for r in logged if r[0] == "fallback"]
    assert len(fb) == assigned and {r[1] for r in fb} == {"baseline-predictor"}
    assert {r[2] for r in fb} == {"enhanced-predictor"}
    assert rows(db, "SELECT count(*) FROM admin WHERE kind = 'breaker'")[0][0] >= 1
    # The fallback hid every failure from clients, but not from the candidate's guardrail.
    arms = load_experiment(db, EXPERIMENT).arms
    enhanced = arms["enhanced-predictor"]
    assert enhanced.errors.successes == enhanced.errors.trials == enhanced.assignments > 0
    assert arms["baseline-predictor"].errors.successes == 0


async def test_slow_candidate_times_out_and_falls_back(make_app: Any, windows: np.ndarray) -> None:
    config = make_config(faults={"enhanced-predictor": {"latency_ms": 1000}})
    async with make_app(config=config, seed=2) as (_, client):
        rs = await asyncio.gather(
            *(client.post(URL, json=infer_body(windows[0])) for _ in range(20))
        )
        assert {r.status_code for r in rs} == {200}
        reasons = [r.json()["parameters"].get("fallback_reason") for r in rs]
        assert "timeout" in reasons


async def test_default_down_is_a_clean_503(make_app: Any, windows: np.ndarray) -> None:
    config = make_config(faults={"baseline-predictor": {"down": True}})
    async with make_app(config=config, seed=4) as (_, client):
        rs = await asyncio.gather(
            *(client.post(URL, json=infer_body(windows[0])) for _ in range(40))
        )
        codes = {r.status_code for r in rs}
        assert codes == {200, 503}  # candidate traffic still served, default traffic refused
        failed = [r for r in rs if r.status_code == 503]
        assert all("no model could answer" in r.json()["error"] for r in failed)
        ok = [r for r in rs if r.status_code == 200]
        assert {r.headers["x-seldon-route"] for r in ok} == {":enhanced-predictor_1:"}


async def test_mirror_never_changes_the_response(
    make_app: Any, windows: np.ndarray, tmp_path: Path
) -> None:
    body = infer_body(windows[0])
    plain = make_config(faults={"enhanced-predictor": {"latency_ms": 150}})
    mirrored = make_config(
        mirror={"name": "enhanced-predictor", "percent": 100},
        faults={"enhanced-predictor": {"latency_ms": 150}},
    )
    answers = []
    for i, config in enumerate((plain, mirrored)):
        async with make_app(config=config, seed=9, db=f"m{i}.db") as (_, client):
            rs = []
            for _ in range(30):
                r = await client.post(URL, json=body)
                rs.append((r.status_code, r.headers["x-seldon-route"], r.json()["outputs"]))
            answers.append(rs)
    assert answers[0] == answers[1]
    mirror_rows = rows(
        tmp_path / "m1.db", "SELECT count(*) FROM inference WHERE assignment='mirror'"
    )
    assert mirror_rows[0][0] == 30
    assert (
        rows(tmp_path / "m0.db", "SELECT count(*) FROM inference WHERE assignment='mirror'")[0][0]
        == 0
    )


async def test_remote_backend_errors_are_classified() -> None:
    batch = np.zeros((1, 40, 5), dtype=np.float32)

    def handler(request: httpx.Request) -> httpx.Response:
        mode = request.url.path.split("/")[3]
        if mode == "busy":
            return httpx.Response(503, text="overloaded")
        if mode == "garbage":
            return httpx.Response(200, content=b"{}")
        if mode == "slow":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(
            200, json={"outputs": [{"name": "probability_up", "data": [0.25], "shape": [1, 1]}]}
        )

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    expectations = {"busy": "http_503", "garbage": "bad_response", "slow": "unreachable"}
    for mode, reason in expectations.items():
        backend = RemoteV2Backend(mode, "http://remote", mode, None, 1.0, client=client)
        await backend.start()
        with pytest.raises(BackendError) as info:
            await backend.predict(batch)
        assert info.value.reason == reason
    ok = RemoteV2Backend("ok", "http://remote", "ok", "2", 1.0, client=client)
    np.testing.assert_allclose(await ok.predict(batch), [0.25])
    assert ok.info.route_name == "ok_2"
    await client.aclose()


async def test_feedback_joins_and_reports_unknown_and_duplicate(
    make_app: Any, windows: np.ndarray
) -> None:
    async with make_app(seed=6) as (app, client):
        ids, truths = [], []
        for i in range(20):
            r = await client.post(URL, json=infer_body(windows[i]) | {"id": f"req-{i}"})
            ids.append(
                (
                    r.json()["id"],
                    r.json()["model_name"].rsplit("_", 1)[0],
                    r.json()["outputs"][0]["data"][0],
                )
            )
            truths.append(i % 2)
        items = [{"id": rid, "truth": t} for (rid, _, _), t in zip(ids, truths, strict=True)]
        items += [
            {"id": "nope", "truth": 1},
            {"id": "req-0", "truth": 1},
            {"id": "req-1", "truth": 7},
        ]
        r = await client.post(f"/v2/experiments/{EXPERIMENT}/feedback", json={"feedback": items})
        assert r.status_code == 200
        doc = r.json()
        assert doc["accepted"] == 20 and doc["unknown"] == ["nope"]
        assert "req-0" in doc["duplicate"] and (
            "req-1" in doc["invalid"] or "req-1" in doc["duplicate"]
        )
        status = (await client.get(f"/v2/experiments/{EXPERIMENT}")).json()
        for v in status["variants"]:
            mine = [
                (p > 0.5) == bool(t)
                for (rid, m, p), t in zip(ids, truths, strict=True)
                if m == v["model"]
            ]
            assert v["scored"] == len(mine) and v["correct"] == sum(mine)
            got = (
                app.registry.get_sample_value(
                    "abgate_feedback_total",
                    {"experiment": EXPERIMENT, "model": v["model"], "correct": "true"},
                )
                or 0.0
            )
            assert got == sum(mine)
        bad = await client.post(f"/v2/experiments/{EXPERIMENT}/feedback", json={"x": 1})
        assert bad.status_code == 400
        missing = await client.post("/v2/experiments/nope/feedback", json={"feedback": items[:1]})
        assert missing.status_code == 404
    assert isinstance(FeedbackItem("a", 1), FeedbackItem)


async def test_admin_weights_need_a_token_and_apply_at_once(
    make_app: Any, windows: np.ndarray
) -> None:
    path = f"/v2/experiments/{EXPERIMENT}/weights"
    async with make_app(seed=8) as (app, client):
        body = {"weights": {"baseline-predictor": 0, "enhanced-predictor": 1}}
        assert (await client.put(path, json=body)).status_code == 401
        wrong = await client.put(path, json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "nope" not in wrong.text
        ok = await client.put(path, json=body, headers={"authorization": "Bearer test-admin-token"})
        assert ok.status_code == 200
        rs = await asyncio.gather(
            *(client.post(URL, json=infer_body(windows[0])) for _ in range(30))
        )
        assert {r.headers["x-seldon-route"] for r in rs} == {":enhanced-predictor_1:"}
        assert (
            app.registry.get_sample_value(
                "abgate_experiment_weight",
                {"experiment": EXPERIMENT, "model": "baseline-predictor"},
            )
            == 0
        )
        auth = {"authorization": "Bearer test-admin-token"}
        assert (await client.put(path, json={"weights": {"x": 1}}, headers=auth)).status_code == 400
        zero = {"weights": {"baseline-predictor": 0, "enhanced-predictor": 0}}
        assert (await client.put(path, json=zero, headers=auth)).status_code == 400
        listing = (await client.get("/v2/experiments")).json()
        assert listing["experiments"][0]["name"] == EXPERIMENT


async def test_faults_injected_at_run_time(make_app: Any, windows: np.ndarray) -> None:
    auth = {"authorization": "Bearer test-admin-token"}
    path = "/v2/models/enhanced-predictor/faults"
    async with make_app(seed=3) as (_, client):
        assert (await client.put(path, json={"down": True})).status_code == 401
        r = await client.put(path, json={"down": True}, headers=auth)
        assert r.status_code == 200 and r.json()["faults"]["down"] is True
        rs = await asyncio.gather(
            *(client.post(URL, json=infer_body(windows[0])) for _ in range(30))
        )
        assert {r.status_code for r in rs} == {200}
        assert {r.headers["x-seldon-route"] for r in rs} == {":baseline-predictor_1:"}
        bad = await client.put(path, json={"error_rate": 2}, headers=auth)
        assert bad.status_code == 400 and "error_rate" in bad.json()["error"]
        assert (
            await client.put("/v2/models/nope/faults", json={}, headers=auth)
        ).status_code == 404
        cleared = await client.put(path, json={}, headers=auth)
        assert cleared.json()["faults"]["down"] is False
        direct = await client.post(
            "/v2/models/enhanced-predictor/infer", json=infer_body(windows[0])
        )
        # Faults are gone, but the breaker the outage opened stays open until its cooldown:
        # a direct call (no fallback) is refused fast instead of hitting a suspect model.
        assert direct.status_code == 503 and "circuit breaker open" in direct.json()["error"]


@contextlib.asynccontextmanager
async def _feedback_client(
    smoke_registry: Path, db: Path, peer: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A whole gateway (admin token "s3cr3t-admin") behind an ASGI scope naming ``peer`` as the
    client address; no traffic leaves the process."""
    import random as _random

    from abgate.gateway.server import build_app
    from abgate.gateway.settings import ServerSettings

    app = build_app(
        ServerSettings(registry=str(smoke_registry), events_db=str(db), admin_token="s3cr3t-admin"),  # type: ignore[arg-type]
        config=make_config(),
        rng=_random.Random(1),
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app, client=(peer, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client
    finally:
        await app.shutdown()


FEEDBACK_PATH = f"/v2/experiments/{EXPERIMENT}/feedback"
FEEDBACK_BODY = {"feedback": [{"id": "x", "truth": 1}]}


async def test_feedback_needs_a_token_off_loopback(smoke_registry: Path, tmp_path: Path) -> None:
    async with _feedback_client(smoke_registry, tmp_path / "remote.db", "203.0.113.9") as client:
        denied = await client.post(FEEDBACK_PATH, json=FEEDBACK_BODY)
        assert denied.status_code == 401 and "s3cr3t" not in denied.text
        ok = await client.post(
            FEEDBACK_PATH, json=FEEDBACK_BODY, headers={"authorization": "Bearer s3cr3t-admin"}
        )
        assert ok.status_code == 200 and ok.json()["unknown"] == ["x"]


async def test_feedback_relayed_by_a_local_proxy_needs_a_token(
    smoke_registry: Path, tmp_path: Path
) -> None:
    """A proxy on this machine connects from loopback; the client behind it is not local."""
    async with _feedback_client(smoke_registry, tmp_path / "proxied.db", "127.0.0.1") as client:
        local = await client.post(FEEDBACK_PATH, json=FEEDBACK_BODY)
        assert local.status_code == 200  # a loopback client needs no token
        for relayed in ({"x-forwarded-for": "203.0.113.9"}, {"forwarded": "for=203.0.113.9"}):
            denied = await client.post(FEEDBACK_PATH, json=FEEDBACK_BODY, headers=relayed)
            assert denied.status_code == 401, relayed
