import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abgate.stats import Moments, Proportion

from .strategies import proportions

# Integer-valued floats add exactly, so associativity can be checked with ==.
int_values = st.lists(st.integers(-1000, 1000), max_size=30)


@pytest.mark.parametrize(
    ("successes", "trials", "error"),
    [(-1, 5, ValueError), (3, -1, ValueError), (6, 5, ValueError), (1.0, 5, TypeError),
     (True, 5, TypeError)],
)  # fmt: skip
def test_proportion_rejects_invalid_counts(successes: object, trials: object, error: type) -> None:
    with pytest.raises(error):
        Proportion(successes, trials)  # type: ignore[arg-type]


def test_proportion_accepts_numpy_integers_and_normalises_them() -> None:
    p = Proportion(np.int64(3), np.int32(10))  # type: ignore[arg-type]
    assert type(p.successes) is int and type(p.trials) is int
    assert p.rate == 0.3 and p.failures == 7


def test_proportion_without_trials_has_zero_rate() -> None:
    assert Proportion(0, 0).rate == 0.0


def test_proportion_from_outcomes() -> None:
    assert Proportion.from_outcomes([1, 0, 1, 1, False, True]) == Proportion(4, 6)
    with pytest.raises(ValueError, match="0/1"):
        Proportion.from_outcomes([0, 2])


@settings(deadline=None)
@given(proportions(), proportions(), proportions())
def test_proportions_add_associatively_and_commutatively(
    a: Proportion, b: Proportion, c: Proportion
) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert (a + b).trials == a.trials + b.trials


def test_adding_a_non_statistic_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Proportion(1, 2) + 1
    with pytest.raises(TypeError):
        Moments(0, 0.0, 0.0) + Proportion(1, 2)


@pytest.mark.parametrize(
    ("n", "total", "sum_sq"),
    [(-1, 0.0, 0.0), (0, 1.0, 1.0), (2, 1.0, -1.0), (2, 10.0, 1.0), (3, float("nan"), 1.0),
     (3, 1.0, float("inf"))],
)  # fmt: skip
def test_moments_reject_inconsistent_values(n: int, total: float, sum_sq: float) -> None:
    with pytest.raises(ValueError):
        Moments(n, total, sum_sq)


@settings(deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=50))
def test_moments_match_numpy(values: list[float]) -> None:
    m = Moments.from_values(values)
    assert m.n == len(values)
    assert m.mean == pytest.approx(np.mean(values), abs=1e-9)
    assert m.variance == pytest.approx(np.var(values, ddof=1), rel=1e-6, abs=1e-6)


@settings(deadline=None)
@given(int_values, int_values, int_values)
def test_moments_add_associatively(a: list[int], b: list[int], c: list[int]) -> None:
    ma, mb, mc = (Moments.from_values(np.asarray(v, dtype=float)) for v in (a, b, c))
    assert (ma + mb) + mc == ma + (mb + mc)
    assert ma + mb == Moments.from_values(np.asarray(a + b, dtype=float))


def test_moments_of_fewer_than_two_values_have_zero_variance() -> None:
    assert Moments.from_values([5.0]).variance == 0.0
    assert Moments(0, 0.0, 0.0).mean == 0.0


def test_to_dict_is_plain_json() -> None:
    assert json.loads(json.dumps(Moments(2, 3.0, 5.0).to_dict())) == {
        "n": 2,
        "sum": 3.0,
        "sum_sq": 5.0,
    }
