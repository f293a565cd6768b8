import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from abgate.stats import Moments, Reason, strategy_returns
from abgate.stats.means import welch

TOL = 1e-9

samples = st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=40).filter(
    lambda v: np.ptp(v) > 1e-3
)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_welch_matches_scipy(alternative: str) -> None:
    rng = np.random.default_rng(7)
    t, c = rng.normal(1.2, 2.0, 37), rng.normal(1.0, 0.7, 55)
    ours_alt = {"less": "smaller", "greater": "larger"}.get(alternative, alternative)
    ours = welch(Moments.from_values(t), Moments.from_values(c), alternative=ours_alt)
    ref = sps.ttest_ind(t, c, equal_var=False, alternative=alternative)
    assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert ours.df == pytest.approx(ref.df, abs=TOL)
    ci = ref.confidence_interval(0.95)
    for ours_bound, ref_bound in ((ours.lower, ci.low), (ours.upper, ci.high)):
        if math.isinf(ref_bound):
            assert ours_bound == ref_bound
        else:
            assert ours_bound == pytest.approx(ref_bound, abs=TOL)


def test_welch_matches_statsmodels() -> None:
    rng = np.random.default_rng(11)
    t, c = rng.exponential(2.0, 120), rng.exponential(1.5, 80)
    ours = welch(Moments.from_values(t), Moments.from_values(c), alpha=0.1)
    stat, p, df = ttest_ind(t, c, usevar="unequal")
    low, upp = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(
        alpha=0.1, usevar="unequal"
    )
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((stat, p, df), abs=TOL)
    assert (ours.lower, ours.upper) == pytest.approx((low, upp), abs=TOL)


@settings(deadline=None, max_examples=100)
@given(samples, samples)
def test_welch_properties(a: list[float], b: list[float]) -> None:
    ab = welch(Moments.from_values(a), Moments.from_values(b))
    ba = welch(Moments.from_values(b), Moments.from_values(a))
    assert ab.estimate == pytest.approx(-ba.estimate, abs=1e-9)
    assert (ab.lower, ab.upper) == pytest.approx((-ba.upper, -ba.lower), abs=1e-9)
    assert ab.lower <= ab.estimate <= ab.upper
    assert 0.0 <= ab.p_value <= 1.0


def test_welch_degenerate_inputs() -> None:
    one = Moments.from_values([1.0])
    many = Moments.from_values([1.0, 2.0, 3.0])
    constant = Moments.from_values([2.0, 2.0, 2.0])
    assert welch(Moments(0, 0.0, 0.0), many).reason is Reason.NO_DATA
    assert welch(one, many).reason is Reason.INSUFFICIENT_DATA
    result = welch(constant, constant)
    assert result.reason is Reason.ZERO_VARIANCE
    assert (result.p_value, result.lower, result.upper) == (1.0, -math.inf, math.inf)


def test_strategy_returns_follow_the_rule() -> None:
    probs = [0.9, 0.2, 0.5, 0.51]
    rets = [0.01, 0.02, -0.03, -0.01]
    moments = strategy_returns(probs, rets, cost_bps=5.0)
    expected = [0.01, -0.02, 0.03, -0.01]  # long, short, short (p == threshold), long
    expected = [r - 5e-4 for r in expected]
    assert moments.n == 4
    assert moments.mean == pytest.approx(np.mean(expected), abs=1e-15)
    assert moments.variance == pytest.approx(np.var(expected, ddof=1), abs=1e-15)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(-0.2, 0.2)), min_size=1, max_size=50))
def test_strategy_returns_match_a_loop(pairs: list[tuple[float, float]]) -> None:
    probs, rets = zip(*pairs, strict=True)
    moments = strategy_returns(np.array(probs), np.array(rets), threshold=0.55, cost_bps=2.0)
    loop = [(r if p > 0.55 else -r) - 2e-4 for p, r in pairs]
    assert moments.sum == pytest.approx(sum(loop), abs=1e-12)
    assert moments.sum_sq == pytest.approx(sum(x * x for x in loop), abs=1e-12)


@pytest.mark.parametrize(
    ("probs", "rets", "kwargs"),
    [([0.5], [0.1, 0.2], {}), ([1.5], [0.1], {}), ([0.5], [math.nan], {}),
     ([[0.5]], [[0.1]], {}), ([0.5], [0.1], {"cost_bps": -1.0})],
)  # fmt: skip
def test_strategy_returns_reject_bad_input(
    probs: object, rets: object, kwargs: dict[str, float]
) -> None:
    with pytest.raises(ValueError):
        strategy_returns(probs, rets, **kwargs)  # type: ignore[arg-type]
