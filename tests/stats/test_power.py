import math

import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from abgate.stats import Reason
from abgate.stats.power import cohens_h, minimum_detectable_effect, normal_power, sample_size


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize(("d", "n", "ratio"), [(0.2, 100, 1.0), (0.1, 700, 3 / 7), (0.05, 5000, 2)])
def test_power_matches_normal_ind_power(d: float, n: int, ratio: float, alternative: str) -> None:
    ref = NormalIndPower().power(d, n, 0.05, ratio=ratio, alternative=alternative)
    assert normal_power(d, n, ratio=ratio, alternative=alternative) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize(("p1", "p2"), [(0.55, 0.5), (0.1, 0.3), (0.0, 1.0)])
def test_cohens_h_matches_statsmodels(p1: float, p2: float) -> None:
    assert cohens_h(p1, p2) == pytest.approx(proportion_effectsize(p1, p2), abs=1e-12)


@pytest.mark.parametrize(
    ("p", "effect", "ratio"), [(0.5, 0.05, 1.0), (0.5, 0.02, 3 / 7), (0.2, -0.05, 2.0)]
)
def test_sample_size_matches_solve_power(p: float, effect: float, ratio: float) -> None:
    result = sample_size(p, effect, ratio=ratio)
    ref = NormalIndPower().solve_power(
        effect_size=abs(proportion_effectsize(p + effect, p)), alpha=0.05, power=0.8, ratio=ratio
    )
    # solve_power stops at its own tolerance; ours solves to ~1e-12.
    assert result.nobs_baseline == pytest.approx(ref, rel=1e-6)
    assert normal_power(result.effect_size, result.nobs_baseline, ratio=ratio) == pytest.approx(
        0.8, abs=1e-10
    )
    assert result.n_baseline == math.ceil(result.nobs_baseline)
    assert result.n_candidate == math.ceil(result.nobs_baseline * ratio)


def test_mde_matches_solve_power_and_maps_back() -> None:
    mde = minimum_detectable_effect(0.5, 700, 300)
    ref = NormalIndPower().solve_power(nobs1=700, alpha=0.05, power=0.8, ratio=300 / 700)
    # solve_power stops at a loose tolerance (~4e-6 relative here); the power check below
    # pins ours down to 1e-10.
    assert mde.effect_size == pytest.approx(ref, rel=1e-4)
    assert cohens_h(0.5 + mde.absolute, 0.5) == pytest.approx(mde.effect_size, abs=1e-12)
    assert normal_power(mde.effect_size, 700, ratio=300 / 700) == pytest.approx(0.8, abs=1e-10)
    assert mde.relative == pytest.approx(mde.absolute / 0.5)


def test_mde_and_sample_size_are_inverse() -> None:
    need = sample_size(0.5, 0.03, ratio=1.0)
    mde = minimum_detectable_effect(0.5, need.n_baseline, need.n_candidate)
    assert mde.absolute <= 0.03
    smaller = minimum_detectable_effect(0.5, need.n_baseline - 1, need.n_baseline - 1)
    assert smaller.absolute > 0.03


def test_mde_shrinks_with_n() -> None:
    small = minimum_detectable_effect(0.5, 500, 500)
    large = minimum_detectable_effect(0.5, 5000, 5000)
    assert large.absolute < small.absolute
    assert large.absolute == pytest.approx(small.absolute / math.sqrt(10), rel=0.05)


def test_mde_degenerate_cases() -> None:
    assert minimum_detectable_effect(0.5, 0, 10).reason is Reason.NO_DATA
    edge = minimum_detectable_effect(0.99, 5, 5)
    assert edge.reason is Reason.OUT_OF_RANGE and edge.absolute == pytest.approx(0.01)


def test_caller_mistakes_raise() -> None:
    with pytest.raises(ValueError):
        sample_size(0.5, 0.0)
    with pytest.raises(ValueError):
        sample_size(0.99, 0.05)
    with pytest.raises(ValueError):
        sample_size(0.5, 0.05, power=0.01)
    with pytest.raises(ValueError):
        normal_power(0.1, 0)
