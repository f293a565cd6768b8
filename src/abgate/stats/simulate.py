"""Simulated A/A experiments: why peeking at a fixed-horizon test is wrong.

Both arms draw from the same Bernoulli(p), so every rejection is a false positive. At each of
``looks`` evenly spaced looks we run the naive fixed-horizon pooled z-test at level α and the
always-valid mSPRT of :mod:`abgate.stats.sequential`, and report, per look k, the share of
simulations that have rejected *at any look up to k* — what an experimenter who stops at the
first significant result experiences. The naive rate climbs well above α with the number of
looks (Armitage, McPherson & Rowe (1969), "Repeated significance tests on accumulating data",
JRSS A 132(2):235–244; Johari et al. 2017); the always-valid one stays below α.

Everything is vectorised over simulations × looks with numpy, and the random generator is
injected, so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from abgate.stats._common import ResultMixin, check_alpha, check_int, check_probability
from abgate.stats.sequential import log_likelihood_ratio, rho_squared


@dataclass(frozen=True)
class AAResult(ResultMixin):
    """Cumulative false-positive rates by look (index k = after look k + 1)."""

    simulations: int
    looks: int
    n_per_look: int
    alpha: float
    p: float
    n_star: int
    naive_fpr: tuple[float, ...]
    always_valid_fpr: tuple[float, ...]

    @property
    def standard_error(self) -> float:
        """Monte Carlo standard error of a rate equal to alpha: sqrt(α(1−α)/simulations)."""
        return math.sqrt(self.alpha * (1.0 - self.alpha) / self.simulations)


def simulate_aa(
    simulations: int,
    looks: int,
    n_per_look: int,
    alpha: float,
    rng: np.random.Generator,
    *,
    p: float = 0.5,
    n_star: int | None = None,
    burn_in: int = 0,
) -> AAResult:
    """Simulate ``simulations`` A/A tests with ``looks`` looks of ``n_per_look`` per arm each.

    ``n_star`` defaults to the planned total sample, 2·looks·n_per_look; ``burn_in`` is the
    total sample (both arms) before the always-valid test may reject.
    """
    simulations = check_int(simulations, "simulations", minimum=1)
    looks = check_int(looks, "looks", minimum=1)
    n_per_look = check_int(n_per_look, "n_per_look", minimum=1)
    alpha = check_alpha(alpha)
    p = check_probability(p, "p")
    burn_in = check_int(burn_in, "burn_in")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    planned = 2 * looks * n_per_look
    n_star = planned if n_star is None else check_int(n_star, "n_star", minimum=1)

    successes = rng.binomial(n_per_look, p, size=(simulations, looks, 2)).cumsum(axis=1)
    n_arm = n_per_look * np.arange(1, looks + 1, dtype=np.float64)
    rates = successes / n_arm[None, :, None]
    diff = rates[..., 0] - rates[..., 1]

    pooled = successes.sum(axis=2) / (2.0 * n_arm)
    var_pooled = pooled * (1.0 - pooled) * (2.0 / n_arm)
    z2_naive = np.divide(diff**2, var_pooled, out=np.zeros_like(diff), where=var_pooled > 0)
    naive = z2_naive > float(stats.norm.isf(alpha / 2.0)) ** 2

    var = (rates * (1.0 - rates)).sum(axis=2) / n_arm
    z2 = np.divide(diff**2, var, out=np.zeros_like(diff), where=var > 0)
    n_total = 2.0 * n_arm
    x = np.broadcast_to(rho_squared(alpha, n_star) * n_total, z2.shape)
    valid = log_likelihood_ratio(z2, x) >= -math.log(alpha)
    valid &= (var > 0) & (n_total >= burn_in)[None, :]

    naive_ever = np.logical_or.accumulate(naive, axis=1).mean(axis=0)
    valid_ever = np.logical_or.accumulate(valid, axis=1).mean(axis=0)
    return AAResult(
        simulations,
        looks,
        n_per_look,
        alpha,
        p,
        n_star,
        tuple(float(v) for v in naive_ever),
        tuple(float(v) for v in valid_ever),
    )


AA_TABLE_HEADER = ("look", "n per arm", "naive z-test", "always-valid")


def format_aa_table(result: AAResult) -> list[tuple[str, ...]]:
    """Rows for a table: the header :data:`AA_TABLE_HEADER`, then one row per look.

    Rates are "ever rejected by this look", as percentages with one decimal.
    """
    rows: list[tuple[str, ...]] = [AA_TABLE_HEADER]
    for k, (naive, valid) in enumerate(
        zip(result.naive_fpr, result.always_valid_fpr, strict=True), start=1
    ):
        rows.append((str(k), str(k * result.n_per_look), f"{naive:.1%}", f"{valid:.1%}"))
    return rows
