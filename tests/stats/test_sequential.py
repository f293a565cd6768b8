import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from abgate.stats import Moments, Proportion, Reason, SequentialState, sequential_path, update
from abgate.stats.sequential import halfwidth_factor, observe, rho_squared, samples_to_resolve

ALPHA, N_STAR = 0.05, 5000


def _log_lambda(estimate: float, v: float, tau2: float, theta: float) -> float:
    """The mixture likelihood ratio exactly as Johari et al. write it (no reparametrisation)."""
    return 0.5 * math.log(v / (v + tau2)) + tau2 * (estimate - theta) ** 2 / (2 * v * (v + tau2))


def test_rho_squared_formula() -> None:
    expected = (-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 5000
    assert rho_squared(0.05, 5000) == pytest.approx(expected, rel=1e-15)
    with pytest.raises(ValueError):
        rho_squared(0.05, 0)


@pytest.mark.parametrize(("estimate", "v", "n"), [(0.03, 2e-4, 4000), (-0.1, 1e-3, 300)])
def test_p_value_and_interval_invert_the_likelihood_ratio(
    estimate: float, v: float, n: int
) -> None:
    state = update(SequentialState.start(ALPHA, N_STAR), estimate, v, n)
    tau2 = rho_squared(ALPHA, N_STAR) * v * n
    assert state.p_value == pytest.approx(
        min(1.0, math.exp(-_log_lambda(estimate, v, tau2, 0.0))), rel=1e-12
    )

    # The interval ends are where Λ(θ) = 1/α, found numerically.
    def g(theta: float) -> float:
        return _log_lambda(estimate, v, tau2, theta) - math.log(1 / ALPHA)

    lower = optimize.brentq(g, estimate - 1.0, estimate, xtol=1e-15)
    upper = optimize.brentq(g, estimate, estimate + 1.0, xtol=1e-15)
    assert (state.lower, state.upper) == pytest.approx((lower, upper), abs=1e-12)


def test_interval_matches_growthbook_form() -> None:
    # GrowthBook: half-width = sqrt(s²) · sqrt(2(Nρ²+1)/(N²ρ²) · ln(sqrt(Nρ²+1)/α)), s² = v·N.
    v, n = 3e-4, 2600
    state = update(SequentialState.start(ALPHA, N_STAR), 0.0, v, n)
    rho2 = rho_squared(ALPHA, N_STAR)
    s2 = v * n
    half = math.sqrt(s2) * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / ALPHA)
    )
    assert state.upper == pytest.approx(half, rel=1e-12)
    assert state.lower == pytest.approx(-half, rel=1e-12)


def test_sequential_interval_is_wider_than_fixed_horizon() -> None:
    v = 1e-4
    state = update(SequentialState.start(ALPHA, N_STAR), 0.0, v, 5000)
    assert state.upper > 1.959963984540054 * math.sqrt(v)


looks = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 80), st.integers(0, 40), st.integers(1, 80)),
    min_size=1,
    max_size=25,
)


def _cumulative(increments: list[tuple[int, int, int, int]]) -> list[tuple[Proportion, Proportion]]:
    t, c = Proportion(0, 0), Proportion(0, 0)
    out = []
    for st_, nt, sc, nc in increments:
        t = t + Proportion(min(st_, nt), nt)
        c = c + Proportion(min(sc, nc), nc)
        out.append((t, c))
    return out


@settings(deadline=None, max_examples=100)
@given(looks, st.integers(0, 300))
def test_always_valid_p_never_increases_and_intervals_nest(
    increments: list[tuple[int, int, int, int]], burn_in: int
) -> None:
    path = sequential_path(_cumulative(increments), alpha=ALPHA, n_star=N_STAR, burn_in=burn_in)
    previous = SequentialState.start(ALPHA, N_STAR, burn_in)
    for state in path:
        assert 0.0 <= state.p_value <= previous.p_value
        assert previous.lower <= state.lower <= state.upper <= previous.upper
        if state.n < burn_in:
            assert state.reason is Reason.BURN_IN and state.looks == 0
        previous = state


