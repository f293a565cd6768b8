"""Binary metrics (accuracy, error rate): intervals and tests for proportions.

All comparisons are *candidate − baseline* (pass the candidate first, as statsmodels computes
p1 − p2).

* Wilson score interval for one proportion — Wilson, E. B. (1927), "Probable inference, the law
  of succession, and statistical inference", JASA 22(158):209–212.
* Newcombe's hybrid score interval for a difference (method 10) — Newcombe, R. G. (1998),
  "Interval estimation for the difference between independent proportions: comparison of eleven
  methods", Statistics in Medicine 17(8):873–890.
* Two-proportion z-test. For H0: diff = 0 the pooled variance is right; for H0: diff = margin ≠ 0
  it is not, and the unpooled Agresti–Caffo statistic (statsmodels' default in
  ``test_proportions_2indep``; Agresti & Caffo 2000, The American Statistician 54(4):280–288),
  the plain Wald statistic, or the Miettinen–Nurminen score statistic (Miettinen & Nurminen 1985,
  Statistics in Medicine 4(2):213–226; constrained MLE in closed form from Farrington & Manning
  1990, Statistics in Medicine 9(12):1447–1454) are used instead.
* Relative lift with a delta-method interval (as in GrowthBook's "Statistical details").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import stats

from abgate.stats._common import Reason, ResultMixin, check_alpha, check_alternative, check_finite
from abgate.stats.sufficient import Moments, Proportion

ZMethod = Literal["pooled", "agresti-caffo", "wald", "score"]


@dataclass(frozen=True)
class Interval(ResultMixin):
    """A point estimate with a two-sided ``1 - alpha`` interval."""

    estimate: float
    lower: float
    upper: float
    reason: Reason = Reason.OK


@dataclass(frozen=True)
class ZTest(ResultMixin):
    """A z statistic for H0: candidate − baseline = ``margin``."""

    estimate: float
    statistic: float
    p_value: float
    margin: float
    method: str
    alternative: str
    reason: Reason = Reason.OK


@dataclass(frozen=True)
class Lift(ResultMixin):
    """Relative lift candidate/baseline − 1 with its delta-method standard error."""

    estimate: float
    se: float
    lower: float
    upper: float
    reason: Reason = Reason.OK


def z_quantile(alpha: float) -> float:
    """The two-sided critical value ``z_{1-alpha/2}``."""
    return float(stats.norm.isf(alpha / 2.0))


def normal_p_value(statistic: float, alternative: str) -> float:
    """p-value of a standard-normal statistic for the given alternative."""
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * stats.norm.sf(abs(statistic))))
    if alternative == "larger":
        return float(stats.norm.sf(statistic))
    return float(stats.norm.cdf(statistic))


def wilson_interval(proportion: Proportion, alpha: float = 0.05) -> Interval:
    """Wilson score interval: the proportions p with |p̂ − p| ≤ z·sqrt(p(1−p)/n).

    Solving that quadratic gives centre (p̂ + z²/2n)/(1 + z²/n) and half-width
    z/(1 + z²/n)·sqrt(p̂(1−p̂)/n + z²/4n²). With no trials the interval is [0, 1], reason
    ``no_data``.
    """
    alpha = check_alpha(alpha)
    n = proportion.trials
    if n == 0:
        return Interval(0.0, 0.0, 1.0, Reason.NO_DATA)
    p = proportion.rate
    z = z_quantile(alpha)
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    # The interval always contains p̂ (and reaches 0 or 1 at the extremes); min/max only
    # undo rounding such as a lower bound of 5e-17 for zero successes.
    return Interval(p, max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p)))


def newcombe_interval(candidate: Proportion, baseline: Proportion, alpha: float = 0.05) -> Interval:
    """Newcombe's hybrid score interval (method 10) for candidate − baseline.

    With Wilson limits (l₁, u₁) for the candidate and (l₂, u₂) for the baseline and
    d = p̂₁ − p̂₂: L = d − sqrt((p̂₁−l₁)² + (u₂−p̂₂)²), U = d + sqrt((u₁−p̂₁)² + (p̂₂−l₂)²).
    """
    alpha = check_alpha(alpha)
    if candidate.trials == 0 or baseline.trials == 0:
        return Interval(0.0, -1.0, 1.0, Reason.NO_DATA)
    w1 = wilson_interval(candidate, alpha)
    w2 = wilson_interval(baseline, alpha)
    p1, p2 = candidate.rate, baseline.rate
    d = p1 - p2
    lower = d - math.hypot(p1 - w1.lower, w2.upper - p2)
    upper = d + math.hypot(w1.upper - p1, p2 - w2.lower)
    return Interval(d, max(-1.0, lower), min(1.0, upper))


def _score_restricted(p1: float, n1: int, p2: float, n2: int, delta: float) -> tuple[float, float]:
    """MLE of (p1, p2) under p1 − p2 = delta (Farrington & Manning 1990, closed-form cubic)."""
    theta = n2 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1 + theta * p2 + delta * (theta + 2.0))
    c = delta * delta + delta * (2.0 * p1 + theta + 1.0) + p1 + theta * p2
    d = -p1 * delta * (1.0 + delta)
    v = b**3 / (27.0 * a**3) - b * c / (6.0 * a * a) + d / (2.0 * a)
    u_abs = math.sqrt(max(b * b / (9.0 * a * a) - c / (3.0 * a), 0.0))
    u = math.copysign(u_abs, v)
    cos_arg = 0.0 if u == 0.0 else max(-1.0, min(1.0, v / u**3))
    w = (math.pi + math.acos(cos_arg)) / 3.0
    r1 = 2.0 * u * math.cos(w) - b / (3.0 * a)
    r1 = min(1.0, max(0.0, r1))
    r2 = min(1.0, max(0.0, r1 - delta))
    return r1, r2


def two_proportion_ztest(
    candidate: Proportion,
    baseline: Proportion,
    *,
    margin: float = 0.0,
    alternative: str = "two-sided",
    method: ZMethod | None = None,
) -> ZTest:
    """z-test of H0: p_candidate − p_baseline = ``margin``.

    ``method=None`` picks ``"pooled"`` for a zero margin (identical to statsmodels
    ``proportions_ztest``) and ``"agresti-caffo"`` otherwise (identical to statsmodels'
    default in ``test_proportions_2indep(value=margin)``). ``"score"`` is the
    Miettinen–Nurminen score test with its N/(N−1) variance correction. ``"pooled"`` with a
    non-zero margin is a caller mistake (``ValueError``). Empty arms give reason ``no_data``
    and a zero variance gives ``zero_variance``; both report statistic 0 and p-value 1.
    """
    check_alternative(alternative)
    margin = check_finite(margin, "margin")
    if not -1.0 < margin < 1.0:
        raise ValueError(f"margin must be in (-1, 1), got {margin}")
    if method is None:
        method = "pooled" if margin == 0.0 else "agresti-caffo"
    if method == "pooled" and margin != 0.0:
        raise ValueError("the pooled z-test only tests a zero difference; use another method")
    if method not in ("pooled", "agresti-caffo", "wald", "score"):
        raise ValueError(f"unknown method {method!r}")
    x1, n1, x2, n2 = candidate.successes, candidate.trials, baseline.successes, baseline.trials
    p1, p2 = candidate.rate, baseline.rate
    estimate = p1 - p2

    def degenerate(reason: Reason) -> ZTest:
        return ZTest(estimate, 0.0, 1.0, margin, method, alternative, reason)

    if n1 == 0 or n2 == 0:
        return degenerate(Reason.NO_DATA)
    if method == "pooled":
        pooled = (x1 + x2) / (n1 + n2)
        variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
        diff = estimate
    elif method in ("agresti-caffo", "wald"):
        add = 1 if method == "agresti-caffo" else 0
        a1, a2 = (x1 + add) / (n1 + 2 * add), (x2 + add) / (n2 + 2 * add)
        variance = a1 * (1.0 - a1) / (n1 + 2 * add) + a2 * (1.0 - a2) / (n2 + 2 * add)
        diff = a1 - a2 - margin
    else:
        r1, r2 = _score_restricted(p1, n1, p2, n2, margin)
        variance = (r1 * (1.0 - r1) / n1 + r2 * (1.0 - r2) / n2) * (n1 + n2) / (n1 + n2 - 1)
        diff = estimate - margin
    if variance <= 0.0:
        return degenerate(Reason.ZERO_VARIANCE)
    statistic = diff / math.sqrt(variance)
    p_value = normal_p_value(statistic, alternative)
    return ZTest(estimate, statistic, p_value, margin, method, alternative)


def _mean_var_n(stat: Proportion | Moments) -> tuple[float, float, int]:
    if isinstance(stat, Proportion):
        p = stat.rate
        return p, p * (1.0 - p), stat.trials
    if isinstance(stat, Moments):
        return stat.mean, stat.variance, stat.n
    raise TypeError(f"expected Proportion or Moments, got {type(stat).__name__}")


def relative_lift(
    candidate: Proportion | Moments, baseline: Proportion | Moments, alpha: float = 0.05
) -> Lift:
    """Relative lift μ_T/μ_C − 1 with a delta-method normal interval.

    var = s²_T/(μ_C² n_T) + s²_C μ_T²/(μ_C⁴ n_C), with s² = p(1−p) for proportions and the
    sample variance for moments. Reasons: ``no_data`` (an empty arm), ``zero_baseline``
    (μ_C = 0), ``zero_variance``; degenerate results span [−1, +inf) for proportions and the
    whole line for moments. For proportions the lower bound is clipped at −1 (a rate cannot
    fall by more than 100%).
    """
    alpha = check_alpha(alpha)
    if type(candidate) is not type(baseline):
        raise TypeError("candidate and baseline must be the same kind of statistic")
    mt, vt, nt = _mean_var_n(candidate)
    mc, vc, nc = _mean_var_n(baseline)
    floor = -1.0 if isinstance(candidate, Proportion) else -math.inf
    if nt == 0 or nc == 0:
        return Lift(0.0, 0.0, floor, math.inf, Reason.NO_DATA)
    if mc == 0.0:
        return Lift(0.0, 0.0, floor, math.inf, Reason.ZERO_BASELINE)
    estimate = mt / mc - 1.0
    variance = vt / (mc * mc * nt) + vc * mt * mt / (mc**4 * nc)
    if variance <= 0.0:
        return Lift(estimate, 0.0, floor, math.inf, Reason.ZERO_VARIANCE)
    se = math.sqrt(variance)
    half = z_quantile(alpha) * se
    return Lift(estimate, se, max(floor, estimate - half), estimate + half)
