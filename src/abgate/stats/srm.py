"""Sample ratio mismatch (SRM): are arms receiving the traffic shares they were configured for?

Pearson's χ² goodness-of-fit statistic of the observed assignment counts against the counts the
configured weights imply, with k − 1 degrees of freedom — Pearson, K. (1900), Philosophical
Magazine 50(302):157–175. A mismatch signals a broken splitter, sticky-session leak or biased
logging, which invalidates every comparison; GrowthBook, Eppo and Statsig flag it at
p < 0.001 (Fabijan et al. 2019, "Diagnosing sample ratio mismatch in online controlled
experiments", KDD).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from abgate.stats._common import Reason, ResultMixin, check_int, check_probability

DEFAULT_SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SRMResult(ResultMixin):
    """Outcome of the SRM check; ``healthy`` is False when ``p_value < threshold``."""

    statistic: float
    df: int
    p_value: float
    healthy: bool
    threshold: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    reason: Reason = Reason.OK


def srm_check(
    counts: Sequence[int],
    weights: Sequence[float],
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SRMResult:
    """χ² = Σ (O_i − E_i)² / E_i with E_i = N·w_i/Σw, k − 1 degrees of freedom.

    ``weights`` need not sum to one but must be positive and finite (an arm with weight zero
    is not part of the experiment). With no assignments at all the result is healthy with
    reason ``no_data``.
    """
    threshold = check_probability(threshold, "threshold")
    observed = tuple(check_int(c, "count") for c in counts)
    if len(observed) != len(weights):
        raise ValueError(f"{len(observed)} counts but {len(weights)} weights")
    if len(observed) < 2:
        raise ValueError("an SRM check needs at least two arms")
    w = [float(x) for x in weights]
    if any(not (math.isfinite(x) and x > 0) for x in w):
        raise ValueError("weights must be positive and finite")
    total = sum(observed)
    df = len(observed) - 1
    if total == 0:
        zeros = tuple(0.0 for _ in observed)
        return SRMResult(0.0, df, 1.0, True, threshold, observed, zeros, Reason.NO_DATA)
    weight_sum = sum(w)
    expected = tuple(total * x / weight_sum for x in w)
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = float(stats.chi2.sf(statistic, df))
    return SRMResult(statistic, df, p_value, p_value >= threshold, threshold, observed, expected)
