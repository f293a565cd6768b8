"""Rollout control through the running app: start weights, manual actions, events, webhook."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXPERIMENT, TOKEN, make_config

AUTH = {"authorization": f"Bearer {TOKEN}"}
BASE = f"/v2/experiments/{EXPERIMENT}"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP receiver on loopback that records what it is sent."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def rollout_config(hook: str) -> Any:
    policy = {"steps": [5, 25, 100], "min_samples": 50, "check_interval_s": 3600, "webhook": hook}
    return make_config(rollout=policy)


async def test_rollout_starts_at_first_step_and_obeys_manual_control(
    make_app: Any, tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    hook, received = webhook
    async with make_app(config=rollout_config(hook)) as (app, client):
        status = (await client.get(BASE)).json()
        weights = {v["model"]: v["weight"] for v in status["variants"]}
        assert weights == {"baseline-predictor": 95.0, "enhanced-predictor": 5.0}
        assert status["rollout"]["phase"] == "running" and status["rollout"]["step_percent"] == 5
        summary = (await client.get(f"{BASE}/summary")).json()  # what the dashboard shows
        assert summary["status"]["rollout"]["phase"] == "running"
        assert (await client.post(f"{BASE}/pause")).status_code == 401
        paused = await client.post(f"{BASE}/pause", headers=AUTH)
        assert paused.json()["rollout"]["phase"] == "paused"
        assert (await client.post(f"{BASE}/pause", headers=AUTH)).status_code == 409
        resumed = await client.post(f"{BASE}/resume", headers=AUTH)
        assert resumed.json()["rollout"]["phase"] == "running"
        back = (await client.post(f"{BASE}/rollback", headers=AUTH)).json()
        assert back["rollout"]["phase"] == "rolled_back"
        assert {v["model"]: v["weight"] for v in back["variants"]}["enhanced-predictor"] == 0
        assert (await client.post(f"{BASE}/resume", headers=AUTH)).status_code == 409
        assert (await client.post(f"{BASE}/explode", headers=AUTH)).status_code == 404
        reg = app.registry
        assert reg.get_sample_value("abgate_rollout_phase", {"experiment": EXPERIMENT}) == 3
        assert reg.get_sample_value("abgate_rollout_step_percent", {"experiment": EXPERIMENT}) == 0
    actions = [r["action"] for r in received]
    assert actions == ["hold", "pause", "hold", "rollback"]
    assert all(r["experiment"] == EXPERIMENT for r in received)
    with sqlite3.connect(tmp_path / "events.db") as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM admin ORDER BY seq")]
        rollout_rows = conn.execute("SELECT payload FROM admin WHERE kind = 'rollout'").fetchall()
    assert kinds.count("rollout") == 4 and kinds.count("weight_change") == 4
    assert json.loads(rollout_rows[-1][0])["reason"] == "manual"


async def test_manual_promote_on_a_fixed_experiment(make_app: Any) -> None:
    async with make_app() as (_, client):
        doc = (await client.post(f"{BASE}/promote", headers=AUTH)).json()
        weights = {v["model"]: v["weight"] for v in doc["variants"]}
        assert weights == {"baseline-predictor": 0.0, "enhanced-predictor": 100.0}
        assert doc["fallback"] == "enhanced-predictor"
        assert (await client.post(f"{BASE}/pause", headers=AUTH)).status_code == 409


async def test_candidate_going_down_is_rolled_back_without_new_ground_truth(
    make_app: Any, windows: Any, smoke_registry: Any
) -> None:
    import asyncio

    from abgate.registry.store import Registry

    from .conftest import infer_body

    labels = Registry(smoke_registry).get("baseline-predictor").load_heldout().labels
    policy = {"steps": [30, 50, 100], "min_samples": 10_000, "check_interval_s": 0.2}
    url = "/v2/models/baseline-predictor/infer"
    async with make_app(config=make_config(rollout=policy), analysis_interval_s=0.1) as (
        _,
        client,
    ):
        rs = await asyncio.gather(
            *(client.post(url, json=infer_body(windows[i]) | {"id": f"g{i}"}) for i in range(100))
        )
        feedback = [{"id": r.json()["id"], "truth": int(labels[i])} for i, r in enumerate(rs)]
        await client.post(f"{BASE}/feedback", json={"feedback": feedback})
        down = await client.put(
            "/v2/models/enhanced-predictor/faults", json={"down": True}, headers=AUTH
        )
        assert down.status_code == 200
        for _ in range(6):  # no more feedback from here on
            rs = await asyncio.gather(
                *(client.post(url, json=infer_body(windows[i])) for i in range(50))
            )
            assert {r.status_code for r in rs} == {200}
        phase = None
        for _ in range(40):
            status = (await client.get(BASE)).json()
            phase = status["rollout"]["phase"]
            if phase == "rolled_back":
                break
            await asyncio.sleep(0.1)
        assert phase == "rolled_back"
        assert "error_rate" in status["rollout"]["history"][-1]["reason"]
        await asyncio.sleep(0.3)  # past the analysis interval: the next look sees one arm
        summary = await client.get(f"{BASE}/summary")  # one active arm left: still answers
        assert summary.status_code == 200
        assert summary.json()["verdict"]["reasons"] == ["single_active_arm"]
        assert summary.json()["analysis"] is not None  # the last comparison stands
