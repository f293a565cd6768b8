import itertools

import numpy as np
import pytest

from abgate.stats import format_aa_table, simulate_aa


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return simulate_aa(2000, 20, 100, 0.05, np.random.default_rng(2024))


def test_always_valid_controls_false_positives_while_naive_peeking_does_not(result) -> None:  # type: ignore[no-untyped-def]
    alpha, se = result.alpha, result.standard_error
    assert result.always_valid_fpr[-1] <= alpha + 3 * se
    assert result.naive_fpr[-1] > 2 * alpha
    # At a single look the naive test is a valid level-α test.
    assert abs(result.naive_fpr[0] - alpha) <= 3 * se


def test_rates_are_cumulative(result) -> None:  # type: ignore[no-untyped-def]
    for rates in (result.naive_fpr, result.always_valid_fpr):
        assert len(rates) == 20
        assert all(a <= b for a, b in itertools.pairwise(rates))
    assert result.n_star == 2 * 20 * 100


def test_other_seeds_and_alphas_hold_too() -> None:
    for seed, alpha in ((1, 0.05), (2, 0.1), (3, 0.01)):
        res = simulate_aa(1000, 10, 200, alpha, np.random.default_rng(seed), p=0.3)
        assert res.always_valid_fpr[-1] <= alpha + 3 * res.standard_error
        assert res.naive_fpr[-1] > res.always_valid_fpr[-1]


def test_is_reproducible() -> None:
    a = simulate_aa(200, 5, 50, 0.05, np.random.default_rng(7))
    b = simulate_aa(200, 5, 50, 0.05, np.random.default_rng(7))
    assert a == b


def test_burn_in_blocks_early_rejections() -> None:
    res = simulate_aa(500, 10, 20, 0.2, np.random.default_rng(5), burn_in=10_000)
    assert res.always_valid_fpr == (0.0,) * 10


def test_format_table() -> None:
    res = simulate_aa(100, 3, 10, 0.05, np.random.default_rng(0))
    rows = format_aa_table(res)
    assert rows[0] == ("look", "n per arm", "naive z-test", "always-valid")
    assert [r[:2] for r in rows[1:]] == [("1", "10"), ("2", "20"), ("3", "30")]
    assert rows[-1][2] == f"{res.naive_fpr[-1]:.1%}"
    assert all(len(r) == 4 for r in rows)


@pytest.mark.parametrize(
    "args",
    [(0, 5, 10, 0.05), (10, 0, 10, 0.05), (10, 5, 0, 0.05), (10, 5, 10, 0.9)],
)
def test_caller_mistakes_raise(args: tuple[int, int, int, float]) -> None:
    with pytest.raises(ValueError):
        simulate_aa(*args, np.random.default_rng(0))
    with pytest.raises(TypeError):
        simulate_aa(10, 5, 10, 0.05, 42)  # type: ignore[arg-type]
