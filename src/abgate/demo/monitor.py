"""Analysis looks during the run, and the snapshots the live view draws.

The always-valid test needs its state carried from look to look (running minimum p-value,
running intersection of the confidence sequence). Two kinds of looks feed one chain, always at a
non-decreasing sample size:

- **checkpoints** every ``look_every`` scored predictions, replayed in the order the client
  scored them: a schedule fixed in advance by count, not by the clock, so the path in the
  report does not depend on how fast the machine was;
- **timed looks** (every ~0.5 s, by the run loop): a full :func:`analyze_experiment` on all data
  so far, which also refreshes the verdict on screen.

Live looks bootstrap latency with fewer resamples (the latency guardrail is fixed-horizon
anyway); the final look uses the configured number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from abgate.demo.snapshot import ModelRow, ScoredPrediction, Snapshot, VerdictLine
from abgate.demo.summary import headline
from abgate.loadgen.arms import ExperimentArms, arm_summaries, assignments
from abgate.loadgen.tally import ClientTally
from abgate.stats import AnalysisConfig, ExperimentAnalysis, Proportion, analyze_experiment
from abgate.stats.proportions import newcombe_interval, wilson_interval
from abgate.stats.sequential import SequentialState, observe

LIVE_RESAMPLES = 200


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _proportion(counts: list[int]) -> Proportion:
    scored, correct = counts
    return Proportion(correct, scored)


class Monitor:
    """Owns the sequential states, the history of looks and the latest analysis."""

    def __init__(
        self,
        arms: ExperimentArms,
        config: AnalysisConfig | None = None,
        *,
        seed: int = 0,
        look_every: int = 25,
    ) -> None:
        self.arms = arms
        self.config = config or AnalysisConfig()
        self.live_config = self.config.model_copy(
            update={"bootstrap_resamples": min(LIVE_RESAMPLES, self.config.bootstrap_resamples)}
        )
        self.rng = np.random.default_rng([seed, 2])
        self.look_every = look_every
        self.states = {
            c: SequentialState.start(self.config.alpha, self.config.n_star, self.config.burn_in)
            for c in arms.candidates
        }
        self.history: list[dict[str, Any]] = []
        self.analysis: ExperimentAnalysis | None = None
        self.routed: dict[str, int] | None = None
        """The gateway's count of requests routed to each arm, once known (final look)."""
        self._replayed = 0
        self._counts = {a: [0, 0] for a in arms.weights}  # arm → [scored, correct] replayed

    def _record(self, candidate: str, elapsed_s: float, kind: str) -> None:
        state = self.states[candidate]
        base = _proportion(self._counts[self.arms.baseline])
        cand = _proportion(self._counts[candidate])
        fixed = newcombe_interval(cand, base, self.config.alpha)
        self.history.append(
            {
                "candidate": candidate,
                "kind": kind,
                "elapsed_s": round(elapsed_s, 3),
                "n": state.n,
                "estimate": state.estimate,
                "lower": _finite(state.lower),
                "upper": _finite(state.upper),
                "p_value": state.p_value,
                "fixed_lower": fixed.lower,
                "fixed_upper": fixed.upper,
                "reason": state.reason.value,
            }
        )

    def _replay(self, tally: ClientTally) -> None:
        order = tally.scored_order
        while self._replayed < len(order):
            model, correct, finished_s = order[self._replayed]
            self._replayed += 1
            if model in self._counts:
                self._counts[model][0] += 1
                self._counts[model][1] += int(correct)
            if self._replayed % self.look_every:
                continue
            base = _proportion(self._counts[self.arms.baseline])
            for c in self.arms.candidates:
                cand = _proportion(self._counts[c])
                self.states[c] = observe(self.states[c], cand, base)
                self._record(c, finished_s, "checkpoint")

    def look(
        self,
        tally: ClientTally,
        elapsed_s: float,
        *,
        final: bool = False,
        routed: dict[str, int] | None = None,
    ) -> ExperimentAnalysis:
        """Replay the checkpoints reached, then analyse everything so far and keep the states.

        ``routed``: the gateway's count of requests routed to each arm (see
        :mod:`abgate.loadgen.arms`); live looks use the client's attribution instead, because
        the gateway also counts requests whose answers are still on their way.
        """
        self._replay(tally)
        if routed is not None:
            self.routed = routed
        self.analysis = analyze_experiment(
            arm_summaries(tally, self.arms, self.routed),
            self.arms.weights,
            self.config if final else self.live_config,
            baseline=self.arms.baseline,
            rng=self.rng,
            states=self.states,
        )
        self.states = self.analysis.states()
        for c in self.arms.candidates:
            self._record(c, elapsed_s, "final" if final else "timed")
        return self.analysis

    def verdict(self) -> VerdictLine | None:
        if self.analysis is None or not self.analysis.comparisons:
            return None
        comparison = self.analysis.comparisons[0]
        state = comparison.sequential
        return VerdictLine(
            verdict=self.analysis.decision.verdict.value,
            headline=headline(self.analysis),
            candidate=comparison.candidate,
            baseline=self.arms.baseline,
            estimate=state.estimate,
            lower=_finite(state.lower),
            upper=_finite(state.upper),
            p_value=comparison.sequential_p_adjusted,
            scored=state.n,
            burn_in=self.config.burn_in,
        )

    def snapshot(
        self, tally: ClientTally, *, target: str, total: int, elapsed_s: float, finished: bool
    ) -> Snapshot:
        routed, failed = assignments(tally, self.arms, self.routed)
        answered = tally.answered
        names = list(self.arms.weights) + [m for m in tally.models if m not in self.arms.weights]
        rows = []
        for name in names:
            t = tally.models.get(name)
            requests = t.answered if t else 0
            lat = np.asarray(t.latencies_ms if t else [], dtype=np.float64)
            q = np.percentile(lat, [50, 95, 99]).tolist() if lat.size else [None] * 3
            acc = wilson_interval(Proportion(t.correct if t else 0, t.scored if t else 0))
            n_routed = routed.get(name, 0)
            rows.append(
                ModelRow(
                    name=name,
                    role="baseline" if name == self.arms.baseline else "candidate",
                    requests=requests,
                    share=requests / answered if answered else 0.0,
                    target_share=self.arms.target_share(name),
                    success_rate=1 - failed.get(name, 0) / n_routed if n_routed else None,
                    fallbacks=t.fallbacks if t else 0,
                    scored=t.scored if t else 0,
                    correct=t.correct if t else 0,
                    accuracy_lower=acc.lower,
                    accuracy_upper=acc.upper,
                    latency_p50=q[0],
                    latency_p95=q[1],
                    latency_p99=q[2],
                )
            )
        recent = tuple(
            ScoredPrediction(
                model=o.model or "?",
                ticker=o.planned.scenario.ticker,
                date=o.planned.scenario.date,
                regime=o.planned.scenario.regime.value,
                truth=o.planned.scenario.truth,
                probability=o.probability if o.probability is not None else math.nan,
            )
            for o in tally.recent
        )
        return Snapshot(
            experiment=self.arms.name,
            target=target,
            done=tally.sent,
            total=total,
            elapsed_s=elapsed_s,
            failures=tally.failures,
            models=tuple(rows),
            recent=recent,
            verdict=self.verdict(),
            finished=finished,
        )
