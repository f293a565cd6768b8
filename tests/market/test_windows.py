from __future__ import annotations

import numpy as np
import pytest

from abgate.errors import DataError
from abgate.market.bars import Bars
from abgate.market.sources import load_sample
from abgate.market.windows import build_split, make_samples


def synthetic(n: int, ticker: str = "T") -> Bars:
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    ohlcv = np.stack([close, close * 1.01, close * 0.99, close, np.full(n, 1e6)], axis=1)
    dates = np.datetime64("2020-01-01") + np.arange(n)
    return Bars(ticker, dates, ohlcv, "synthetic")


def test_windows_labels_and_returns() -> None:
    bars = synthetic(60)
    s = make_samples(bars, window=40)
    assert len(s) == 20 and s.windows.shape == (20, 40, 5)
    close = bars.ohlcv[:, 3]
    # sample 0 ends on day 39 and is labelled by day 40
    np.testing.assert_allclose(s.windows[0, -1, 3], close[39], rtol=1e-6)
    assert s.dates[0] == bars.dates[39]
    assert s.labels[0] == int(close[40] > close[39])
    assert s.next_returns[0] == pytest.approx(close[40] / close[39] - 1)
    # the last sample ends on the second-to-last day (the last day has no label)
    assert s.dates[-1] == bars.dates[-2]


def test_too_few_rows() -> None:
    with pytest.raises(DataError, match="too few for one window of 40 days"):
        make_samples(synthetic(40), window=40)
    with pytest.raises(DataError, match="too few to split"):
        build_split([synthetic(100)])


def test_embargo_keeps_splits_apart() -> None:
    """No bar used by one split (window or label day) is used by a later split."""
    split = build_split(load_sample())
    for ticker in ("AAPL", "MSFT"):
        used = {}
        for name in ("train", "val", "test"):
            part = getattr(split, name)
            ends = part.dates[part.tickers == ticker].astype("datetime64[D]")
            used[name] = (ends.min(), ends.max())
        # Window of the first val sample starts 39 trading days before its end; the last train
        # label is the trading day after the last train end. Compare on trading-day positions.
        bars = next(b for b in load_sample() if b.ticker == ticker)
        pos = {d: i for i, d in enumerate(bars.dates)}
        last_train_label = pos[used["train"][1]] + 1
        first_val_window = pos[used["val"][0]] - split.window + 1
        last_val_label = pos[used["val"][1]] + 1
        first_test_window = pos[used["test"][0]] - split.window + 1
        assert first_val_window > last_train_label
        assert first_test_window > last_val_label
    sizes = [len(split.train), len(split.val), len(split.test)]
    assert sizes[0] > 4 * sizes[2] and abs(sizes[1] - sizes[2]) <= 4
