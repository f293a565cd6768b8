"""One entry point that analyses a whole experiment: :func:`analyze_experiment`.

It combines every module of :mod:`abgate.stats` for one look at the data — per-arm estimates,
candidate-versus-baseline comparisons (fixed-horizon, relative, Bayesian and always-valid),
strategy returns, latency quantiles, guardrails, power, SRM — and ends in a
:class:`~abgate.stats.decision.Decision`. Everything returned is frozen and has ``to_dict()``.

In a live setting, pass the ``states`` of the previous look
(:meth:`ExperimentAnalysis.states`) so the always-valid p-values and confidence sequences keep
their running minimum and intersection; :func:`abgate.stats.sequential.sequential_path`
rebuilds them from a series of cumulative snapshots. Without ``states``, each look is still
valid on its own (it is one member of the confidence sequence), only less sharp.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from abgate.stats._common import ResultMixin
from abgate.stats.bayes import BayesResult, beta_binomial_comparison
from abgate.stats.bootstrap import QuantileDifference, bootstrap_quantiles, difference_from_draws
from abgate.stats.config import AnalysisConfig, ArmSummary
from abgate.stats.decision import CandidateEvidence, Decision, decide
from abgate.stats.guardrails import (
    GuardrailResult,
    GuardrailStatus,
    error_rate_guardrail,
    latency_guardrail_from_draws,
)
from abgate.stats.means import WelchResult, welch
from abgate.stats.multiplicity import holm_adjust
from abgate.stats.power import MDE, SampleSize, minimum_detectable_effect, sample_size
from abgate.stats.proportions import (
    Interval,
    Lift,
    ZTest,
    newcombe_interval,
    relative_lift,
    two_proportion_ztest,
    wilson_interval,
)
from abgate.stats.sequential import SequentialState, observe, samples_to_resolve
from abgate.stats.srm import SRMResult, srm_check


@dataclass(frozen=True)
class ArmReport(ResultMixin):
    """Per-arm estimates."""

    name: str
    weight: float
    assignments: int
    accuracy: Interval
    error_rate: Interval
    returns_mean: float
    returns_std: float
    returns_n: int
    latency_p50: float
    latency_p95: float
    latency_n: int


@dataclass(frozen=True)
class Comparison(ResultMixin):
    """Everything about one candidate versus the baseline."""

    candidate: str
    accuracy_difference: Interval
    accuracy_ztest: ZTest
    accuracy_p_adjusted: float
    accuracy_lift: Lift
    accuracy_bayes: BayesResult
    sequential: SequentialState
    sequential_p_adjusted: float
    returns: WelchResult
    latency_p50: QuantileDifference
    latency_p95: QuantileDifference
    guardrails: tuple[GuardrailResult, ...]
    mde: MDE
    sample_size: SampleSize | None
    samples_needed: int | None


@dataclass(frozen=True)
class ExperimentAnalysis(ResultMixin):
    """The full analysis of one look."""

    baseline: str
    config: dict[str, Any]
    arms: tuple[ArmReport, ...]
    comparisons: tuple[Comparison, ...]
    srm: SRMResult
    decision: Decision

    def states(self) -> dict[str, SequentialState]:
        """Sequential states per candidate, to pass to the next look."""
        return {c.candidate: c.sequential for c in self.comparisons}


def _check_inputs(
    arms: Mapping[str, ArmSummary],
    weights: Mapping[str, float],
    baseline: str,
    config: AnalysisConfig,
    states: Mapping[str, SequentialState],
) -> None:
    if len(arms) < 2:
        raise ValueError("an experiment needs a baseline and at least one candidate")
    if baseline not in arms:
        raise ValueError(f"baseline {baseline!r} is not one of the arms {sorted(arms)}")
    if set(weights) != set(arms):
        raise ValueError("weights must name exactly the arms")
    for name, arm in arms.items():
        if not isinstance(arm, ArmSummary):
            raise TypeError(f"arm {name!r} must be an ArmSummary")
    for name, state in states.items():
        if name not in arms or name == baseline:
            raise ValueError(f"sequential state for unknown candidate {name!r}")
        if (state.alpha, state.n_star, state.burn_in) != (
            config.alpha,
            config.n_star,
            config.burn_in,
        ):
            raise ValueError(f"sequential state of {name!r} was made with another config")


def _primary_needed(
    state: SequentialState, share_t: float, share_c: float, config: AnalysisConfig, m: int
) -> tuple[int | None, bool]:
    """(further pair observations for the primary metric, whether the MDE power is reached).

    s² = v·n from the data once there is variance; before that, the worst case p = ½ with the
    configured split: s² = ¼·(1/f_T + 1/f_C). Bonferroni α/m keeps the plan conservative
    under Holm.
    """
    if state.variance > 0 and state.n > 0:
        s2 = state.variance * state.n
    else:
        s2 = 0.25 * (1.0 / share_t + 1.0 / share_c)
    alpha = config.alpha / m
    total = samples_to_resolve(
        config.min_detectable_effect,
        s2,
        alpha=alpha,
        n_star=config.n_star,
        z_power=float(stats.norm.isf(1.0 - config.power)),
    )
    if total is None:
        return None, False
    total = max(total, config.burn_in)
    if total <= state.n:
        return None, True
    return total - state.n, False


def analyze_experiment(
    arms: Mapping[str, ArmSummary],
    weights: Mapping[str, float],
    config: AnalysisConfig | None = None,
    *,
    baseline: str,
    rng: np.random.Generator,
    states: Mapping[str, SequentialState] | None = None,
) -> ExperimentAnalysis:
    """Analyse one look at an experiment and decide.

    ``arms`` maps arm names to cumulative :class:`ArmSummary` (insertion order is kept in the
    output and fixes the order in which ``rng`` is used); ``weights`` the configured traffic
    weights; ``baseline`` names the default model, every other arm is a candidate. ``states``
    are the previous look's sequential states per candidate (see the module docstring).
    """
    config = config if config is not None else AnalysisConfig()
    states = dict(states or {})
    _check_inputs(arms, weights, baseline, config, states)
    names = list(arms)
    candidates = [n for n in names if n != baseline]
    qs = sorted({0.5, config.latency_quantile})
    draws = {
        n: bootstrap_quantiles(
            arms[n].latency_ms, qs, rng=rng, n_resamples=config.bootstrap_resamples
        )
        for n in names
    }
    reports = tuple(
        ArmReport(
            n,
            float(weights[n]),
            arms[n].assignments,
            wilson_interval(arms[n].accuracy, config.alpha),
            wilson_interval(arms[n].errors, config.alpha),
            arms[n].returns.mean,
            arms[n].returns.std,
            arms[n].returns.n,
            float(draws[n].point[qs.index(0.5)]),
            float(draws[n].point[qs.index(config.latency_quantile)]),
            draws[n].n,
        )
        for n in names
    )
    srm = srm_check(
        [arms[n].assignments for n in names],
        [weights[n] for n in names],
        threshold=config.srm_threshold,
    )
    base = arms[baseline]
    alpha = config.alpha
    total_weight = sum(float(weights[n]) for n in names)
    seq = {
        c: observe(
            states.get(c, SequentialState.start(alpha, config.n_star, config.burn_in)),
            arms[c].accuracy,
            base.accuracy,
        )
        for c in candidates
    }
    ztests = {c: two_proportion_ztest(arms[c].accuracy, base.accuracy) for c in candidates}
    p_fixed = dict(
        zip(candidates, holm_adjust([ztests[c].p_value for c in candidates]), strict=True)
    )
    p_seq = dict(zip(candidates, holm_adjust([seq[c].p_value for c in candidates]), strict=True))

    comparisons = []
    evidence = []
    for c in candidates:
        arm = arms[c]
        guardrails = (
            error_rate_guardrail(
                arm.errors,
                base.errors,
                margin=config.error_rate_margin,
                alpha=alpha,
                n_star=config.n_star,
            ),
            latency_guardrail_from_draws(
                draws[c],
                draws[baseline],
                q=config.latency_quantile,
                margin=config.latency_margin,
                alpha=alpha,
            ),
        )
        share_t = float(weights[c]) / (float(weights[c]) + float(weights[baseline]))
        primary_done = p_seq[c] <= alpha and seq[c].direction != 0
        primary_needed, mde_reached = (
            (0, False)
            if primary_done
            else _primary_needed(seq[c], share_t, 1.0 - share_t, config, len(candidates))
        )
        pair_needs = [primary_needed] + [
            g.samples_needed for g in guardrails if g.status is GuardrailStatus.INCONCLUSIVE
        ]
        known = [k for k in pair_needs if k is not None]
        pair_share = (float(weights[c]) + float(weights[baseline])) / total_weight
        needed = math.ceil(max(known) / pair_share) if known and max(known) > 0 else None
        p_base = base.accuracy.rate if base.accuracy.trials else 0.5
        planned = None
        if 0.0 <= p_base + config.min_detectable_effect <= 1.0:
            planned = sample_size(
                p_base,
                config.min_detectable_effect,
                ratio=float(weights[c]) / float(weights[baseline]),
                alpha=alpha,
                power=config.power,
            )
        comparisons.append(
            Comparison(
                candidate=c,
                accuracy_difference=newcombe_interval(arm.accuracy, base.accuracy, alpha),
                accuracy_ztest=ztests[c],
                accuracy_p_adjusted=p_fixed[c],
                accuracy_lift=relative_lift(arm.accuracy, base.accuracy, alpha),
                accuracy_bayes=beta_binomial_comparison(arm.accuracy, base.accuracy),
                sequential=seq[c],
                sequential_p_adjusted=p_seq[c],
                returns=welch(arm.returns, base.returns, alpha=alpha),
                latency_p50=difference_from_draws(draws[c], draws[baseline], 0.5, alpha=alpha),
                latency_p95=difference_from_draws(
                    draws[c], draws[baseline], config.latency_quantile, alpha=alpha
                ),
                guardrails=guardrails,
                mde=minimum_detectable_effect(
                    p_base,
                    base.accuracy.trials,
                    arm.accuracy.trials,
                    alpha=alpha,
                    power=config.power,
                ),
                sample_size=planned,
                samples_needed=needed,
            )
        )
        evidence.append(CandidateEvidence(c, seq[c], p_seq[c], guardrails, needed, mde_reached))

    decision = decide(srm, evidence, alpha=alpha)
    return ExperimentAnalysis(
        baseline, config.model_dump(), reports, tuple(comparisons), srm, decision
    )
