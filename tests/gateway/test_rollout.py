"""The rollout policy on simulated feedback streams, through the real statistics engine."""

from __future__ import annotations

import numpy as np
import pytest

from abgate.gateway.config import RolloutPolicy
from abgate.gateway.rollout import (
    Action,
    Evidence,
    Phase,
    RolloutState,
    apply,
    next_action,
    weights_for,
)
from abgate.stats import AnalysisConfig, ArmSummary, Proportion, analyze_experiment

POLICY = RolloutPolicy(
    steps=[10, 30, 50, 100], min_samples=400, check_interval_s=60, max_duration_s=3600 * 2
)


class Simulation:
    """Cumulative arms fed by Bernoulli outcomes at the rollout's current weights."""

    def __init__(self, p_default: float, p_candidate: float, seed: int):
        self.rng = np.random.default_rng(seed)
        self.p = {"base": p_default, "cand": p_candidate}
        self.n = {"base": 0, "cand": 0}
        self.k = {"base": 0, "cand": 0}
        self.lat: dict[str, list[float]] = {"base": [], "cand": []}
        self.states = None
        self.weights: dict[str, float] = {}
        self.assigned = {"base": 0, "cand": 0}  # since the last weight change, as the gateway

    def run(self, requests: int, weights: dict[str, float]) -> tuple[Evidence, int]:
        if weights != self.weights:
            self.weights, self.assigned = dict(weights), {"base": 0, "cand": 0}
        total = sum(weights.values())
        to_cand = self.rng.binomial(requests, weights["cand"] / total)
        for arm, n in (("base", requests - to_cand), ("cand", to_cand)):
            self.assigned[arm] += n
            self.n[arm] += n
            self.k[arm] += int(self.rng.binomial(n, self.p[arm]))
            self.lat[arm] += self.rng.gamma(4.0, 0.25, n).tolist()
        arms = {
            a: ArmSummary(
                assignments=self.assigned[a],
                accuracy=Proportion(self.k[a], self.n[a]),
                errors=Proportion(0, self.n[a]),
                latency_ms=np.asarray(self.lat[a][-1000:]),
            )
            for a in ("base", "cand")
        }
        w = {"base": weights["base"] or 1e-9, "cand": weights["cand"] or 1e-9}
        analysis = analyze_experiment(
            arms,
            w,
            AnalysisConfig(n_star=20_000, burn_in=100, bootstrap_resamples=200),
            baseline="base",
            rng=self.rng,
            states=self.states,
        )
        self.states = analysis.states()
        scored = self.n["base"] + self.n["cand"]
        return Evidence.from_analysis(analysis, scored), scored


def drive(sim: Simulation, max_checks: int = 200) -> tuple[RolloutState, list[Action]]:
    now = 0.0
    state = RolloutState.begin(now, 0)
    actions = []
    for _ in range(max_checks):
        if state.phase is not Phase.RUNNING:
            break
        now += POLICY.check_interval_s
        evidence, scored = sim.run(300, weights_for(POLICY, state, "base", "cand"))
        decision = next_action(POLICY, state, evidence, now)
        if decision.action is not Action.HOLD:
            actions.append(decision.action)
        state = apply(state, decision, now, scored)
    return state, actions


def test_better_candidate_climbs_every_step_and_is_promoted() -> None:
    state, actions = drive(Simulation(0.50, 0.62, seed=1))
    assert state.phase is Phase.PROMOTED
    assert actions == [Action.ADVANCE] * 2 + [Action.PROMOTE]
    assert weights_for(POLICY, state, "base", "cand") == {"base": 0.0, "cand": 100.0}


def test_worse_candidate_is_rolled_back_early() -> None:
    state, actions = drive(Simulation(0.55, 0.35, seed=2))
    assert state.phase is Phase.ROLLED_BACK
    assert actions[-1] is Action.ROLLBACK
    assert weights_for(POLICY, state, "base", "cand") == {"base": 100.0, "cand": 0.0}


def test_neutral_candidate_is_paused_at_the_time_limit() -> None:
    state, actions = drive(Simulation(0.50, 0.50, seed=3))
    assert state.phase is Phase.PAUSED
    assert actions[-1] is Action.PAUSE
    assert Action.PROMOTE not in actions and Action.ROLLBACK not in actions


def test_rules_on_constructed_evidence() -> None:
    s = RolloutState.begin(0.0, 0)
    good = Evidence("continue", 500, True, False)
    assert next_action(POLICY, s, good, 10).action is Action.ADVANCE
    assert next_action(POLICY, s, Evidence("continue", 399, True, False), 10).action is Action.HOLD
    assert next_action(POLICY, s, Evidence("invalid", 900, True, False), 10).action is Action.HOLD
    assert next_action(POLICY, s, Evidence("continue", 900, False, False), 10).action is Action.HOLD
    assert (
        next_action(POLICY, s, Evidence("rollback", 1, False, True), 10).action is Action.ROLLBACK
    )
    last = RolloutState(Phase.RUNNING, 2, 0.0, 0.0, 0)  # 50 %: the last comparing step
    assert (
        next_action(POLICY, last, Evidence("promote", 9, True, False), 1).action is Action.PROMOTE
    )
    assert next_action(POLICY, last, good, 1).action is Action.HOLD  # no step beyond the last
    paused = apply(s, next_action(POLICY, s, Evidence("continue", 0, False, False), 1e9), 1e9, 0)
    assert paused.phase is Phase.PAUSED
    assert next_action(POLICY, paused, good, 1e9).action is Action.HOLD


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="increase"):
        RolloutPolicy(steps=[10, 5])
    with pytest.raises(ValueError, match="percentages"):
        RolloutPolicy(steps=[0, 50])
    with pytest.raises(ValueError, match="below 100"):
        RolloutPolicy(steps=[100])
