"""Peeking-safe inference: the normal-mixture sequential probability ratio test (mSPRT).

Reference: Johari, R., Koomen, P., Pekelis, L. & Walsh, D. (2017), "Peeking at A/B tests: why
it matters, and what to do about it", KDD; Johari, R., Pekelis, L. & Walsh, D. (2022), "Always
valid inference: continuous monitoring of A/B tests", Operations Research 70(3):1806–1821.
The tuning of the mixing variance follows GrowthBook's documentation ("Sequential testing",
docs.growthbook.io/statistics/sequential), which uses the same object as Eppo.

For an estimate Δ̂ ≈ N(Δ, v), v = SE², and mixing variance τ², the mixture likelihood ratio
against H0: Δ = θ₀ is

    Λ = sqrt(v/(v+τ²)) · exp(τ²(Δ̂−θ₀)² / (2v(v+τ²))).

By Ville's inequality P(∃n: Λ_n ≥ 1/α) ≤ α under H0, so p_n = min(p_{n−1}, 1/Λ_n) is an
always-valid p-value, and {θ : Λ_n(θ) < 1/α} = Δ̂ ± sqrt(v(v+τ²)/τ² · (2 ln(1/α) + ln((v+τ²)/v)))
is a confidence sequence. Each of those intervals is already uniformly valid; their running
intersection is too, and is never wider.

τ² = ρ²·s², with s² = v·n the per-observation variance (n = observations in both arms) and
ρ² = (−2 ln α + ln(1 − 2 ln α)) / N*, which makes the interval tightest near the planned total
sample size N*. Writing x = ρ²n and z² = (Δ̂−θ₀)²/v, everything depends only on x and z:
ln Λ = −½ ln(1+x) + x z² / (2(1+x)).

State is a frozen :class:`SequentialState`; :func:`update` is pure and returns the next one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from abgate.stats._common import Reason, ResultMixin, check_alpha, check_finite, check_int
from abgate.stats.sufficient import Moments, Proportion

DEFAULT_N_STAR = 5000
_MAX_SAMPLES = 10**12

S = TypeVar("S", Proportion, Moments)


def rho_squared(alpha: float, n_star: float) -> float:
    """ρ² = (−2 ln α + ln(1 − 2 ln α)) / N*."""
    alpha = check_alpha(alpha)
    if not n_star > 0:
        raise ValueError(f"n_star must be > 0, got {n_star}")
    log_a = math.log(alpha)
    return (-2.0 * log_a + math.log(1.0 - 2.0 * log_a)) / float(n_star)


def log_likelihood_ratio(
    z_squared: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.float64]:
    """ln Λ from z² = (Δ̂−θ₀)²/v and x = τ²/v = ρ²n (elementwise, for vectorised use)."""
    result: NDArray[np.float64] = -0.5 * np.log1p(x) + x * z_squared / (2.0 * (1.0 + x))
    return result


def halfwidth_factor(x: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Confidence-sequence half-width divided by SE: sqrt((1+x)/x · (2 ln(1/α) + ln(1+x)))."""
    result: NDArray[np.float64] = np.sqrt((1.0 + x) / x * (-2.0 * math.log(alpha) + np.log1p(x)))
    return result


@dataclass(frozen=True)
class SequentialState(ResultMixin):
    """Everything an always-valid test carries from one look to the next.

    Create with :meth:`start`; advance with :func:`update` or :func:`observe`. ``lower`` and
    ``upper`` are the running confidence sequence (±inf until the first informative look);
    ``p_value`` the running-minimum always-valid p-value for H0: Δ = ``null``.
    """

    alpha: float
    n_star: int
    burn_in: int
    null: float = 0.0
    n: int = 0
    looks: int = 0
    estimate: float = 0.0
    variance: float = 0.0
    p_value: float = 1.0
    lower: float = -math.inf
    upper: float = math.inf
    reason: Reason = Reason.NO_DATA

    @classmethod
    def start(
        cls,
        alpha: float = 0.05,
        n_star: int = DEFAULT_N_STAR,
        burn_in: int = 0,
        null: float = 0.0,
    ) -> SequentialState:
        """A fresh state: no looks, p-value 1, unbounded interval."""
        return cls(
            alpha=check_alpha(alpha),
            n_star=check_int(n_star, "n_star", minimum=1),
            burn_in=check_int(burn_in, "burn_in"),
            null=check_finite(null, "null"),
        )

    @property
    def significant(self) -> bool:
        """True once the always-valid p-value has reached alpha."""
        return self.p_value <= self.alpha

    @property
    def direction(self) -> int:
        """+1 if the running interval lies above ``null``, −1 if below, else 0."""
        if self.lower > self.null:
            return 1
        if self.upper < self.null:
            return -1
        return 0


