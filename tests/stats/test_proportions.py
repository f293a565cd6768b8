import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from statsmodels.stats import proportion as smp
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from abgate.stats import Moments, Proportion, Reason
from abgate.stats.proportions import (
    _score_restricted,
    newcombe_interval,
    relative_lift,
    two_proportion_ztest,
    wilson_interval,
)

from .strategies import proportions

TOL = 1e-9
PROPERTY = settings(deadline=None, max_examples=150)
nonempty = proportions(max_trials=5000).filter(lambda p: p.trials > 0)
alphas = st.sampled_from([0.01, 0.05, 0.1, 0.2])


def test_pooled_ztest_golden_value() -> None:
    result = two_proportion_ztest(Proportion(5, 83), Proportion(12, 99))
    assert result.statistic == pytest.approx(-1.4078304151258787, abs=TOL)
    assert result.p_value == pytest.approx(0.15918129181156992, abs=TOL)
    assert result.method == "pooled"


@PROPERTY
@given(nonempty, nonempty, st.sampled_from(["two-sided", "larger", "smaller"]))
def test_pooled_ztest_matches_statsmodels(a: Proportion, b: Proportion, alternative: str) -> None:
    ours = two_proportion_ztest(a, b, alternative=alternative)
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    if pooled in (0.0, 1.0):
        assert ours.reason is Reason.ZERO_VARIANCE and ours.p_value == 1.0
        return
    z, p = proportions_ztest(
        [a.successes, b.successes], [a.trials, b.trials], alternative=alternative
    )
    assert ours.statistic == pytest.approx(z, abs=TOL)
    assert ours.p_value == pytest.approx(p, abs=TOL)


def test_newcombe_golden_value() -> None:
    ours = newcombe_interval(Proportion(7, 34), Proportion(1, 34))
    low, upp = confint_proportions_2indep(7, 34, 1, 34, method="newcomb", compare="diff")
    assert (ours.lower, ours.upper) == pytest.approx((low, upp), abs=TOL)
    assert (round(ours.lower, 4), round(ours.upper, 4)) == (0.0189, 0.3404)


@PROPERTY
@given(nonempty, nonempty, alphas)
def test_newcombe_matches_statsmodels(a: Proportion, b: Proportion, alpha: float) -> None:
    ours = newcombe_interval(a, b, alpha)
    low, upp = confint_proportions_2indep(
        a.successes, a.trials, b.successes, b.trials, method="newcomb", compare="diff",
        alpha=alpha,
    )  # fmt: skip
    assert (ours.lower, ours.upper) == pytest.approx((low, upp), abs=TOL)


@PROPERTY
@given(nonempty, alphas)
def test_wilson_matches_statsmodels(p: Proportion, alpha: float) -> None:
    ours = wilson_interval(p, alpha)
    low, upp = proportion_confint(p.successes, p.trials, alpha=alpha, method="wilson")
    assert (ours.lower, ours.upper) == pytest.approx((low, upp), abs=TOL)


@pytest.mark.parametrize("method", ["agresti-caffo", "wald"])
@pytest.mark.parametrize("margin", [-0.1, -0.02, 0.0, 0.03, 0.2])
@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_margin_ztest_matches_statsmodels(method: str, margin: float, alternative: str) -> None:
    ours = two_proportion_ztest(
        Proportion(40, 100), Proportion(30, 90), margin=margin, method=method,  # type: ignore[arg-type]
        alternative=alternative,
    )  # fmt: skip
    ref = smp.test_proportions_2indep(
        40, 100, 30, 90, value=margin, method=method, alternative=alternative
    )
    assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)


def test_default_for_a_margin_is_statsmodels_default() -> None:
    ours = two_proportion_ztest(Proportion(120, 400), Proportion(95, 380), margin=0.02)
    ref = smp.test_proportions_2indep(120, 400, 95, 380, value=0.02)  # method=None
    assert ref.method == "agresti-caffo" and ours.method == "agresti-caffo"
    assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)


