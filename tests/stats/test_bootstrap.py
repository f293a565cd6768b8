import math

import numpy as np
import pytest

from abgate.stats import Reason
from abgate.stats import bootstrap as bootstrap_module
from abgate.stats.bootstrap import bootstrap_quantiles, difference_from_draws, quantile_difference


def _pair(seed: int, n: int = 400, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.gamma(4.0, 3.0, n) + shift, rng.gamma(4.0, 3.0, n)


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    cand, base = _pair(1)
    a = quantile_difference(cand, base, q=0.95, rng=np.random.default_rng(5), n_resamples=500)
    b = quantile_difference(cand, base, q=0.95, rng=np.random.default_rng(5), n_resamples=500)
    c = quantile_difference(cand, base, q=0.95, rng=np.random.default_rng(6), n_resamples=500)
    assert a == b
    assert (a.lower, a.upper) != (c.lower, c.upper)


def test_point_estimate_is_the_sample_quantile_difference() -> None:
    cand, base = _pair(2)
    result = quantile_difference(cand, base, q=0.5, rng=np.random.default_rng(0), n_resamples=300)
    assert result.estimate == pytest.approx(np.quantile(cand, 0.5) - np.quantile(base, 0.5))
    assert result.lower <= result.estimate <= result.upper


def test_chunking_does_not_change_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    sample = np.random.default_rng(3).normal(size=250)
    whole = bootstrap_quantiles(sample, [0.5, 0.95], rng=np.random.default_rng(9), n_resamples=64)
    monkeypatch.setattr(bootstrap_module, "_MAX_CELLS", 1000)  # 4 resamples per chunk
    chunked = bootstrap_quantiles(sample, [0.5, 0.95], rng=np.random.default_rng(9), n_resamples=64)
    np.testing.assert_array_equal(whole.draws, chunked.draws)


def test_a_real_shift_is_detected_and_no_shift_is_not() -> None:
    cand, base = _pair(4, n=2000, shift=5.0)
    shifted = quantile_difference(cand, base, q=0.5, rng=np.random.default_rng(1))
    assert shifted.lower > 0.0 and shifted.lower < 5.0 < shifted.upper
    cand, base = _pair(4, n=2000)
    same = quantile_difference(cand, base, q=0.5, rng=np.random.default_rng(1))
    assert same.lower < 0.0 < same.upper


def test_interval_shrinks_with_more_data() -> None:
    widths = []
    for n in (200, 3200):
        cand, base = _pair(8, n=n)
        r = quantile_difference(cand, base, q=0.95, rng=np.random.default_rng(2), n_resamples=800)
        widths.append(r.upper - r.lower)
    assert widths[1] < widths[0] / 2


def test_percentile_interval_has_roughly_nominal_coverage() -> None:
    rng = np.random.default_rng(12345)
    reps, covered = 200, 0
    for _ in range(reps):
        cand, base = rng.normal(1.0, 1.0, 200), rng.normal(0.0, 1.0, 200)
        r = quantile_difference(cand, base, q=0.5, rng=rng, alpha=0.1, n_resamples=300)
        covered += r.lower <= 1.0 <= r.upper
    # Nominal 90%; binomial SE over 200 repetitions is about 2.1 points.
    assert 0.82 <= covered / reps <= 0.97


def test_empty_sample_is_no_data() -> None:
    result = quantile_difference([], [1.0, 2.0], q=0.5, rng=np.random.default_rng(0))
    assert result.reason is Reason.NO_DATA
    assert (result.lower, result.upper) == (-math.inf, math.inf)


def test_caller_mistakes_raise() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        bootstrap_quantiles([1.0, math.nan], [0.5], rng=rng)
    with pytest.raises(ValueError):
        bootstrap_quantiles([1.0, 2.0], [1.5], rng=rng)
    with pytest.raises(TypeError):
        bootstrap_quantiles([1.0, 2.0], [0.5], rng=np.random.RandomState(0))  # type: ignore[arg-type]
    draws = bootstrap_quantiles([1.0, 2.0], [0.5], rng=rng, n_resamples=10)
    with pytest.raises(ValueError, match="not bootstrapped"):
        difference_from_draws(draws, draws, 0.95)
