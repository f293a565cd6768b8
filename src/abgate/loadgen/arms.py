"""From the client's tallies to the sufficient statistics the statistics engine decides on.

Which arm a request was *routed* to matters for the sample-ratio check and the error-rate
guardrail, and an answer does not always say: a fallback answer names the default model that
rescued it, and a failed request names no model at all. Two sources, best first:

- the gateway's own count (``assigned`` in ``GET /v2/experiments/{name}``, the router's choice
  before any fallback), as a difference over the run: exact; the failures of an arm are then the
  requests routed to it that it did not answer itself;
- the client alone (a Seldon mesh has no such endpoint): answers not served as a fallback count
  for their model; fallback answers are attributed to the one candidate of an A/B experiment
  (fallbacks go to the default model, so the failed arm can only be the candidate); failed
  requests stay unattributed (they count in the overall error rate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from abgate.loadgen.tally import ClientTally, ModelTally
from abgate.stats import ArmSummary, Proportion, strategy_returns

COST_BPS = 5.0
"""Cost of one one-day trade in the strategy metric, in basis points (as in model training)."""


@dataclass(frozen=True)
class ExperimentArms:
    """The arms of the experiment under test: names, weights and the baseline (default)."""

    name: str
    baseline: str
    weights: Mapping[str, float]

    @property
    def candidates(self) -> list[str]:
        return [a for a in self.weights if a != self.baseline]

    def target_share(self, arm: str) -> float:
        total = sum(self.weights.values())
        return self.weights.get(arm, 0.0) / total if total else 0.0

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> ExperimentArms:
        """From ``GET /v2/experiments/{name}``; the default (else the heaviest arm) is baseline."""
        weights = {str(v["model"]): float(v["weight"]) for v in status["variants"]}
        if len(weights) < 2:
            raise ValueError(f"experiment {status.get('name')!r} has fewer than two variants")
        baseline = status.get("default") or max(weights, key=lambda m: (weights[m], m))
        return cls(str(status["name"]), str(baseline), weights)


def assignments(
    tally: ClientTally, arms: ExperimentArms, routed: Mapping[str, int] | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """(requests routed to each arm, of those the arm did not answer itself).

    ``routed`` is the gateway's count over the run when known (see the module docstring);
    otherwise the client's attribution is used.
    """
    own = {
        a: (tally.models[a].answered - tally.models[a].fallbacks) if a in tally.models else 0
        for a in arms.weights
    }
    if routed is not None:
        counts = {a: int(routed.get(a, 0)) for a in arms.weights}
        return counts, {a: max(0, counts[a] - own[a]) for a in arms.weights}
    failed = dict.fromkeys(arms.weights, 0)
    if len(arms.candidates) == 1:
        away = sum(t.fallbacks for t in tally.models.values())
        own[arms.candidates[0]] += away
        failed[arms.candidates[0]] = away
    return own, failed


def arm_summaries(
    tally: ClientTally,
    arms: ExperimentArms,
    routed: Mapping[str, int] | None = None,
    *,
    cost_bps: float = COST_BPS,
) -> dict[str, ArmSummary]:
    """Sufficient statistics per arm for :func:`abgate.stats.analyze_experiment`, baseline first.

    Accuracy is correct/scored; the error rate counts requests routed to the arm that it did not
    answer itself (see :func:`assignments`); returns are the one-day long/short strategy returns net
    of ``cost_bps``; latency is every client-side latency of the arm's answers.
    """
    counts, failed = assignments(tally, arms, routed)
    out: dict[str, ArmSummary] = {}
    for arm in [arms.baseline, *arms.candidates]:
        t = tally.models.get(arm, ModelTally(arm))
        out[arm] = ArmSummary(
            assignments=counts[arm],
            accuracy=Proportion(t.correct, t.scored),
            errors=Proportion(failed[arm], max(counts[arm], failed[arm])),
            returns=strategy_returns(t.probabilities, t.next_returns, cost_bps=cost_bps),
            latency_ms=np.asarray(t.latencies_ms, dtype=np.float64),
        )
    return out
