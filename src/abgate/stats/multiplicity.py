"""Multiple comparisons across candidates (A/B/n): Holm's step-down adjustment.

Holm, S. (1979), "A simple sequentially rejective multiple test procedure", Scandinavian
Journal of Statistics 6(2):65–70. Sort the m p-values ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎; the adjusted
value of p₍ᵢ₎ is max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎). Rejecting adjusted p ≤ α controls the
family-wise error rate at α under any dependence. Always-valid p-values are valid p-values at
any stopping time, so the adjustment applies to them unchanged. Matches
``statsmodels.stats.multitest.multipletests(method="holm")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def holm_adjust(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm-adjusted p-values, in the input order."""
    values = [float(p) for p in p_values]
    if any(not (math.isfinite(p) and 0.0 <= p <= 1.0) for p in values):
        raise ValueError("p-values must lie in [0, 1]")
    m = len(values)
    order = sorted(range(m), key=lambda i: values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = running
    return tuple(adjusted)