def update(state: SequentialState, estimate: float, variance: float, n: int) -> SequentialState:
    """Fold one look (cumulative estimate, its variance v = SE², total sample n) into ``state``.

    Looks must be cumulative: ``n`` may not shrink (``ValueError``). Before ``burn_in``
    observations, with ``n == 0`` or with zero variance the inference is left unchanged and
    the reason says why (``burn_in``, ``no_data``, ``zero_variance``).
    """
    estimate = check_finite(estimate, "estimate")
    variance = check_finite(variance, "variance")
    if variance < 0:
        raise ValueError(f"variance must be >= 0, got {variance}")
    n = check_int(n, "n")
    if n < state.n:
        raise ValueError(f"looks must be cumulative: n went from {state.n} to {n}")
    moved = replace(state, n=n, estimate=estimate, variance=variance)
    if n == 0:
        return replace(moved, reason=Reason.NO_DATA)
    if n < state.burn_in:
        return replace(moved, reason=Reason.BURN_IN)
    if variance == 0.0:
        return replace(moved, reason=Reason.ZERO_VARIANCE)
    x = np.asarray(rho_squared(state.alpha, state.n_star) * n, dtype=np.float64)
    z2 = np.asarray((estimate - state.null) ** 2 / variance, dtype=np.float64)
    log_lr = float(log_likelihood_ratio(z2, x))
    p_now = 1.0 if log_lr <= 0.0 else math.exp(-log_lr)
    half = float(halfwidth_factor(x, state.alpha)) * math.sqrt(variance)
    lower = max(state.lower, estimate - half)
    upper = min(state.upper, estimate + half)
    reason = Reason.OK
    if lower > upper:
        lower, upper, reason = state.lower, state.upper, Reason.EMPTY_INTERSECTION
    return replace(
        moved,
        looks=state.looks + 1,
        p_value=min(state.p_value, p_now),
        lower=lower,
        upper=upper,
        reason=reason,
    )


def difference_stats(candidate: S, baseline: S) -> tuple[float, float, int, Reason]:
    """(estimate, variance, n, reason) of candidate − baseline for proportions or moments.

    Unpooled variance: p(1−p)/n per arm for proportions, s²/n per arm for moments.
    """
    if isinstance(candidate, Proportion) and isinstance(baseline, Proportion):
        n_t, n_c = candidate.trials, baseline.trials
        if n_t == 0 or n_c == 0:
            return 0.0, 0.0, n_t + n_c, Reason.NO_DATA
        p_t, p_c = candidate.rate, baseline.rate
        variance = p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c
        return p_t - p_c, variance, n_t + n_c, Reason.OK
    if isinstance(candidate, Moments) and isinstance(baseline, Moments):
        n_t, n_c = candidate.n, baseline.n
        if n_t < 2 or n_c < 2:
            reason = Reason.NO_DATA if min(n_t, n_c) == 0 else Reason.INSUFFICIENT_DATA
            return 0.0, 0.0, n_t + n_c, reason
        variance = candidate.variance / n_t + baseline.variance / n_c
        return candidate.mean - baseline.mean, variance, n_t + n_c, Reason.OK
    raise TypeError("candidate and baseline must both be Proportion or both be Moments")


def observe(state: SequentialState, candidate: S, baseline: S) -> SequentialState:
    """:func:`update` with a cumulative snapshot of both arms' sufficient statistics."""
    estimate, variance, n, reason = difference_stats(candidate, baseline)
    if reason is not Reason.OK:
        if n < state.n:
            raise ValueError(f"looks must be cumulative: n went from {state.n} to {n}")
        return replace(state, n=n, estimate=estimate, variance=variance, reason=reason)
    return update(state, estimate, variance, n)


def sequential_path(
    snapshots: Iterable[tuple[S, S]],
    *,
    alpha: float = 0.05,
    n_star: int = DEFAULT_N_STAR,
    burn_in: int = 0,
    null: float = 0.0,
    state: SequentialState | None = None,
) -> tuple[SequentialState, ...]:
    """Replay time-ordered cumulative ``(candidate, baseline)`` snapshots; one state per look.

    Pass ``state`` to continue from an earlier look instead of starting afresh.
    """
    current = state if state is not None else SequentialState.start(alpha, n_star, burn_in, null)
    path = []
    for candidate, baseline in snapshots:
        current = observe(current, candidate, baseline)
        path.append(current)
    return tuple(path)


def samples_to_resolve(
    gap: float, s2: float, *, alpha: float, n_star: int, z_power: float = 0.0
) -> int | None:
    """Smallest total sample N whose confidence-sequence half-width, plus ``z_power`` standard
    errors, is at most ``gap`` (v = s²/N). None if ``gap <= 0``, ``s2 <= 0`` or beyond 10¹².

    With ``gap`` the distance from the estimate to a boundary (0, a margin) this estimates
    when the sequence will exclude that boundary; ``z_power = z_{power}`` asks for that with
    the given probability when the true effect is ``gap``.
    """
    alpha = check_alpha(alpha)
    if gap <= 0 or s2 <= 0:
        return None
    rho2 = rho_squared(alpha, n_star)

    def total(n: int) -> float:
        x = np.asarray(rho2 * n, dtype=np.float64)
        return (float(halfwidth_factor(x, alpha)) + z_power) * math.sqrt(s2 / n)

    # total() decreases in n for alpha < e^(-1/2), so bisection finds the first n that fits.
    hi = 1
    while total(hi) > gap:
        hi *= 2
        if hi > _MAX_SAMPLES:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if total(mid) <= gap:
            hi = mid
        else:
            lo = mid
    return hi
