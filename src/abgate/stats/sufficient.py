"""Sufficient statistics: the only inputs the statistics library needs.

A binary metric (a prediction was right, a request failed) is summarised by
:class:`Proportion` (successes, trials); a continuous metric (a strategy return) by
:class:`Moments` (n, sum, sum of squares). Both are frozen and add with ``+``, so shards,
replicas and time slices merge without keeping raw events, exactly as GrowthBook's
``gbstats/models/statistics.py`` does. ``Proportion`` addition is exact integer arithmetic;
``Moments`` addition is float addition, associative up to rounding.

Constructors check for caller mistakes (negative counts, more successes than trials, a sum of
squares too small for the sum) and raise ``ValueError``/``TypeError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from abgate.stats._common import ResultMixin, check_finite, check_int

# Relative slack for the Cauchy–Schwarz check sum² <= n·sum_sq, which rounding can break.
_CS_SLACK = 1e-9


@dataclass(frozen=True)
class Proportion(ResultMixin):
    """``successes`` out of ``trials`` Bernoulli observations."""

    successes: int
    trials: int

    def __post_init__(self) -> None:
        successes = check_int(self.successes, "successes")
        trials = check_int(self.trials, "trials")
        if successes > trials:
            raise ValueError(f"successes ({successes}) cannot exceed trials ({trials})")
        object.__setattr__(self, "successes", successes)
        object.__setattr__(self, "trials", trials)

    def __add__(self, other: object) -> Proportion:
        if not isinstance(other, Proportion):
            return NotImplemented
        return Proportion(self.successes + other.successes, self.trials + other.trials)

    @property
    def failures(self) -> int:
        """``trials - successes``."""
        return self.trials - self.successes

    @property
    def rate(self) -> float:
        """Observed proportion; 0.0 when there are no trials (check ``trials`` first)."""
        return self.successes / self.trials if self.trials else 0.0

    @classmethod
    def from_outcomes(cls, outcomes: ArrayLike) -> Proportion:
        """Summarise an array of 0/1 (or boolean) outcomes."""
        values = np.asarray(outcomes)
        if values.ndim != 1:
            raise ValueError("outcomes must be one-dimensional")
        if values.size and not np.isin(values, (0, 1)).all():
            raise ValueError("outcomes must be 0/1 or boolean")
        return cls(int(np.count_nonzero(values)), int(values.size))


@dataclass(frozen=True)
class Moments(ResultMixin):
    """``n`` observations with their ``sum`` and ``sum_sq`` (sum of squares)."""

    n: int
    sum: float
    sum_sq: float

    def __post_init__(self) -> None:
        n = check_int(self.n, "n")
        total = check_finite(self.sum, "sum")
        sum_sq = check_finite(self.sum_sq, "sum_sq")
        if sum_sq < 0:
            raise ValueError(f"sum_sq must be >= 0, got {sum_sq}")
        if n == 0 and (total != 0.0 or sum_sq != 0.0):
            raise ValueError("n == 0 requires sum == sum_sq == 0")
        if total * total > n * sum_sq * (1 + _CS_SLACK) + _CS_SLACK:
            raise ValueError("inconsistent moments: sum**2 must not exceed n * sum_sq")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "sum", total)
        object.__setattr__(self, "sum_sq", sum_sq)

    def __add__(self, other: object) -> Moments:
        if not isinstance(other, Moments):
            return NotImplemented
        return Moments(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    @property
    def mean(self) -> float:
        """Sample mean; 0.0 when ``n == 0``."""
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Unbiased sample variance (ddof=1); 0.0 when ``n < 2``.

        Computed as (sum_sq - sum²/n)/(n - 1) and clipped at 0, since cancellation can push it
        a hair below zero for near-constant data.
        """
        if self.n < 2:
            return 0.0
        centred = self.sum_sq - self.sum * self.sum / self.n
        return max(centred, 0.0) / (self.n - 1)

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1)."""
        return math.sqrt(self.variance)

    @classmethod
    def from_values(cls, values: ArrayLike) -> Moments:
        """Summarise a one-dimensional array of finite numbers."""
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError("values must be one-dimensional")
        if not np.isfinite(array).all():
            raise ValueError("values must be finite")
        return cls(int(array.size), float(array.sum()), float(np.dot(array, array)))
