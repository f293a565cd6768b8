import math

import numpy as np
import pytest

from abgate.stats import GuardrailStatus, Proportion, Reason
from abgate.stats.bootstrap import bootstrap_quantiles
from abgate.stats.guardrails import (
    classify,
    error_rate_guardrail,
    latency_guardrail,
    latency_guardrail_from_draws,
)
from abgate.stats.proportions import newcombe_interval
from abgate.stats.sequential import SequentialState, rho_squared, update


def test_classify() -> None:
    assert classify(-0.02, 0.005, 0.01) is GuardrailStatus.NON_INFERIOR
    assert classify(0.02, 0.05, 0.01) is GuardrailStatus.HARMED
    assert classify(-0.01, 0.02, 0.01) is GuardrailStatus.INCONCLUSIVE


def test_error_rate_statuses() -> None:
    clean = error_rate_guardrail(Proportion(10, 20_000), Proportion(12, 20_000), margin=0.01)
    assert clean.status is GuardrailStatus.NON_INFERIOR and clean.samples_needed is None
    broken = error_rate_guardrail(Proportion(900, 10_000), Proportion(10, 10_000), margin=0.01)
    assert broken.status is GuardrailStatus.HARMED
    early = error_rate_guardrail(Proportion(1, 100), Proportion(0, 100), margin=0.01)
    assert early.status is GuardrailStatus.INCONCLUSIVE
    assert early.samples_needed is not None and early.samples_needed > 0


def test_error_free_arms_still_become_non_inferior() -> None:
    # Zero errors everywhere has zero Wald variance; the Agresti–Caffo adjustment keeps it
    # positive so that enough clean traffic proves non-inferiority.
    result = error_rate_guardrail(Proportion(0, 5000), Proportion(0, 5000), margin=0.01)
    assert result.status is GuardrailStatus.NON_INFERIOR
    assert result.reason is Reason.OK


def test_sequential_error_guardrail_is_the_mixture_interval_on_adjusted_rates() -> None:
    t, c = Proportion(30, 2000), Proportion(20, 3000)
    result = error_rate_guardrail(t, c, margin=0.01, alpha=0.05, n_star=5000)
    a_t, a_c = 31 / 2002, 21 / 3002
    v = a_t * (1 - a_t) / 2002 + a_c * (1 - a_c) / 3002
    state = update(SequentialState.start(0.05, 5000), a_t - a_c, v, 5000)
    assert (result.lower, result.upper) == pytest.approx((state.lower, state.upper), abs=1e-12)
    assert rho_squared(0.05, 5000) > 0


def test_fixed_horizon_variant_uses_newcombe_at_twice_alpha() -> None:
    t, c = Proportion(30, 2000), Proportion(20, 3000)
    result = error_rate_guardrail(t, c, margin=0.01, alpha=0.05, n_star=None)
    ref = newcombe_interval(t, c, 0.10)
    assert (result.lower, result.upper) == (ref.lower, ref.upper)
    sequential = error_rate_guardrail(t, c, margin=0.01, alpha=0.05)
    assert sequential.upper - sequential.lower > result.upper - result.lower


def test_error_rate_guardrail_degenerate_and_invalid() -> None:
    assert error_rate_guardrail(Proportion(0, 0), Proportion(1, 10), margin=0.01).reason is (
        Reason.NO_DATA
    )
    with pytest.raises(ValueError):
        error_rate_guardrail(Proportion(0, 5), Proportion(1, 10), margin=-0.01)


def _latency(seed: int, n: int, scale: float) -> np.ndarray:
    return np.random.default_rng(seed).gamma(4.0, 3.0 * scale, n)


def test_latency_statuses() -> None:
    rng = np.random.default_rng(0)
    same = latency_guardrail(
        _latency(1, 20_000, 1.0), _latency(2, 20_000, 1.0), margin=0.1, rng=rng, n_resamples=500
    )
    assert same.status is GuardrailStatus.NON_INFERIOR
    assert same.lower < 1.0 < same.upper
    slow = latency_guardrail(_latency(1, 5000, 1.5), _latency(2, 5000, 1.0), margin=0.1, rng=rng)
    assert slow.status is GuardrailStatus.HARMED
    assert slow.estimate == pytest.approx(1.5, rel=0.08)
    # Same shape, 6% slower by construction: inside the margin, but 300 requests per arm
    # cannot tell 1.06 from 1.10 yet.
    base = _latency(2, 300, 1.0)
    few = latency_guardrail(base * 1.06, base, margin=0.1, rng=rng)
    assert few.estimate == pytest.approx(1.06)
    assert few.status is GuardrailStatus.INCONCLUSIVE
    assert few.samples_needed is not None and few.samples_needed > 0
    assert few.name == "latency_p95" and few.threshold == pytest.approx(1.1)


def test_latency_guardrail_is_reproducible_and_uses_the_ratio_of_quantiles() -> None:
    cand, base = _latency(3, 500, 1.0), _latency(4, 500, 1.0)
    a = latency_guardrail(cand, base, margin=0.1, rng=np.random.default_rng(7), n_resamples=500)
    b = latency_guardrail(cand, base, margin=0.1, rng=np.random.default_rng(7), n_resamples=500)
    assert a == b
    assert a.estimate == pytest.approx(np.quantile(cand, 0.95) / np.quantile(base, 0.95))


def test_latency_degenerate_and_invalid() -> None:
    rng = np.random.default_rng(0)
    assert latency_guardrail([], [1.0], margin=0.1, rng=rng).reason is Reason.NO_DATA
    zero = latency_guardrail([1.0, 2.0], [0.0, 0.0, 0.0], margin=0.1, rng=rng)
    assert zero.reason is Reason.ZERO_BASELINE and zero.status is GuardrailStatus.INCONCLUSIVE
    assert math.isinf(zero.upper)
    with pytest.raises(ValueError):
        latency_guardrail([-1.0], [1.0], margin=0.1, rng=rng)
    draws = bootstrap_quantiles([1.0, 2.0], [0.5], rng=rng, n_resamples=10)
    with pytest.raises(ValueError):
        latency_guardrail_from_draws(draws, draws, q=0.95, margin=0.1)
