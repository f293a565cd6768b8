"""Guardrails: one-sided non-inferiority checks that a candidate does not make things worse.

Each guardrail has a margin — the largest harm you accept — and returns one of three statuses
(Spotify's decision rule; Schultzberg, M., Ankargren, S. & Frånberg, M. (2024), "Risk-aware
product decisions in A/B tests with multiple metrics", arXiv:2402.11609):

* ``non_inferior``: the upper confidence bound of the harm is below the margin;
* ``harmed``: the lower confidence bound is above the margin (significantly worse by more
  than you accept);
* ``inconclusive``: the interval straddles the margin — keep collecting data.

Error rate: harm = err_T − err_C, margin absolute (0.01 = one percentage point). By default it
uses the always-valid mixture confidence sequence of :mod:`abgate.stats.sequential` at level α
(safe to check at every look), on the Agresti–Caffo adjusted rates (x+1)/(n+2), so a pair of
error-free arms still has a positive variance (Agresti & Caffo 2000). With ``n_star=None`` it
uses the fixed-horizon Newcombe interval at level 2α (each bound one-sided α) instead.

Latency: harm = q95_T / q95_C, acceptable up to 1 + margin (0.10 = ten percent slower). Uses the
seeded percentile bootstrap of :mod:`abgate.stats.bootstrap`, bounds at α and 1 − α. This one is
fixed-horizon: it is not protected against repeated looks.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from abgate.stats._common import Reason, ResultMixin, check_alpha, check_finite
from abgate.stats.bootstrap import QuantileDraws, as_sample, bootstrap_quantiles
from abgate.stats.proportions import newcombe_interval
from abgate.stats.sequential import (
    DEFAULT_N_STAR,
    halfwidth_factor,
    rho_squared,
    samples_to_resolve,
)
from abgate.stats.sufficient import Proportion


class GuardrailStatus(enum.StrEnum):
    """Outcome of a non-inferiority check."""

    NON_INFERIOR = "non_inferior"
    HARMED = "harmed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class GuardrailResult(ResultMixin):
    """One guardrail's verdict with the interval it was based on."""

    name: str
    status: GuardrailStatus
    estimate: float
    lower: float
    upper: float
    threshold: float
    """The harm boundary: the margin (difference) or 1 + margin (ratio)."""
    method: str
    samples_needed: int | None
    """Estimated additional observations (both arms together) to resolve; None if resolved or
    unknown."""
    reason: Reason = Reason.OK


def classify(lower: float, upper: float, threshold: float) -> GuardrailStatus:
    """non_inferior if upper < threshold, harmed if lower > threshold, else inconclusive."""
    if upper < threshold:
        return GuardrailStatus.NON_INFERIOR
    if lower > threshold:
        return GuardrailStatus.HARMED
    return GuardrailStatus.INCONCLUSIVE


def _check_margin(margin: float) -> float:
    margin = check_finite(margin, "margin")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return margin


def _fixed_needed(n: int, se: float, gap: float, alpha: float) -> int | None:
    """Extra observations until z_{1−α}·SE shrinks (as 1/√n) below ``gap``."""
    if gap <= 0 or se <= 0:
        return None
    target = n * (float(stats.norm.isf(alpha)) * se / gap) ** 2
    return max(1, math.ceil(target - n))


