"""The timeline: admin events and client outcomes on one clock, and the split to expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abgate.demo.timeline import (
    bin_width,
    build_timeline,
    exposure_weights,
    read_admin_events,
    sent_s,
    weight_steps,
    weight_steps_from_history,
    weights_at,
)
from abgate.events.factory import open_event_store
from abgate.events.types import AdminEvent
from abgate.loadgen.client import Outcome, Planned
from abgate.loadgen.scenarios import Regime, Scenario

T0 = 1_700_000_000.0
BASE, CAND = "baseline-predictor", "enhanced-predictor"
SCENARIO = Scenario(0, "AAPL", "2012-06-01", np.zeros((40, 5), np.float32), 1, 0.01, Regime.BULL)


def outcome(i: int, finished_s: float, model: str | None, how: str = "hash") -> Outcome:
    planned = Planned(i, f"r{i}", f"a{i}", SCENARIO)
    if model is None:
        return Outcome(planned, 503, 2.0, finished_s, error="HTTP 503: no model could answer")
    reason = "injected_error" if how == "fallback" else None
    return Outcome(planned, 200, 2.0, finished_s, model, "1", how, reason, 0.6)


def event(
    ts: float, kind: str, payload: dict[str, Any], experiment: str | None = "exp"
) -> dict[str, Any]:
    return {"seq": 0, "ts": T0 + ts, "kind": kind, "experiment": experiment, "payload": payload}


EVENTS = [
    event(-0.3, "experiment_config", {"weights": {BASE: 70.0, CAND: 30.0}, "default": BASE}),
    event(
        -0.2,
        "weight_change",
        {
            "old": {},
            "new": {BASE: 70.0, CAND: 30.0},
            "actor": "rollout",
            "reason": "hold: rollout started",
        },
    ),
    event(
        -0.2,
        "rollout",
        {
            "action": "hold",
            "reason": "rollout started",
            "actor": "rollout",
            "phase": "running",
            "step": 0,
            "weights": {BASE: 70.0, CAND: 30.0},
        },
    ),
    event(0.5, "faults", {"model": CAND, "error_rate": 0.0, "latency_ms": 0.0, "down": True}, None),
    event(
        0.55,
        "breaker",
        {"model": CAND, "from": "closed", "to": "open", "reason": "5 consecutive failures"},
        None,
    ),
    event(
        0.6,
        "breaker",
        {"model": "other-model", "from": "closed", "to": "open", "reason": "x"},
        None,
    ),
    event(
        0.7,
        "weight_change",
        {
            "old": {},
            "new": {BASE: 100.0, CAND: 0.0},
            "actor": "rollout",
            "reason": "rollback: statistics",
        },
    ),
    event(
        0.7,
        "rollout",
        {
            "action": "rollback",
            "reason": "statistics: guardrail_harmed",
            "actor": "rollout",
            "phase": "rolled_back",
            "step": 0,
            "weights": {BASE: 100.0, CAND: 0.0},
        },
    ),
    event(
        0.8,
        "weight_change",
        {"old": {}, "new": {"x": 1.0}, "actor": "admin", "reason": None},
        "other",
    ),
]


def outcomes() -> list[Outcome]:
    out = []
    for i in range(100):  # 10 answers per 0.1 s for one second
        t = i / 100 + 0.005
        if 50 <= i < 70 and i % 2:
            out.append(outcome(i, t, BASE, "fallback"))
        elif i % 3 == 0 and i < 70:
            out.append(outcome(i, t, CAND))
        else:
            out.append(outcome(i, t, BASE))
    out.append(outcome(100, 0.995, None))
    return out


def test_events_and_outcomes_on_one_clock() -> None:
    t = build_timeline(
        EVENTS,
        outcomes(),
        t0=T0,
        end_s=1.0,
        experiment="exp",
        baseline=BASE,
        candidate=CAND,
        config_faults={CAND: {"error_rate": 0.3, "latency_ms": 0.0, "down": False}},
    )
    assert [w["t_s"] for w in t["weights"]] == pytest.approx([-0.3, -0.2, 0.7])
    assert t["weights"][-1]["weights"] == {BASE: 100.0, CAND: 0.0}  # the other experiment's is not
    assert [b["model"] for b in t["breaker"]] == [CAND]  # the other model's transition is not
    assert [(r["action"], r["candidate_weight"]) for r in t["rollout"]] == [
        ("hold", 30.0),
        ("rollback", 0.0),
    ]
    assert [(f["source"], f["t_s"], f["down"]) for f in t["faults"]] == [
        ("config", pytest.approx(-0.3), False),  # from the YAML, in force since gateway start
        ("admin", pytest.approx(0.5), True),
    ]
    assert t["faults"][0]["error_rate"] == 0.3 and t["faults"][0]["model"] == CAND
    s = t["summary"]
    assert s["fallbacks"] == 10 and s["failures"] == 1
    assert s["breaker_opened"] == 1 and s["breaker_first_open_s"] == pytest.approx(0.55)
    assert s["down_injected_after_requests"] == 50  # answers that arrived before 0.5 s
    assert s["breaker_first_open_after_requests"] == 55
    assert s["rollout_phase"] == "rolled_back" and s["rolled_back_s"] == pytest.approx(0.7)
    assert s["candidate_weight_final"] == 0.0
    series = t["series"]
    assert series["bin_s"] == 0.05 and len(series["start_s"]) == 20
    total = sum(series["fallbacks"]) + sum(series["failures"])
    total += sum(sum(v) for v in series["served"].values())
    assert total == 101
    assert sum(series["served"][CAND]) == 20 and sum(series["fallbacks"][10:14]) == 10


def test_exposure_weights_follow_the_weights_in_force() -> None:
    steps = [(-0.2, {BASE: 70.0, CAND: 30.0}), (3.0, {BASE: 100.0, CAND: 0.0})]
    sends = [0.01 * i for i in range(300)] + [3.0 + 0.01 * i for i in range(200)]
    assert exposure_weights(steps, sends, {BASE: 70.0, CAND: 30.0}) == pytest.approx(
        {BASE: 82.0, CAND: 18.0}
    )
    assert weights_at(steps, -1.0, {BASE: 1.0}) == {BASE: 1.0}
    # nothing sent yet, or an arm never exposed: the initial weights, as percentages
    assert exposure_weights(steps, [], {BASE: 7.0, CAND: 3.0}) == {BASE: 70.0, CAND: 30.0}
    gone = [(0.0, {BASE: 100.0, CAND: 0.0})]
    assert exposure_weights(gone, [1.0, 2.0], {BASE: 7.0, CAND: 3.0}) == {BASE: 70.0, CAND: 30.0}


def test_weight_steps_from_the_status_and_from_a_timeline() -> None:
    history = [{"ts": T0 + 1.5, "weights": {BASE: 100, CAND: 0}, "action": "rollback"}]
    assert weight_steps_from_history(history, T0) == [(1.5, {BASE: 100.0, CAND: 0.0})]
    timeline = {"weights": [{"t_s": -0.1, "weights": {BASE: 70, CAND: 30}}]}
    assert weight_steps(timeline) == [(-0.1, {BASE: 70.0, CAND: 30.0})]


def test_sent_time_and_bins() -> None:
    assert sent_s(outcome(0, 0.5, BASE)) == pytest.approx(0.498)
    assert sent_s(outcome(0, 0.001, BASE)) == 0.0
    assert [bin_width(s) for s in (0.5, 3.0, 10.0, 100.0, 1e6)] == [0.05, 0.05, 0.2, 2.0, 60.0]


async def test_admin_events_are_read_from_the_event_log(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    store = open_event_store(str(db), durability="strict")
    await store.start()
    try:
        await store.record_admin(AdminEvent(T0, "breaker", None, {"model": CAND, "to": "open"}))
        await store.record_admin(AdminEvent(T0 + 1, "weight_change", "exp", {"new": {CAND: 0}}))
    finally:
        await store.close()
    rows = read_admin_events(db)
    assert [(r["kind"], r["experiment"], r["ts"]) for r in rows] == [
        ("breaker", None, T0),
        ("weight_change", "exp", T0 + 1),
    ]
    assert rows[0]["payload"] == {"model": CAND, "to": "open"}
