"""Headline and recommendation say what the statistics found; the monitor chains its looks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from rich.console import Console

from abgate.demo.faults import FaultCheck
from abgate.demo.monitor import Monitor
from abgate.demo.summary import (
    check_mark,
    headline,
    recommendation,
    render_fault_summary,
    render_summary,
)
from abgate.loadgen.arms import ExperimentArms
from abgate.loadgen.client import Outcome, Planned
from abgate.loadgen.scenarios import Regime, Scenario
from abgate.loadgen.tally import ClientTally, TallyCheck
from abgate.stats import AnalysisConfig, ArmSummary, Proportion, analyze_experiment

WEIGHTS = {"base": 50.0, "cand": 50.0}


def analysis(base: tuple[int, int], cand: tuple[int, int], assigned: tuple[int, int] = (0, 0)):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    arms = {
        name: ArmSummary(
            assignments=assigned[i] or n,
            accuracy=Proportion(correct, n),
            errors=Proportion(0, n),
            latency_ms=rng.gamma(9, 1, 3000),
        )
        for i, (name, (correct, n)) in enumerate((("base", base), ("cand", cand)))
    }
    return analyze_experiment(arms, WEIGHTS, AnalysisConfig(), baseline="base", rng=rng)


def test_coin_flips_give_an_honest_no_difference() -> None:
    a = analysis((1010, 2000), (1025, 2000))
    assert a.decision.verdict.value == "continue"
    assert headline(a) == "no significant difference in accuracy"
    text = recommendation(a)
    assert text.startswith("No significant difference.")
    assert "Zero is inside the interval" in text and "Keep base serving" in text


def test_clear_improvement_is_promoted() -> None:
    a = analysis((10000, 20000), (11400, 20000))
    assert a.decision.verdict.value == "promote"
    assert headline(a) == "promote cand: significantly more accurate, guardrails hold"
    assert "Promote cand" in recommendation(a)


def test_clear_harm_is_rolled_back() -> None:
    a = analysis((11400, 20000), (10000, 20000))
    assert headline(a) == "roll back cand: significantly less accurate"
    assert "Roll back cand and keep base serving" in recommendation(a)


def test_broken_split_is_invalid_whatever_the_accuracy() -> None:
    a = analysis((10000, 20000), (11400, 20000), assigned=(30000, 20000))
    assert a.decision.verdict.value == "invalid"
    assert "sample ratio mismatch" in headline(a)
    assert recommendation(a).startswith("Do not act on this run")


def test_too_early_before_the_burn_in() -> None:
    a = analysis((30, 60), (40, 60))
    assert headline(a).startswith("too early: 120 of 200")
    assert "Only 120 scored predictions" in recommendation(a)


def synthetic_tally(n: int, seed: int = 1) -> ClientTally:
    rng = np.random.default_rng(seed)
    tally = ClientTally()
    window = np.zeros((40, 5), np.float32)
    for i in range(n):
        model = "base" if rng.random() < 0.7 else "cand"
        truth = int(rng.integers(0, 2))
        scenario = Scenario(i, "MSFT", "2012-05-01", window, truth, 0.01, Regime.SIDEWAYS)
        tally.record(
            Outcome(
                Planned(i, f"r{i}", f"acct-{i % 50}", scenario),
                200,
                4.0,
                i * 0.01,
                model=model,
                version="1",
                assignment="hash",
                probability=float(rng.random()),
            )
        )
    return tally


def test_monitor_chains_checkpoints_and_timed_looks() -> None:
    arms = ExperimentArms("exp", "base", {"base": 70.0, "cand": 30.0})
    monitor = Monitor(arms, seed=3, look_every=25)
    tally = synthetic_tally(130)
    monitor.look(tally, 0.5)
    more = synthetic_tally(260)
    monitor.look(more, 1.0, final=True)
    kinds = [h["kind"] for h in monitor.history]
    assert kinds.count("checkpoint") == 260 // 25 and kinds[-1] == "final"
    assert "timed" in kinds
    ns = [h["n"] for h in monitor.history]
    assert ns == sorted(ns) and ns[-1] == 260
    p = [h["p_value"] for h in monitor.history]
    assert all(later <= earlier for earlier, later in itertools.pairwise(p))
    assert monitor.history[0]["lower"] is None  # burn-in: unbounded
    verdict = monitor.verdict()
    assert verdict is not None and verdict.scored == 260 and verdict.candidate == "cand"
    snap = monitor.snapshot(more, target="http://x", total=300, elapsed_s=1.0, finished=True)
    assert [r.name for r in snap.models] == ["base", "cand"]
    assert sum(r.requests for r in snap.models) == 260
    assert snap.models[0].success_rate == pytest.approx(1.0)
    assert len(snap.recent) == 5


def test_render_summary_text() -> None:
    arms = ExperimentArms("exp", "base", {"base": 70.0, "cand": 30.0})
    tally = synthetic_tally(300)
    monitor = Monitor(arms)
    a = monitor.look(tally, 1.0, final=True)
    console = Console(record=True, width=200, color_system=None)
    console.print(render_summary(a, arms, tally, TallyCheck(False, note="no status")))
    text = console.export_text()
    assert "Result per model" in text and "base (baseline)" in text
    assert "Accuracy difference (cand − base)" in text
    assert "always-valid p = " in text
    assert "Traffic split (SRM χ²): healthy" in text
    assert "Guardrail latency_p95" in text and "Guardrail error_rate" in text
    assert "tally check skipped: no status" in text
    assert f"Verdict: {a.decision.verdict.value.upper()}" in text


def test_fault_summary_marks_each_expected_outcome() -> None:
    checks = [
        FaultCheck("client success 100%", True, True, "300 of 300 requests answered"),
        FaultCheck("breaker opened", False, False, "the breaker stayed closed"),
        FaultCheck("rollout rolled back", True, False, "rollout running"),
    ]
    assert [check_mark(c) for c in checks] == ["✓", "·", "✗"]
    timeline = {
        "candidate": "cand",
        "breaker": [],
        "rollout": [{}],
        "summary": {"fallbacks": 7, "candidate_weight_final": 30.0, "rollout_phase": "running"},
    }
    console = Console(record=True, width=160, color_system=None)
    console.print(render_fault_summary("error-rate=0.3", timeline, checks))
    text = console.export_text()
    assert "Fault injection: error-rate=0.3 on cand — EXPECTED OUTCOME NOT OBSERVED" in text
    assert "✓ client success 100%: 300 of 300 requests answered" in text
    assert "· breaker opened (not required): the breaker stayed closed" in text
    assert "✗ rollout rolled back: rollout running" in text
    assert (
        "0 breaker transitions, 1 rollout decisions, 7 fallbacks; candidate weight now 30%" in text
    )
    console = Console(record=True, width=160, color_system=None)
    console.print(render_fault_summary("error-rate=0.3", timeline, checks[:1]))
    assert "— expected outcome observed" in console.export_text()