def test_path_equals_folding_observe_and_can_resume() -> None:
    snapshots = _cumulative([(30, 50, 20, 50)] * 6)
    path = sequential_path(snapshots, alpha=ALPHA, n_star=N_STAR, burn_in=150)
    state = SequentialState.start(ALPHA, N_STAR, 150)
    for (t, c), expected in zip(snapshots, path, strict=True):
        state = observe(state, t, c)
        assert state == expected
    resumed = sequential_path(snapshots[3:], state=path[2])
    assert resumed == path[3:]
    assert path[0].reason is Reason.BURN_IN and path[-1].reason is Reason.OK


def test_works_on_moments() -> None:
    rng = np.random.default_rng(0)
    t, c = Moments.from_values(rng.normal(0.5, 1, 400)), Moments.from_values(rng.normal(0, 1, 400))
    (state,) = sequential_path([(t, c)], alpha=ALPHA, n_star=800)
    assert state.lower > 0 and state.significant and state.direction == 1
    (state,) = sequential_path([(Moments.from_values([1.0]), c)])
    assert state.reason is Reason.INSUFFICIENT_DATA


def test_degenerate_looks_leave_inference_unchanged() -> None:
    start = SequentialState.start(ALPHA, N_STAR)
    assert observe(start, Proportion(0, 0), Proportion(3, 9)).reason is Reason.NO_DATA
    flat = observe(start, Proportion(10, 10), Proportion(20, 20))
    assert flat.reason is Reason.ZERO_VARIANCE
    assert (flat.p_value, flat.lower, flat.upper, flat.looks) == (1.0, -math.inf, math.inf, 0)
    assert update(start, 0.0, 0.0, 0).reason is Reason.NO_DATA


def test_looks_must_be_cumulative() -> None:
    state = update(SequentialState.start(), 0.01, 1e-4, 1000)
    with pytest.raises(ValueError, match="cumulative"):
        update(state, 0.01, 1e-4, 999)
    with pytest.raises(ValueError):
        update(state, 0.01, -1.0, 2000)
    with pytest.raises(ValueError):
        update(state, math.nan, 1e-4, 2000)


def test_empty_intersection_keeps_the_previous_interval() -> None:
    first = update(SequentialState.start(), 0.5, 1e-4, 1000)
    second = update(first, -0.5, 1e-4, 1001)
    assert second.reason is Reason.EMPTY_INTERSECTION
    assert (second.lower, second.upper) == (first.lower, first.upper)
    assert second.p_value <= first.p_value


def test_direction_and_significance_agree_with_the_interval() -> None:
    state = update(SequentialState.start(), -0.05, 1e-4, 5000)
    assert state.significant and state.direction == -1 and state.upper < 0
    state = update(SequentialState.start(), 0.001, 1e-4, 5000)
    assert not state.significant and state.direction == 0


def test_samples_to_resolve_is_the_first_n_that_fits() -> None:
    s2, gap, zp = 1.0, 0.05, 0.8416212335729143
    n = samples_to_resolve(gap, s2, alpha=ALPHA, n_star=N_STAR, z_power=zp)
    assert n is not None

    def reach(m: int) -> float:
        state = update(SequentialState.start(ALPHA, N_STAR), 0.0, s2 / m, m)
        return state.upper + zp * math.sqrt(s2 / m)

    assert reach(n) <= gap < reach(n - 1)
    assert samples_to_resolve(0.0, s2, alpha=ALPHA, n_star=N_STAR) is None
    assert samples_to_resolve(1e-9, s2, alpha=ALPHA, n_star=N_STAR) is None  # beyond 10^12


def test_planned_sample_gives_the_planned_power() -> None:
    # True effect 0.02 at p = 0.5 with a 30/70 split: at the planned total the (single-look)
    # confidence sequence should exclude zero in about 80% of experiments.
    alpha, power, effect, share = 0.05, 0.8, 0.02, 0.3
    s2 = 0.25 * (1 / share + 1 / (1 - share))
    total = samples_to_resolve(effect, s2, alpha=alpha, n_star=N_STAR, z_power=0.8416212335729143)
    assert total is not None
    n_t = round(total * share)
    n_c = total - n_t
    rng = np.random.default_rng(42)
    sims = 20_000
    p_t = rng.binomial(n_t, 0.5 + effect, sims) / n_t
    p_c = rng.binomial(n_c, 0.5, sims) / n_c
    v = p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c
    x = np.full(sims, rho_squared(alpha, N_STAR) * total)
    lower = p_t - p_c - halfwidth_factor(x, alpha) * np.sqrt(v)
    assert np.mean(lower > 0) == pytest.approx(power, abs=0.02)