def test_score_test_at_zero_margin_matches_statsmodels() -> None:
    ours = two_proportion_ztest(Proportion(40, 100), Proportion(30, 90), method="score")
    ref = smp.test_proportions_2indep(40, 100, 30, 90, value=0, method="score")
    assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "delta"),
    [(40, 100, 30, 90, -0.1), (40, 100, 30, 90, 0.05), (7, 34, 1, 34, 0.2), (5, 83, 12, 99, 0.03),
     (0, 50, 3, 60, -0.02)],
)  # fmt: skip
def test_score_restricted_mle_maximises_the_constrained_likelihood(
    x1: int, n1: int, x2: int, n2: int, delta: float
) -> None:
    # statsmodels <= 0.15 has a wrong cubic coefficient here (statsmodels issue #10269), so
    # the check is against the score equation itself: d/dp2 loglik(p2 + delta, p2) = 0.
    r1, r2 = _score_restricted(x1 / n1, n1, x2 / n2, n2, delta)
    assert r1 - r2 == pytest.approx(delta, abs=1e-12)

    def score(q: float) -> float:
        p = q + delta
        return (x1 - n1 * p) / (p * (1 - p)) + (x2 - n2 * q) / (q * (1 - q))

    eps = 1e-12
    lo, hi = max(0.0, -delta) + eps, min(1.0, 1.0 - delta) - eps
    root = optimize.brentq(score, lo, hi, xtol=1e-15)
    assert r2 == pytest.approx(root, abs=1e-9)


def test_score_test_statistic_uses_restricted_variance_with_mn_correction() -> None:
    a, b, delta = Proportion(40, 100), Proportion(30, 90), 0.05
    r1, r2 = _score_restricted(a.rate, a.trials, b.rate, b.trials, delta)
    var = (r1 * (1 - r1) / 100 + r2 * (1 - r2) / 90) * 190 / 189
    ours = two_proportion_ztest(a, b, margin=delta, method="score")
    assert ours.statistic == pytest.approx((a.rate - b.rate - delta) / math.sqrt(var), abs=TOL)


def test_pooled_method_with_margin_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="pooled"):
        two_proportion_ztest(Proportion(1, 2), Proportion(1, 2), margin=0.1, method="pooled")
    with pytest.raises(ValueError, match="alternative"):
        two_proportion_ztest(Proportion(1, 2), Proportion(1, 2), alternative="bigger")


def test_degenerate_inputs_are_results_not_exceptions() -> None:
    empty = Proportion(0, 0)
    assert newcombe_interval(empty, Proportion(1, 2)).reason is Reason.NO_DATA
    assert wilson_interval(empty) == wilson_interval(empty)  # frozen, comparable
    assert (wilson_interval(empty).lower, wilson_interval(empty).upper) == (0.0, 1.0)
    z = two_proportion_ztest(empty, Proportion(1, 2))
    assert (z.reason, z.statistic, z.p_value) == (Reason.NO_DATA, 0.0, 1.0)
    z = two_proportion_ztest(Proportion(10, 10), Proportion(20, 20))
    assert z.reason is Reason.ZERO_VARIANCE and z.p_value == 1.0


@PROPERTY
@given(nonempty, nonempty, alphas)
def test_swapping_arms_negates_and_mirrors(a: Proportion, b: Proportion, alpha: float) -> None:
    ab, ba = newcombe_interval(a, b, alpha), newcombe_interval(b, a, alpha)
    assert ab.estimate == pytest.approx(-ba.estimate, abs=1e-12)
    assert (ab.lower, ab.upper) == pytest.approx((-ba.upper, -ba.lower), abs=1e-12)
    za, zb = two_proportion_ztest(a, b), two_proportion_ztest(b, a)
    assert za.statistic == pytest.approx(-zb.statistic, abs=1e-12)
    assert za.p_value == pytest.approx(zb.p_value, abs=1e-12)


