"""Continuous metrics over :class:`~abgate.stats.sufficient.Moments`.

* Welch's unequal-variance t interval and test for a difference of means, with the
  Welch–Satterthwaite degrees of freedom — Welch, B. L. (1947), "The generalization of
  'Student's' problem when several different population variances are involved",
  Biometrika 34:28–35; Satterthwaite, F. E. (1946), Biometrics Bulletin 2(6):110–114.
  Matches ``scipy.stats.ttest_ind(equal_var=False)``.
* The strategy-return helper that turns model outputs and realised next-day returns into
  Moments: a long/short position on the predicted direction, minus a per-trade cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from abgate.stats._common import (
    Reason,
    ResultMixin,
    check_alpha,
    check_alternative,
    check_finite,
)
from abgate.stats.sufficient import Moments


@dataclass(frozen=True)
class WelchResult(ResultMixin):
    """Welch comparison of candidate − baseline means."""

    estimate: float
    se: float
    df: float
    statistic: float
    p_value: float
    lower: float
    upper: float
    alternative: str = "two-sided"
    reason: Reason = Reason.OK


def welch(
    candidate: Moments,
    baseline: Moments,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> WelchResult:
    """Welch t interval and test for mean(candidate) − mean(baseline).

    SE² = s²_T/n_T + s²_C/n_C, df = SE⁴ / ((s²_T/n_T)²/(n_T−1) + (s²_C/n_C)²/(n_C−1)).
    The interval is two-sided ``1 - alpha`` for ``"two-sided"`` and one-sided otherwise (as
    scipy reports it). Reasons: ``no_data`` (an empty arm), ``insufficient_data`` (an arm with
    one observation), ``zero_variance`` (both arms constant); those report statistic 0,
    p-value 1 and an unbounded interval.
    """
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    estimate = candidate.mean - baseline.mean

    def degenerate(reason: Reason) -> WelchResult:
        return WelchResult(estimate, 0.0, 0.0, 0.0, 1.0, -math.inf, math.inf, alternative, reason)

    if candidate.n == 0 or baseline.n == 0:
        return degenerate(Reason.NO_DATA)
    if candidate.n < 2 or baseline.n < 2:
        return degenerate(Reason.INSUFFICIENT_DATA)
    vt = candidate.variance / candidate.n
    vc = baseline.variance / baseline.n
    variance = vt + vc
    if variance <= 0.0:
        return degenerate(Reason.ZERO_VARIANCE)
    df = variance * variance / (vt * vt / (candidate.n - 1) + vc * vc / (baseline.n - 1))
    se = math.sqrt(variance)
    statistic = estimate / se
    if alternative == "two-sided":
        p_value = float(min(1.0, 2.0 * stats.t.sf(abs(statistic), df)))
        half = float(stats.t.isf(alpha / 2.0, df)) * se
        lower, upper = estimate - half, estimate + half
    elif alternative == "larger":
        p_value = float(stats.t.sf(statistic, df))
        lower, upper = estimate - float(stats.t.isf(alpha, df)) * se, math.inf
    else:
        p_value = float(stats.t.cdf(statistic, df))
        lower, upper = -math.inf, estimate + float(stats.t.isf(alpha, df)) * se
    return WelchResult(estimate, se, df, statistic, p_value, lower, upper, alternative)


def strategy_returns(
    probabilities: ArrayLike,
    next_returns: ArrayLike,
    *,
    threshold: float = 0.5,
    cost_bps: float = 0.0,
) -> Moments:
    """Per-prediction strategy returns as Moments.

    For a predicted probability ``p`` of an up move and the realised next-day return ``ret``,
    the position is long when ``p > threshold`` and short otherwise, so the return is
    ``+ret`` or ``−ret``, minus ``cost_bps / 1e4`` for the trade. Returns are simple
    fractions (0.01 is one percent). Both arrays must be one-dimensional, of equal length and
    finite; probabilities must lie in [0, 1].
    """
    p = np.asarray(probabilities, dtype=np.float64)
    r = np.asarray(next_returns, dtype=np.float64)
    if p.ndim != 1 or r.ndim != 1:
        raise ValueError("probabilities and next_returns must be one-dimensional")
    if p.shape != r.shape:
        raise ValueError(f"length mismatch: {p.size} probabilities, {r.size} returns")
    if not (np.isfinite(p).all() and np.isfinite(r).all()):
        raise ValueError("probabilities and next_returns must be finite")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("probabilities must lie in [0, 1]")
    threshold = check_finite(threshold, "threshold")
    cost = check_finite(cost_bps, "cost_bps") / 1e4
    if cost < 0:
        raise ValueError("cost_bps must be >= 0")
    position = np.where(p > threshold, 1.0, -1.0)
    return Moments.from_values(position * r - cost)
