import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from abgate.stats import Reason
from abgate.stats.srm import srm_check


@pytest.mark.parametrize(
    ("counts", "weights"),
    [([706, 294], [70, 30]), ([5000, 5200], [1, 1]), ([330, 290, 380], [1, 1, 1]),
     ([70, 30], [0.7, 0.3])],
)  # fmt: skip
def test_matches_scipy_chisquare(counts: list[int], weights: list[float]) -> None:
    result = srm_check(counts, weights)
    total = sum(counts)
    expected = [total * w / sum(weights) for w in weights]
    ref = stats.chisquare(counts, expected)
    assert result.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    assert result.df == len(counts) - 1


def test_flags_a_broken_split() -> None:
    assert srm_check([706, 294], [70, 30]).healthy
    broken = srm_check([7300, 2700], [70, 30])
    assert not broken.healthy and broken.p_value < 0.001
    assert srm_check([7300, 2700], [70, 30], threshold=1e-12).healthy


@settings(deadline=None, max_examples=50)
@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=6), st.floats(0.1, 100))
def test_weights_are_only_relative(counts: list[int], scale: float) -> None:
    weights = [float(i + 1) for i in range(len(counts))]
    a = srm_check(counts, weights)
    b = srm_check(counts, [w * scale for w in weights])
    assert a.p_value == pytest.approx(b.p_value, rel=1e-9, abs=1e-12)
    assert 0.0 <= a.p_value <= 1.0


def test_no_assignments_is_healthy_no_data() -> None:
    result = srm_check([0, 0], [1, 1])
    assert result.healthy and result.reason is Reason.NO_DATA


@pytest.mark.parametrize(
    ("counts", "weights"),
    [([1, 2], [1]), ([1], [1]), ([1, 2], [1, 0]), ([1, -2], [1, 1]), ([1, 2], [1, float("inf")])],
)
def test_caller_mistakes_raise(counts: list[int], weights: list[float]) -> None:
    with pytest.raises(ValueError):
        srm_check(counts, weights)
