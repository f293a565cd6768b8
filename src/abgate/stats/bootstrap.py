"""Seeded percentile bootstrap for latency quantiles (p50, p95).

Quantiles have no simple sufficient statistic, so latency is compared on raw samples (an
upstream reservoir sample keeps them bounded). Each arm is resampled independently with
replacement ``n_resamples`` times; the percentile interval of the resampled statistic is the
interval — Efron, B. & Tibshirani, R. (1993), *An Introduction to the Bootstrap*, ch. 13.
Quantiles use numpy's default (linear, Hyndman & Fan type 7) definition.

The random generator is injected (``numpy.random.Generator``), so results are reproducible.
Resampling is vectorised in chunks of at most ~4 million cells to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from abgate.stats._common import Reason, ResultMixin, check_alpha, check_int

_MAX_CELLS = 4_000_000


@dataclass(frozen=True, eq=False)
class QuantileDraws:
    """Point quantiles of one sample and their bootstrap replicates.

    ``point[j]`` is the ``quantiles[j]`` quantile of the sample; ``draws[i, j]`` the same
    quantile of resample ``i``. An empty sample has ``n == 0`` and zero-row draws.
    """

    quantiles: tuple[float, ...]
    n: int
    point: NDArray[np.float64]
    draws: NDArray[np.float64]


@dataclass(frozen=True)
class QuantileDifference(ResultMixin):
    """Candidate − baseline difference of one quantile, with a percentile interval."""

    q: float
    candidate: float
    baseline: float
    estimate: float
    lower: float
    upper: float
    reason: Reason = Reason.OK


def as_sample(values: ArrayLike, name: str = "sample") -> NDArray[np.float64]:
    """Validate a one-dimensional finite sample and return it as a float64 array."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def bootstrap_quantiles(
    sample: ArrayLike,
    quantiles: Sequence[float],
    *,
    rng: np.random.Generator,
    n_resamples: int = 2000,
) -> QuantileDraws:
    """Resample ``sample`` ``n_resamples`` times and take the given quantiles of each."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    qs = tuple(float(q) for q in quantiles)
    if not qs or any(not 0.0 <= q <= 1.0 for q in qs):
        raise ValueError("quantiles must be a non-empty sequence of numbers in [0, 1]")
    x = as_sample(sample)
    n = int(x.size)
    if n == 0:
        empty = np.zeros(len(qs))
        return QuantileDraws(qs, 0, empty, np.zeros((0, len(qs))))
    point = np.atleast_1d(np.quantile(x, qs))
    draws = np.empty((n_resamples, len(qs)))
    rows = max(1, _MAX_CELLS // n)
    for start in range(0, n_resamples, rows):
        k = min(rows, n_resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        draws[start : start + k] = np.quantile(x[idx], qs, axis=1).T
    return QuantileDraws(qs, n, point, draws)


def _column(draws: QuantileDraws, q: float) -> int:
    try:
        return draws.quantiles.index(q)
    except ValueError:
        raise ValueError(f"quantile {q} was not bootstrapped (have {draws.quantiles})") from None


def difference_from_draws(
    candidate: QuantileDraws, baseline: QuantileDraws, q: float, *, alpha: float = 0.05
) -> QuantileDifference:
    """Percentile interval of candidate − baseline for quantile ``q`` from existing draws."""
    alpha = check_alpha(alpha)
    if candidate.n == 0 or baseline.n == 0:
        return QuantileDifference(q, 0.0, 0.0, 0.0, -math.inf, math.inf, Reason.NO_DATA)
    jc, jb = _column(candidate, q), _column(baseline, q)
    if candidate.draws.shape[0] != baseline.draws.shape[0]:
        raise ValueError("candidate and baseline need the same number of resamples")
    qc, qb = float(candidate.point[jc]), float(baseline.point[jb])
    diffs = candidate.draws[:, jc] - baseline.draws[:, jb]
    lower, upper = np.quantile(diffs, [alpha / 2.0, 1.0 - alpha / 2.0])
    return QuantileDifference(q, qc, qb, qc - qb, float(lower), float(upper))


def quantile_difference(
    candidate: ArrayLike,
    baseline: ArrayLike,
    *,
    q: float,
    rng: np.random.Generator,
    alpha: float = 0.05,
    n_resamples: int = 2000,
) -> QuantileDifference:
    """Bootstrap percentile interval for quantile_q(candidate) − quantile_q(baseline).

    The candidate is resampled first, then the baseline, from the same ``rng``. An empty
    sample gives reason ``no_data`` and an unbounded interval.
    """
    draws_c = bootstrap_quantiles(candidate, [q], rng=rng, n_resamples=n_resamples)
    draws_b = bootstrap_quantiles(baseline, [q], rng=rng, n_resamples=n_resamples)
    return difference_from_draws(draws_c, draws_b, float(q), alpha=alpha)
