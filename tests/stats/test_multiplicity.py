import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from abgate.stats.multiplicity import holm_adjust

p_lists = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12)


# multipletests costs ~50 ms a call, so this comparison draws fewer examples.
@settings(deadline=None, max_examples=25)
@given(p_lists)
def test_matches_statsmodels_holm(p_values: list[float]) -> None:
    _, ref, _, _ = multipletests(p_values, method="holm")
    assert holm_adjust(p_values) == pytest.approx(tuple(ref), abs=1e-12)


@settings(deadline=None, max_examples=200)
@given(p_lists)
def test_adjusted_values_dominate_and_keep_order(p_values: list[float]) -> None:
    adjusted = holm_adjust(p_values)
    assert all(a >= p for a, p in zip(adjusted, p_values, strict=True))
    assert all(0.0 <= a <= 1.0 for a in adjusted)
    pairs = sorted(zip(p_values, adjusted, strict=True))
    assert all(x[1] <= y[1] for x, y in itertools.pairwise(pairs))


def test_small_example_by_hand() -> None:
    # Sorted 0.01, 0.02, 0.04 -> 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04).
    assert holm_adjust([0.04, 0.01, 0.02]) == pytest.approx((0.04, 0.03, 0.04))


def test_rejects_invalid_p_values() -> None:
    with pytest.raises(ValueError):
        holm_adjust([0.5, 1.5])