@PROPERTY
@given(nonempty, nonempty, alphas)
def test_intervals_contain_the_estimate(a: Proportion, b: Proportion, alpha: float) -> None:
    d = newcombe_interval(a, b, alpha)
    assert d.lower <= d.estimate <= d.upper
    w = wilson_interval(a, alpha)
    assert 0.0 <= w.lower <= w.estimate <= w.upper <= 1.0


@PROPERTY
@given(nonempty, nonempty, st.integers(2, 20))
def test_intervals_shrink_as_n_grows(a: Proportion, b: Proportion, k: int) -> None:
    def scaled(p: Proportion) -> Proportion:
        return Proportion(p.successes * k, p.trials * k)

    small, large = newcombe_interval(a, b), newcombe_interval(scaled(a), scaled(b))
    assert large.upper - large.lower < small.upper - small.lower
    assert wilson_interval(scaled(a)).upper - wilson_interval(scaled(a)).lower < (
        wilson_interval(a).upper - wilson_interval(a).lower
    )


@PROPERTY
@given(
    nonempty,
    nonempty,
    st.floats(-0.5, 0.5),
    st.sampled_from(["agresti-caffo", "wald", "score"]),
    st.sampled_from(["two-sided", "larger", "smaller"]),
)
def test_p_values_lie_in_unit_interval(
    a: Proportion, b: Proportion, margin: float, method: str, alternative: str
) -> None:
    result = two_proportion_ztest(a, b, margin=margin, method=method, alternative=alternative)  # type: ignore[arg-type]
    assert 0.0 <= result.p_value <= 1.0
    assert math.isfinite(result.statistic)


def _numeric_delta_variance(mt: float, vt: float, nt: int, mc: float, vc: float, nc: int) -> float:
    """Delta method by finite differences: grad(f)ᵀ diag(vt/nt, vc/nc) grad(f), f = mt/mc − 1."""
    h = 1e-6

    def f(x: float, y: float) -> float:
        return x / y - 1.0

    dx = (f(mt + h, mc) - f(mt - h, mc)) / (2 * h)
    dy = (f(mt, mc + h) - f(mt, mc - h)) / (2 * h)
    return dx * dx * vt / nt + dy * dy * vc / nc


def test_relative_lift_matches_a_numeric_delta_method() -> None:
    t, c = Proportion(550, 1000), Proportion(1000, 2000)
    lift = relative_lift(t, c)
    assert lift.estimate == pytest.approx(0.1, abs=1e-12)
    expected = _numeric_delta_variance(0.55, 0.55 * 0.45, 1000, 0.5, 0.25, 2000)
    assert lift.se**2 == pytest.approx(expected, rel=1e-6)
    assert lift.lower < lift.estimate < lift.upper

    mt, mc = Moments.from_values([1.0, 2.0, 4.0, 7.0]), Moments.from_values([2.0, 2.5, 3.0])
    lift = relative_lift(mt, mc)
    expected = _numeric_delta_variance(mt.mean, mt.variance, 4, mc.mean, mc.variance, 3)
    assert lift.se**2 == pytest.approx(expected, rel=1e-6)


def test_relative_lift_degenerate_cases() -> None:
    assert relative_lift(Proportion(1, 5), Proportion(0, 5)).reason is Reason.ZERO_BASELINE
    assert relative_lift(Proportion(1, 5), Proportion(0, 0)).reason is Reason.NO_DATA
    assert relative_lift(Proportion(5, 5), Proportion(5, 5)).reason is Reason.ZERO_VARIANCE
    with pytest.raises(TypeError):
        relative_lift(Proportion(1, 5), Moments(0, 0.0, 0.0))


def test_relative_lift_of_proportions_never_goes_below_minus_one() -> None:
    lift = relative_lift(Proportion(1, 10), Proportion(5, 10))
    assert lift.estimate == pytest.approx(-0.8)
    assert lift.lower == -1.0 < lift.upper
