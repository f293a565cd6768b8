"""Power for comparing two proportions: minimum detectable effect and required sample size.

The test is the two-sample z-test on the variance-stabilised scale: Cohen's effect size
h = 2·asin(√p_T) − 2·asin(√p_C) has variance 1/n_T + 1/n_C whatever p is (Cohen, J. (1988),
*Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., ch. 6). Power with
n_eff = 1/(1/n_C + 1/n_T) and z = z_{1−α/2} counts both rejection regions:

    power(h) = Φ(h·√n_eff − z) + Φ(−h·√n_eff − z),

the same method as ``statsmodels.stats.power.NormalIndPower`` (with ``nobs1`` the baseline arm
and ``ratio = n_T / n_C``) fed with ``proportion_effectsize``. Fixed-horizon power: the
sequential test needs more data for the same power, see
:func:`abgate.stats.sequential.samples_to_resolve`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats

from abgate.stats._common import (
    ALTERNATIVES,
    Reason,
    ResultMixin,
    check_alpha,
    check_finite,
    check_int,
    check_probability,
)


@dataclass(frozen=True)
class MDE(ResultMixin):
    """Smallest upward effect detectable with the given power at the current sample sizes."""

    baseline_rate: float
    n_baseline: int
    n_candidate: int
    effect_size: float
    """Cohen's h."""
    absolute: float
    """Detectable candidate − baseline difference of proportions (upward)."""
    relative: float
    """``absolute / baseline_rate`` (0 when the baseline rate is 0)."""
    reason: Reason = Reason.OK


@dataclass(frozen=True)
class SampleSize(ResultMixin):
    """Sample sizes per arm needed to detect ``effect`` with the requested power."""

    baseline_rate: float
    effect: float
    effect_size: float
    nobs_baseline: float
    """Unrounded solution (comparable with statsmodels ``solve_power``)."""
    n_baseline: int
    n_candidate: int


def cohens_h(p_candidate: float, p_baseline: float) -> float:
    """h = 2·asin(√p_T) − 2·asin(√p_C)."""
    for name, p in (("p_candidate", p_candidate), ("p_baseline", p_baseline)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {p}")
    return 2.0 * math.asin(math.sqrt(p_candidate)) - 2.0 * math.asin(math.sqrt(p_baseline))


def normal_power(
    effect_size: float,
    n_baseline: float,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> float:
    """Power of the two-sample z-test for a standardised ``effect_size``."""
    alpha = check_alpha(alpha)
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}")
    d = check_finite(effect_size, "effect_size")
    if not (n_baseline > 0 and ratio > 0):
        raise ValueError("n_baseline and ratio must be > 0")
    shift = d * math.sqrt(1.0 / (1.0 / n_baseline + 1.0 / (n_baseline * ratio)))
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    z = float(stats.norm.isf(tail))
    power = 0.0
    if alternative in ("two-sided", "larger"):
        power += float(stats.norm.sf(z - shift))
    if alternative in ("two-sided", "smaller"):
        power += float(stats.norm.cdf(-z - shift))
    return power


def _check_power(power: float, alpha: float) -> float:
    power = check_probability(power, "power")
    if power <= alpha:
        raise ValueError(f"power ({power}) must exceed alpha ({alpha})")
    return power


def minimum_detectable_effect(
    baseline_rate: float,
    n_baseline: int,
    n_candidate: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> MDE:
    """Smallest upward difference of proportions detectable at these sample sizes.

    Solves power(h) = ``power`` for h, then maps back: p_T = sin²(asin(√p_C) + h/2).
    Reasons: ``no_data`` when an arm is empty; ``out_of_range`` when even p_T = 1 is not
    detectable (``absolute`` is then 1 − p_C).
    """
    alpha = check_alpha(alpha)
    power = _check_power(power, alpha)
    p_c = float(baseline_rate)
    if not 0.0 <= p_c <= 1.0:
        raise ValueError(f"baseline_rate must be in [0, 1], got {p_c}")
    n_c = check_int(n_baseline, "n_baseline")
    n_t = check_int(n_candidate, "n_candidate")
    if n_c == 0 or n_t == 0:
        return MDE(p_c, n_c, n_t, 0.0, 0.0, 0.0, Reason.NO_DATA)
    ratio = n_t / n_c

    def gap(h: float) -> float:
        return normal_power(h, n_c, ratio=ratio, alpha=alpha) - power

    hi = 1.0
    while gap(hi) < 0.0:
        hi *= 2.0
    h = float(optimize.brentq(gap, 0.0, hi, xtol=1e-14, rtol=1e-14))
    angle = math.asin(math.sqrt(p_c)) + h / 2.0
    if angle > math.pi / 2.0:
        absolute, reason = 1.0 - p_c, Reason.OUT_OF_RANGE
    else:
        absolute, reason = math.sin(angle) ** 2 - p_c, Reason.OK
    relative = absolute / p_c if p_c > 0 else 0.0
    return MDE(p_c, n_c, n_t, h, absolute, relative, reason)


def sample_size(
    baseline_rate: float,
    effect: float,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
) -> SampleSize:
    """Per-arm sample sizes to detect p_T = p_C + ``effect`` (two-sided test).

    ``ratio = n_T / n_C`` (e.g. 30/70 for a 70/30 split with the baseline on 70). A zero
    effect or a p_T outside [0, 1] is a caller mistake (``ValueError``).
    """
    alpha = check_alpha(alpha)
    power = _check_power(power, alpha)
    effect = check_finite(effect, "effect")
    if effect == 0.0:
        raise ValueError("effect must be non-zero")
    if not ratio > 0:
        raise ValueError("ratio must be > 0")
    p_c = float(baseline_rate)
    h = abs(cohens_h(p_c + effect, p_c))

    def gap(n: float) -> float:
        return normal_power(h, n, ratio=ratio, alpha=alpha) - power

    hi = 2.0
    while gap(hi) < 0.0:
        hi *= 2.0
    nobs = float(optimize.brentq(gap, 1e-9, hi, xtol=1e-12, rtol=1e-14))
    n_c = math.ceil(nobs)
    n_t = math.ceil(nobs * ratio)
    return SampleSize(p_c, effect, h, nobs, n_c, n_t)
