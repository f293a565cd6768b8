"""The decision rule: promote, roll back, invalidate or continue an experiment.

Modelled on Spotify's rule (Schultzberg, Ankargren & Frånberg 2024, "Risk-aware product
decisions in A/B tests with multiple metrics"): ship only if the success metric is significantly
better and every guardrail is significantly non-inferior; roll back when something is
significantly harmed; gate everything on a healthy sample ratio. In order of precedence:

1. ``INVALID``  — the SRM check failed: the split is broken, no comparison can be trusted.
2. ``ROLLBACK`` — some candidate has a guardrail ``harmed``, or its primary metric is
   significantly *worse* than the baseline (Holm-adjusted always-valid p ≤ α, running
   confidence sequence below zero).
3. ``PROMOTE``  — some candidate's primary metric is significantly *better* (Holm-adjusted
   always-valid p ≤ α, confidence sequence above zero) and all its guardrails are
   ``non_inferior``. With several, the one with the largest estimate.
4. ``CONTINUE`` — otherwise, with the estimated number of further observations (all arms)
   until the slowest candidate is expected to resolve.

Rollback wins over promote deliberately: a harmful arm is an incident, a better one can wait one
more look. Guardrails are not multiplicity-adjusted (Schultzberg et al. show that adjusting the
false positive rate of non-inferiority tests is unnecessary for this rule).

``reasons`` are machine-readable codes ``code[:candidate[:guardrail]]``: ``srm_mismatch``,
``guardrail_harmed``, ``primary_worse``, ``primary_better``, ``guardrails_non_inferior``,
``guardrail_inconclusive``, ``primary_inconclusive``, ``burn_in``, ``no_data``,
``zero_variance``, ``mde_reached`` (planned power for the MDE reached without a decision).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from abgate.stats._common import Reason, ResultMixin, check_alpha
from abgate.stats.guardrails import GuardrailResult, GuardrailStatus
from abgate.stats.sequential import SequentialState
from abgate.stats.srm import SRMResult


class Verdict(enum.StrEnum):
    """What to do with the experiment now."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"
    INVALID = "invalid"
    CONTINUE = "continue"


@dataclass(frozen=True)
class CandidateEvidence(ResultMixin):
    """What the decision needs to know about one candidate versus the baseline."""

    name: str
    primary: SequentialState
    """Always-valid state of candidate − baseline on the primary metric."""
    adjusted_p_value: float
    """Holm-adjusted always-valid p-value across candidates."""
    guardrails: tuple[GuardrailResult, ...]
    samples_needed: int | None = None
    """Further observations (all arms) until this candidate should resolve; None if unknown."""
    mde_reached: bool = False
    """The comparison already has the planned power for the minimum detectable effect."""


@dataclass(frozen=True)
class Decision(ResultMixin):
    """The verdict, why, and (for CONTINUE) how much more data is likely needed."""

    verdict: Verdict
    reasons: tuple[str, ...]
    samples_needed: int | None
    candidate: str | None
    """The candidate promoted, or the first one rolled back; None otherwise."""


def _significant(evidence: CandidateEvidence, alpha: float) -> int:
    """+1 significantly better, −1 significantly worse, 0 otherwise."""
    if evidence.adjusted_p_value <= alpha:
        return evidence.primary.direction
    return 0


def decide(
    srm: SRMResult, candidates: Sequence[CandidateEvidence], *, alpha: float = 0.05
) -> Decision:
    """Apply the decision rule above. Pure: same inputs, same decision."""
    alpha = check_alpha(alpha)
    if not candidates:
        raise ValueError("decide needs at least one candidate")
    if not srm.healthy:
        return Decision(Verdict.INVALID, ("srm_mismatch",), None, None)

    harmful: list[str] = []
    reasons: list[str] = []
    for ev in candidates:
        for g in ev.guardrails:
            if g.status is GuardrailStatus.HARMED:
                reasons.append(f"guardrail_harmed:{ev.name}:{g.name}")
                harmful.append(ev.name)
        if _significant(ev, alpha) < 0:
            reasons.append(f"primary_worse:{ev.name}")
            harmful.append(ev.name)
    if harmful:
        return Decision(Verdict.ROLLBACK, tuple(reasons), None, harmful[0])

    winners = [
        ev
        for ev in candidates
        if _significant(ev, alpha) > 0
        and all(g.status is GuardrailStatus.NON_INFERIOR for g in ev.guardrails)
    ]
    if winners:
        best = max(winners, key=lambda ev: ev.primary.estimate)
        return Decision(
            Verdict.PROMOTE,
            (f"primary_better:{best.name}", f"guardrails_non_inferior:{best.name}"),
            None,
            best.name,
        )

    needed: list[int] = []
    for ev in candidates:
        state = ev.primary
        if _significant(ev, alpha) > 0:
            reasons.append(f"primary_better:{ev.name}")
        elif state.reason in (Reason.BURN_IN, Reason.NO_DATA, Reason.ZERO_VARIANCE):
            reasons.append(f"{state.reason.value}:{ev.name}")
        else:
            reasons.append(f"primary_inconclusive:{ev.name}")
        if ev.mde_reached:
            reasons.append(f"mde_reached:{ev.name}")
        reasons.extend(
            f"guardrail_inconclusive:{ev.name}:{g.name}"
            for g in ev.guardrails
            if g.status is GuardrailStatus.INCONCLUSIVE
        )
        if ev.samples_needed is not None:
            needed.append(ev.samples_needed)
    return Decision(Verdict.CONTINUE, tuple(reasons), max(needed) if needed else None, None)
