"""Thompson sampling for traffic allocation, and inverse-propensity estimates under it.

Allocation ("probability matching", Thompson 1933; Chapelle & Li 2011): each arm's share is the
posterior probability that it is the best, under independent Beta(1 + correct, 1 + wrong)
posteriors of accuracy, estimated by ``draws`` joint samples. A floor keeps every arm learning:
share = floor + (1 − k·floor) · P(best). Shares are recomputed in batches (every second or so),
so each request's assignment probability is known exactly and logged as its propensity.

Adaptive allocation biases naive per-arm means (an arm that got lucky early is sampled more just
when it regresses). The Horvitz–Thompson estimate μ̂ₐ = (1/N) Σᵢ 1[Aᵢ = a] · Yᵢ / pᵢ is unbiased
whatever the allocation, as long as pᵢ > 0 is the probability the request had of going to a
(Horvitz & Thompson 1952); the Hájek form divides by Σ 1[Aᵢ = a] / pᵢ instead of N (slightly
biased, lower variance). Both take sufficient statistics: N, Σ Y/p, Σ 1/p, Σ (Y/p)².
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


def thompson_shares(
    successes: Mapping[str, int],
    failures: Mapping[str, int],
    *,
    min_share: float,
    rng: np.random.Generator,
    draws: int = 4000,
) -> dict[str, float]:
    """Traffic share per arm (sums to 1; every arm ≥ ``min_share``)."""
    arms = sorted(successes)
    if not arms:
        raise ValueError("no arms")
    if set(failures) != set(arms):
        raise ValueError("successes and failures must name the same arms")
    k = len(arms)
    if not 0 <= min_share * k <= 1:
        raise ValueError(f"min_share {min_share} is impossible with {k} arms")
    a = np.array([1 + successes[m] for m in arms], dtype=np.float64)
    b = np.array([1 + failures[m] for m in arms], dtype=np.float64)
    samples = rng.beta(a, b, size=(draws, k))
    best = np.bincount(samples.argmax(axis=1), minlength=k) / draws
    shares = min_share + (1 - k * min_share) * best
    return {m: float(s) for m, s in zip(arms, shares, strict=True)}


@dataclass(frozen=True)
class IPWArm:
    """Sufficient statistics of one arm for inverse-propensity estimates."""

    n_total: int  # requests of the whole experiment (all arms)
    sum_y_over_p: float  # Σ over this arm's requests of Y / p
    sum_inv_p: float  # Σ over this arm's requests of 1 / p
    sum_sq_y_over_p: float  # Σ (Y / p)²

    def __add__(self, other: IPWArm) -> IPWArm:
        return IPWArm(
            self.n_total + other.n_total,
            self.sum_y_over_p + other.sum_y_over_p,
            self.sum_inv_p + other.sum_inv_p,
            self.sum_sq_y_over_p + other.sum_sq_y_over_p,
        )

    @property
    def horvitz_thompson(self) -> float | None:
        return self.sum_y_over_p / self.n_total if self.n_total else None

    @property
    def hajek(self) -> float | None:
        return self.sum_y_over_p / self.sum_inv_p if self.sum_inv_p > 0 else None

    @property
    def ht_standard_error(self) -> float | None:
        """SE of the HT mean, treating requests as independent draws."""
        n = self.n_total
        if n < 2:
            return None
        mean = self.sum_y_over_p / n
        var = max(self.sum_sq_y_over_p / n - mean * mean, 0.0)
        return float(np.sqrt(var / n))


def ipw_arms(arms: np.ndarray, propensities: np.ndarray, outcomes: np.ndarray) -> dict[str, IPWArm]:
    """Per-arm IPW statistics from per-request (assigned arm, propensity, outcome)."""
    arms, p, y = np.asarray(arms), np.asarray(propensities, float), np.asarray(outcomes, float)
    if not (len(arms) == len(p) == len(y)):
        raise ValueError("arms, propensities and outcomes differ in length")
    if len(p) and (p.min() <= 0 or p.max() > 1):
        raise ValueError("propensities must lie in (0, 1]")
    out = {}
    for name in np.unique(arms):
        mask = arms == name
        w = y[mask] / p[mask]
        out[str(name)] = IPWArm(
            len(arms), float(w.sum()), float((1 / p[mask]).sum()), float((w * w).sum())
        )
    return out
