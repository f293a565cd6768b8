"""Scenario sampling (seeded, deterministic) and market-regime labels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from abgate.loadgen.client import plan_requests
from abgate.loadgen.scenarios import (
    HIGH_VOLATILITY,
    TREND,
    Regime,
    label_regimes,
    load_scenarios,
    regime_measures,
    sample_indices,
    sample_scenarios,
)
from abgate.market.windows import Samples


def window_from_closes(closes: np.ndarray, length: int = 40) -> np.ndarray:
    """A [length, 5] window whose last len(closes) closes are ``closes`` (flat before)."""
    close = np.concatenate([np.full(length - len(closes), closes[0]), closes])
    bars = np.stack([close, close * 1.01, close * 0.99, close, np.full(length, 1e6)], axis=1)
    return bars.astype(np.float32)


def trend(total: float) -> np.ndarray:
    """21 closes growing geometrically to ``1 + total`` (constant daily return: zero vol)."""
    return 100.0 * (1.0 + total) ** (np.arange(21) / 20)


def test_regimes_follow_the_documented_thresholds() -> None:
    zigzag = 100.0 * np.cumprod(np.r_[1.0, np.tile([1.04, 1 / 1.04], 10)])
    windows = np.stack(
        [
            window_from_closes(trend(0.10)),
            window_from_closes(trend(-0.10)),
            window_from_closes(trend(0.01)),
            window_from_closes(zigzag),
        ]
    )
    assert label_regimes(windows) == [
        Regime.BULL,
        Regime.BEAR,
        Regime.SIDEWAYS,
        Regime.HIGH_VOLATILITY,
    ]
    trailing, volatility = regime_measures(windows)
    assert trailing[0] == pytest.approx(0.10, rel=1e-5)
    assert volatility[0] == pytest.approx(0.0, abs=1e-3)
    # ±4% daily swings: σ = ln(1.04)·√(20/19)·√252 ≈ 0.64, far above the threshold.
    assert volatility[3] == pytest.approx(math.log(1.04) * math.sqrt(20 / 19 * 252), rel=1e-3)
    assert volatility[3] > HIGH_VOLATILITY


def test_trend_threshold_is_inclusive() -> None:
    at = window_from_closes(trend(TREND + 1e-6))
    below = window_from_closes(trend(TREND - 1e-3))
    assert label_regimes(np.stack([at, below])) == [Regime.BULL, Regime.SIDEWAYS]


def test_regime_measures_refuse_bad_windows() -> None:
    with pytest.raises(ValueError, match="windows must be"):
        regime_measures(np.ones((2, 10, 5)))
    with pytest.raises(ValueError, match="positive"):
        regime_measures(np.zeros((1, 40, 5)))


def test_sampling_is_seeded_and_without_repeats() -> None:
    a = sample_indices(946, 500, seed=42)
    assert np.array_equal(a, sample_indices(946, 500, seed=42))
    assert not np.array_equal(a, sample_indices(946, 500, seed=43))
    assert len(set(a.tolist())) == 500


def test_sampling_more_than_available_uses_every_day_before_repeating() -> None:
    index = sample_indices(10, 25, seed=0)
    counts = np.bincount(index, minlength=10)
    assert counts.min() == 2 and counts.max() == 3
    assert sorted(index[:10].tolist()) == list(range(10))
    with pytest.raises(ValueError):
        sample_indices(0, 5, seed=0)
    with pytest.raises(ValueError):
        sample_indices(5, 0, seed=0)


def test_sample_scenarios_carries_the_real_day() -> None:
    rng = np.random.default_rng(3)
    closes = 100 * np.cumprod(1 + rng.normal(0, 0.01, size=(30, 40)), axis=1)
    windows = np.stack([window_from_closes(c) for c in closes])
    samples = Samples(
        tickers=np.array(["AAPL", "MSFT"] * 15),
        dates=np.arange("2012-01-01", "2012-01-31", dtype="datetime64[D]"),
        windows=windows,
        labels=rng.integers(0, 2, 30),
        next_returns=rng.normal(0, 0.01, 30),
    )
    scenarios = sample_scenarios(samples, 12, seed=5)
    assert [s.index for s in scenarios] == sample_indices(30, 12, seed=5).tolist()
    for s in scenarios:
        assert s.ticker == samples.tickers[s.index]
        assert s.date == str(samples.dates[s.index])
        assert s.truth == samples.labels[s.index]
        assert s.next_return == samples.next_returns[s.index]
        assert np.array_equal(s.window, samples.windows[s.index])
        assert s.regime == label_regimes(samples.windows[[s.index]])[0]


def test_held_out_scenarios_from_the_registry_are_deterministic(smoke_registry: Path) -> None:
    first = load_scenarios(smoke_registry, "baseline-predictor", 50, seed=9)
    again = load_scenarios(smoke_registry, "baseline-predictor", 50, seed=9)
    assert [(s.ticker, s.date, s.truth) for s in first] == [
        (s.ticker, s.date, s.truth) for s in again
    ]
    assert {s.ticker for s in first} <= {"AAPL", "MSFT"}
    assert all(s.window.shape == (40, 5) for s in first)


def test_request_plan_is_seeded_and_cycles_scenarios(smoke_registry: Path) -> None:
    scenarios = load_scenarios(smoke_registry, "baseline-predictor", 4, seed=1)
    plan = plan_requests(scenarios, 10, accounts=3, seed=7, run_id="r")
    assert [p.account for p in plan] == [
        p.account for p in plan_requests(scenarios, 10, accounts=3, seed=7, run_id="x")
    ]
    assert {p.account for p in plan} <= {"acct-0", "acct-1", "acct-2"}
    assert [p.scenario for p in plan[:4]] == [p.scenario for p in plan[4:8]]
    assert len({p.request_id for p in plan}) == 10
    with pytest.raises(ValueError):
        plan_requests([], 3, accounts=1, seed=0, run_id="r")
