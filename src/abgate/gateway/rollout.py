"""Progressive rollout: step the candidate's share up while the statistics allow, roll back at
once when they do not, promote when the candidate is significantly better at the last step.

:func:`next_action` is the whole policy, pure: the controller state, the latest analysis, the
clock. The :class:`RolloutController` in :mod:`.controller` applies its answers.

A final step of 100 % is not a step the controller walks onto: with no baseline traffic there is
nothing left to compare. It is reached only by promotion. Rules at each check (the candidate's
share is ``steps[i]`` percent, the last *comparing* step is the last one below 100):
- ROLLBACK verdict (a guardrail significantly harmed, or accuracy significantly worse, always-
  valid) → **rollback**: candidate weight 0.
- last step reached and PROMOTE verdict → **promote**: the candidate serves all traffic.
- at least ``min_samples`` scored predictions since the step began, every guardrail
  non-inferior, accuracy not significantly worse, not the last step → **advance**.
- ``max_duration_s`` since the rollout began with none of the above → **pause** (as Argo does):
  weights stay, a human decides (``abgate experiment resume|promote|rollback``).
- otherwise **hold**.
An invalid experiment (sample ratio mismatch) never advances or promotes; it holds, and pauses at
the time limit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from abgate.gateway.config import RolloutPolicy
from abgate.stats import ExperimentAnalysis, GuardrailStatus


class Phase(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


class Action(enum.StrEnum):
    HOLD = "hold"
    ADVANCE = "advance"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    PAUSE = "pause"


@dataclass(frozen=True)
class RolloutState:
    phase: Phase
    step: int  # index into policy.steps
    started_at: float
    step_started_at: float
    scored_at_step_start: int

    @classmethod
    def begin(cls, now: float, scored: int) -> RolloutState:
        return cls(Phase.RUNNING, 0, now, now, scored)

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.PROMOTED, Phase.ROLLED_BACK)


@dataclass(frozen=True)
class Evidence:
    """What a check needs from the latest analysis."""

    verdict: str  # "continue" | "promote" | "rollback" | "invalid"
    scored: int  # scored predictions, all arms
    guardrails_non_inferior: bool
    primary_worse: bool
    reasons: tuple[str, ...] = ()

    @classmethod
    def from_analysis(cls, analysis: ExperimentAnalysis | None, scored: int) -> Evidence:
        if analysis is None:
            return cls("continue", scored, False, False, ("no_data",))
        comps = analysis.comparisons
        guards = bool(comps) and all(
            g.status is GuardrailStatus.NON_INFERIOR for c in comps for g in c.guardrails
        )
        worse = any(c.sequential.upper < 0 for c in comps)
        d = analysis.decision
        return cls(d.verdict.value, scored, guards, worse, d.reasons)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def next_action(
    policy: RolloutPolicy, state: RolloutState, evidence: Evidence, now: float
) -> Decision:
    """The policy above; pure."""
    if state.phase is not Phase.RUNNING:
        return Decision(Action.HOLD, f"rollout {state.phase.value}")
    if evidence.verdict == "rollback":
        return Decision(Action.ROLLBACK, "statistics: " + ", ".join(evidence.reasons))
    last = state.step == len(comparing_steps(policy)) - 1
    if last and evidence.verdict == "promote":
        return Decision(Action.PROMOTE, "candidate significantly better at the last step")
    enough = evidence.scored - state.scored_at_step_start >= policy.min_samples
    if (
        not last
        and enough
        and evidence.verdict != "invalid"
        and evidence.guardrails_non_inferior
        and not evidence.primary_worse
    ):
        nxt = policy.steps[state.step + 1]
        return Decision(
            Action.ADVANCE, f"non-inferior after {policy.min_samples} samples → {nxt:g}%"
        )
    if now - state.started_at >= policy.max_duration_s:
        return Decision(Action.PAUSE, f"inconclusive after {policy.max_duration_s:g} s")
    return Decision(Action.HOLD, "waiting for evidence")


def comparing_steps(policy: RolloutPolicy) -> list[float]:
    """The steps below 100 %, where both arms still get traffic."""
    return [s for s in policy.steps if s < 100.0]


def apply(state: RolloutState, decision: Decision, now: float, scored: int) -> RolloutState:
    """The state after ``decision``."""
    if decision.action is Action.ADVANCE:
        return replace(state, step=state.step + 1, step_started_at=now, scored_at_step_start=scored)
    if decision.action is Action.PROMOTE:
        return replace(state, phase=Phase.PROMOTED)
    if decision.action is Action.ROLLBACK:
        return replace(state, phase=Phase.ROLLED_BACK)
    if decision.action is Action.PAUSE:
        return replace(state, phase=Phase.PAUSED)
    return state


def weights_for(
    policy: RolloutPolicy, state: RolloutState, default: str, candidate: str
) -> dict[str, float]:
    """Experiment weights (percent) implied by the state."""
    if state.phase is Phase.ROLLED_BACK:
        return {default: 100.0, candidate: 0.0}
    if state.phase is Phase.PROMOTED:
        return {default: 0.0, candidate: 100.0}
    share = policy.steps[state.step]
    return {default: 100.0 - share, candidate: share}
