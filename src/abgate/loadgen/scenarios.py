"""Scenarios: real held-out market days, sampled with a seed and labelled with a market regime.

A scenario is one window of the test split stored with every registered model (``heldout.npz``):
the 40 daily bars a model sees, the ticker and date of the last bar, the real next-day direction
(the ground truth) and the next-day return (for the strategy metric). The models never saw these
days in training or validation.

Market regime of a window, from its last 21 closes (20 daily returns):

- annualised volatility ``σ = std(daily log returns, ddof=1) · √252``;
- trailing return ``r = close[-1] / close[-21] − 1``;
- **high-volatility** when ``σ ≥ 35 %`` (checked first: in a turbulent month the trend is noise),
  else **bull** when ``r ≥ +4 %``, **bear** when ``r ≤ −4 %``, and **sideways** in between.

Why these thresholds: on the 2011-04 … 2013-02 test split of AAPL and MSFT the median σ is 23 %
and 35 % is about its 88th percentile, so "high volatility" means an unusually turbulent month for
these stocks; ±4 % lies near the quartiles of the 20-day return (−3.3 %, +5.3 %), so roughly a
quarter of the days fall in each trend bucket. They are descriptive labels for slicing accuracy,
not trading rules.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from abgate.market.windows import Samples
from abgate.registry.store import Registry

TRAILING_DAYS = 20
HIGH_VOLATILITY = 0.35
"""Annualised 20-day volatility at or above which a window is ``high-volatility``."""
TREND = 0.04
"""Absolute 20-day return at or beyond which a window is ``bull`` or ``bear``."""
TRADING_DAYS = 252


class Regime(enum.StrEnum):
    """Market regime of a window (see the module docstring for the rule)."""

    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"
    HIGH_VOLATILITY = "high-volatility"


@dataclass(frozen=True)
class Scenario:
    """One held-out market day to replay."""

    index: int
    """Position in the held-out set (stable across runs with the same registry)."""
    ticker: str
    date: str
    window: npt.NDArray[np.float32]
    """``[40, 5]`` bars: open, high, low, close, volume."""
    truth: int
    """1 if the next close is higher than this one."""
    next_return: float
    regime: Regime


def regime_measures(
    windows: npt.NDArray[np.floating],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(trailing 20-day return, annualised 20-day volatility) of each ``[n, W, 5]`` window."""
    if windows.ndim != 3 or windows.shape[1] <= TRAILING_DAYS or windows.shape[2] < 4:
        raise ValueError(f"windows must be [n, >{TRAILING_DAYS}, 5], got {windows.shape}")
    close = windows[:, -(TRAILING_DAYS + 1) :, 3].astype(np.float64)
    if (close <= 0).any():
        raise ValueError("close prices must be positive")
    trailing = close[:, -1] / close[:, 0] - 1.0
    log_returns = np.diff(np.log(close), axis=1)
    volatility = log_returns.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS)
    return trailing, volatility


def label_regimes(windows: npt.NDArray[np.floating]) -> list[Regime]:
    """The :class:`Regime` of each window."""
    trailing, volatility = regime_measures(windows)
    out = []
    for r, sigma in zip(trailing.tolist(), volatility.tolist(), strict=True):
        if sigma >= HIGH_VOLATILITY:
            out.append(Regime.HIGH_VOLATILITY)
        elif r >= TREND:
            out.append(Regime.BULL)
        elif r <= -TREND:
            out.append(Regime.BEAR)
        else:
            out.append(Regime.SIDEWAYS)
    return out


def sample_indices(available: int, n: int, seed: int) -> npt.NDArray[np.intp]:
    """``n`` positions out of ``available``, seeded; without repeats while days last.

    When ``n`` exceeds the number of days, whole shuffled passes are chained, so every day is
    used once before any day is used twice.
    """
    if available < 1:
        raise ValueError("there are no held-out days to sample")
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    rng = np.random.default_rng(seed)
    if n <= available:
        return rng.choice(available, size=n, replace=False)
    passes = [rng.permutation(available) for _ in range(math.ceil(n / available))]
    return np.concatenate(passes)[:n]


def sample_scenarios(samples: Samples, n: int, seed: int) -> list[Scenario]:
    """``n`` scenarios drawn from ``samples`` with ``seed``, in replay order."""
    index = sample_indices(len(samples), n, seed)
    regimes = label_regimes(samples.windows[index])
    return [
        Scenario(
            index=int(i),
            ticker=str(samples.tickers[i]),
            date=str(samples.dates[i]),
            window=np.ascontiguousarray(samples.windows[i], dtype=np.float32),
            truth=int(samples.labels[i]),
            next_return=float(samples.next_returns[i]),
            regime=regime,
        )
        for i, regime in zip(index.tolist(), regimes, strict=True)
    ]


def load_scenarios(registry: str | Path, model: str, n: int, seed: int) -> list[Scenario]:
    """Sample ``n`` held-out days of the latest version of ``model`` in ``registry``."""
    return sample_scenarios(Registry(registry).get(model).load_heldout(), n, seed)
