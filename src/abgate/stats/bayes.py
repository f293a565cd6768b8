"""Bayesian view of a binary metric: Beta posteriors, P(candidate > baseline), expected loss.

With a Beta(1, 1) prior the posterior of an arm with ``s`` successes in ``n`` trials is
Beta(1 + s, 1 + n − s). Both quantities below are computed *exactly* (no Monte Carlo), so the
result is deterministic:

* P(X_T > X_C) for independent X_T ~ Beta(a_T, b_T), X_C ~ Beta(a_C, b_C) with integer a_T:
  Σ_{i=0}^{a_T−1} B(a_C + i, b_C + b_T) / ((b_T + i) · B(1 + i, b_T) · B(a_C, b_C)),
  summed in log space (Evan Miller, "Formulas for Bayesian A/B testing", 2015; the identity
  follows from expanding the regularised incomplete beta function of integer order).
* Expected loss of shipping the candidate, E[max(X_C − X_T, 0)], by the size-biasing identity
  x·Beta(a, b)(x) = a/(a+b)·Beta(a+1, b)(x):
  E[X_C·1{X_C>X_T}] − E[X_T·1{X_C>X_T}] = μ_C·P(X_C⁺ > X_T) − μ_T·P(X_C > X_T⁺), where ⁺ adds one
  to the first parameter (Chris Stucchio, "Bayesian A/B testing at VWO", 2015).

The sum has a_T terms (a_T − 1 successes); it is vectorised, and is summed over whichever arm
has fewer, using P(X_T > X_C) = 1 − P(X_C > X_T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from abgate.stats._common import Reason, ResultMixin, check_int
from abgate.stats.sufficient import Proportion


@dataclass(frozen=True)
class BetaPosterior(ResultMixin):
    """Beta(a, b) with integer parameters."""

    a: int
    b: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_int(self.a, "a", minimum=1))
        object.__setattr__(self, "b", check_int(self.b, "b", minimum=1))

    @property
    def mean(self) -> float:
        """Posterior mean a / (a + b)."""
        return self.a / (self.a + self.b)

    @classmethod
    def from_proportion(cls, data: Proportion, prior_a: int = 1, prior_b: int = 1) -> BetaPosterior:
        """Posterior after observing ``data`` under a Beta(prior_a, prior_b) prior."""
        return cls(prior_a + data.successes, prior_b + data.failures)


@dataclass(frozen=True)
class BayesResult(ResultMixin):
    """Posterior comparison of candidate against baseline."""

    candidate_mean: float
    baseline_mean: float
    prob_candidate_better: float
    expected_loss_candidate: float
    """E[max(p_baseline − p_candidate, 0)]: what shipping the candidate costs if wrong."""
    expected_loss_baseline: float
    """E[max(p_candidate − p_baseline, 0)]: what keeping the baseline costs if wrong."""
    reason: Reason = Reason.OK


def _prob_greater_sum(t: BetaPosterior, c: BetaPosterior) -> float:
    i = np.arange(t.a, dtype=np.float64)
    log_terms = (
        special.betaln(c.a + i, c.b + t.b)
        - np.log(t.b + i)
        - special.betaln(1.0 + i, t.b)
        - special.betaln(c.a, c.b)
    )
    return float(np.exp(log_terms).sum())


def prob_greater(t: BetaPosterior, c: BetaPosterior) -> float:
    """P(X_T > X_C) for independent Beta variables, exact for integer parameters."""
    # Sum over the arm with the smaller first parameter: fewer terms.
    value = _prob_greater_sum(t, c) if t.a <= c.a else 1.0 - _prob_greater_sum(c, t)
    return min(1.0, max(0.0, value))


def expected_loss(t: BetaPosterior, c: BetaPosterior) -> float:
    """E[max(X_C − X_T, 0)]: the expected shortfall of choosing T over C."""
    c_plus = BetaPosterior(c.a + 1, c.b)
    t_plus = BetaPosterior(t.a + 1, t.b)
    loss = c.mean * prob_greater(c_plus, t) - t.mean * prob_greater(c, t_plus)
    return max(0.0, loss)


def beta_binomial_comparison(candidate: Proportion, baseline: Proportion) -> BayesResult:
    """Beta(1, 1)-prior comparison; with an empty arm the reason is ``no_data``.

    (The numbers are still the prior's: an empty arm is a uniform posterior.)
    """
    t = BetaPosterior.from_proportion(candidate)
    c = BetaPosterior.from_proportion(baseline)
    reason = Reason.NO_DATA if candidate.trials == 0 or baseline.trials == 0 else Reason.OK
    prob = prob_greater(t, c)
    loss_t = expected_loss(t, c)
    loss_c = expected_loss(c, t)
    return BayesResult(t.mean, c.mean, prob, loss_t, loss_c, reason)