def error_rate_guardrail(
    candidate: Proportion,
    baseline: Proportion,
    *,
    margin: float,
    alpha: float = 0.05,
    n_star: int | None = DEFAULT_N_STAR,
) -> GuardrailResult:
    """Non-inferiority of the candidate's error rate: err_T − err_C < ``margin``."""
    alpha = check_alpha(alpha)
    margin = _check_margin(margin)
    name = "error_rate"
    if candidate.trials == 0 or baseline.trials == 0:
        return GuardrailResult(
            name, GuardrailStatus.INCONCLUSIVE, 0.0, -1.0, 1.0, margin, "none", None, Reason.NO_DATA
        )
    n = candidate.trials + baseline.trials
    a_t = (candidate.successes + 1) / (candidate.trials + 2)
    a_c = (baseline.successes + 1) / (baseline.trials + 2)
    variance = a_t * (1 - a_t) / (candidate.trials + 2) + a_c * (1 - a_c) / (baseline.trials + 2)
    if n_star is None:
        interval = newcombe_interval(candidate, baseline, 2.0 * alpha)
        estimate, lower, upper = interval.estimate, interval.lower, interval.upper
        method = "newcombe"
    else:
        estimate = a_t - a_c
        x = np.asarray(rho_squared(alpha, n_star) * n, dtype=np.float64)
        half = float(halfwidth_factor(x, alpha)) * math.sqrt(variance)
        lower, upper = max(-1.0, estimate - half), min(1.0, estimate + half)
        method = "sequential"
    status = classify(lower, upper, margin)
    needed: int | None = None
    if status is GuardrailStatus.INCONCLUSIVE:
        gap = abs(margin - estimate)
        if n_star is None:
            needed = _fixed_needed(n, math.sqrt(variance), gap, alpha)
        else:
            total = samples_to_resolve(gap, variance * n, alpha=alpha, n_star=n_star)
            needed = None if total is None else max(1, total - n)
    return GuardrailResult(name, status, estimate, lower, upper, margin, method, needed)


def latency_guardrail_from_draws(
    candidate: QuantileDraws,
    baseline: QuantileDraws,
    *,
    q: float = 0.95,
    margin: float,
    alpha: float = 0.05,
) -> GuardrailResult:
    """Latency non-inferiority from precomputed bootstrap draws (see :func:`latency_guardrail`)."""
    alpha = check_alpha(alpha)
    margin = _check_margin(margin)
    name = f"latency_p{round(q * 100):d}"
    threshold = 1.0 + margin
    if candidate.n == 0 or baseline.n == 0:
        return GuardrailResult(
            name,
            GuardrailStatus.INCONCLUSIVE,
            1.0,
            0.0,
            math.inf,
            threshold,
            "bootstrap",
            None,
            Reason.NO_DATA,
        )
    jc, jb = candidate.quantiles.index(q), baseline.quantiles.index(q)
    base_draws = baseline.draws[:, jb]
    base_point = float(baseline.point[jb])
    if base_point <= 0.0 or np.any(base_draws <= 0.0):
        return GuardrailResult(
            name,
            GuardrailStatus.INCONCLUSIVE,
            1.0,
            0.0,
            math.inf,
            threshold,
            "bootstrap",
            None,
            Reason.ZERO_BASELINE,
        )
    ratios = candidate.draws[:, jc] / base_draws
    estimate = float(candidate.point[jc]) / base_point
    lower, upper = (float(v) for v in np.quantile(ratios, [alpha, 1.0 - alpha]))
    status = classify(lower, upper, threshold)
    needed = None
    if status is GuardrailStatus.INCONCLUSIVE:
        se = float(np.std(ratios, ddof=1)) if ratios.size > 1 else 0.0
        needed = _fixed_needed(candidate.n + baseline.n, se, abs(threshold - estimate), alpha)
    return GuardrailResult(name, status, estimate, lower, upper, threshold, "bootstrap", needed)


def latency_guardrail(
    candidate_ms: ArrayLike,
    baseline_ms: ArrayLike,
    *,
    margin: float,
    rng: np.random.Generator,
    q: float = 0.95,
    alpha: float = 0.05,
    n_resamples: int = 2000,
) -> GuardrailResult:
    """Non-inferiority of a latency quantile: q_T / q_C < 1 + ``margin``.

    Latencies must be non-negative. The candidate is resampled first, then the baseline.
    Reasons: ``no_data`` (an empty sample), ``zero_baseline`` (a baseline quantile of 0).
    """
    samples = [as_sample(candidate_ms, "candidate_ms"), as_sample(baseline_ms, "baseline_ms")]
    if any(s.size and s.min() < 0 for s in samples):
        raise ValueError("latencies must be >= 0")
    cand, base = (bootstrap_quantiles(s, [q], rng=rng, n_resamples=n_resamples) for s in samples)
    return latency_guardrail_from_draws(cand, base, q=q, margin=margin, alpha=alpha)
