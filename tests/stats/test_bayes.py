import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from abgate.stats import Proportion, Reason
from abgate.stats.bayes import (
    BetaPosterior,
    beta_binomial_comparison,
    expected_loss,
    prob_greater,
)

posteriors = st.builds(BetaPosterior, st.integers(1, 400), st.integers(1, 400))


def _quad(f: object) -> float:
    value, _ = integrate.quad(f, 0.0, 1.0, epsabs=1e-14, epsrel=1e-12, limit=500)
    return float(value)


def _prob_greater_by_quadrature(t: BetaPosterior, c: BetaPosterior) -> float:
    return _quad(lambda x: stats.beta.pdf(x, t.a, t.b) * stats.beta.cdf(x, c.a, c.b))


def _loss_by_quadrature(t: BetaPosterior, c: BetaPosterior) -> float:
    # E[max(C − T, 0)] = ∫ f_T(t) ∫_t^1 (c − t) f_C(c) dc dt, inner part in closed form:
    # ∫_t^1 c f_C = μ_C (1 − F_{C+}(t)),  ∫_t^1 t f_C = t (1 − F_C(t)).
    mu_c = c.a / (c.a + c.b)

    def integrand(x: float) -> float:
        inner = mu_c * stats.beta.sf(x, c.a + 1, c.b) - x * stats.beta.sf(x, c.a, c.b)
        return float(stats.beta.pdf(x, t.a, t.b) * inner)

    return _quad(integrand)


@pytest.mark.parametrize(
    ("t", "c"),
    [((30, 50), (25, 52)), ((3, 50), (25, 52)), ((1, 1), (1, 1)), ((120, 80), (118, 85)),
     ((7, 2), (2, 7))],
)  # fmt: skip
def test_prob_greater_and_loss_match_quadrature(t: tuple[int, int], c: tuple[int, int]) -> None:
    bt, bc = BetaPosterior(*t), BetaPosterior(*c)
    assert prob_greater(bt, bc) == pytest.approx(_prob_greater_by_quadrature(bt, bc), abs=1e-9)
    assert expected_loss(bt, bc) == pytest.approx(_loss_by_quadrature(bt, bc), abs=1e-9)


@settings(deadline=None, max_examples=100)
@given(posteriors, posteriors)
def test_prob_greater_is_complementary(t: BetaPosterior, c: BetaPosterior) -> None:
    # Continuous variables: ties have probability zero.
    assert prob_greater(t, c) + prob_greater(c, t) == pytest.approx(1.0, abs=1e-9)
    assert 0.0 <= prob_greater(t, c) <= 1.0


@settings(deadline=None, max_examples=100)
@given(posteriors, posteriors)
def test_losses_differ_by_the_mean_difference(t: BetaPosterior, c: BetaPosterior) -> None:
    # E[max(C−T,0)] − E[max(T−C,0)] = E[C − T].
    assert expected_loss(t, c) - expected_loss(c, t) == pytest.approx(c.mean - t.mean, abs=1e-9)


def test_agrees_with_a_seeded_monte_carlo() -> None:
    rng = np.random.default_rng(20240601)
    result = beta_binomial_comparison(Proportion(480, 1000), Proportion(442, 1000))
    t = rng.beta(481, 521, 400_000)
    c = rng.beta(443, 559, 400_000)
    assert result.prob_candidate_better == pytest.approx(np.mean(t > c), abs=0.005)
    assert result.expected_loss_candidate == pytest.approx(np.maximum(c - t, 0).mean(), abs=2e-4)
    assert result.candidate_mean == pytest.approx(481 / 1002)


def test_large_counts_stay_finite_and_sensible() -> None:
    result = beta_binomial_comparison(Proportion(52_000, 100_000), Proportion(50_000, 100_000))
    assert result.prob_candidate_better > 0.999999
    assert 0.0 <= result.expected_loss_candidate < 1e-9
    assert result.expected_loss_baseline == pytest.approx(0.02, abs=1e-4)


def test_empty_arm_reports_no_data_with_the_prior() -> None:
    result = beta_binomial_comparison(Proportion(0, 0), Proportion(0, 0))
    assert result.reason is Reason.NO_DATA
    assert result.prob_candidate_better == pytest.approx(0.5, abs=1e-12)


def test_posterior_validates_parameters() -> None:
    with pytest.raises(ValueError):
        BetaPosterior(0, 1)
