"""Turn bars into labelled windows and split them chronologically with an embargo.

A sample ending on day ``t`` is the window of bars ``t-W+1 .. t`` (the model input), the label
``close[t+1] > close[t]`` and the next-day return ``close[t+1] / close[t] - 1``. Splits are
chronological per ticker; between two splits ``W`` sample positions are dropped (the embargo) so
that no window or label of one split touches a bar of the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from abgate.errors import DataError
from abgate.market.bars import Bars

WINDOW = 40
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Samples:
    """A set of labelled windows, possibly from several tickers."""

    tickers: npt.NDArray[np.str_]
    dates: npt.NDArray[np.datetime64]  # the day the window ends (prediction made at its close)
    windows: npt.NDArray[np.float32]  # [n, W, 5]
    labels: npt.NDArray[np.int64]  # 1 if the next close is higher
    next_returns: npt.NDArray[np.float64]  # close[t+1] / close[t] - 1

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def concat(parts: Sequence[Samples]) -> Samples:
        return Samples(
            tickers=np.concatenate([p.tickers for p in parts]),
            dates=np.concatenate([p.dates for p in parts]),
            windows=np.concatenate([p.windows for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            next_returns=np.concatenate([p.next_returns for p in parts]),
        )

    def take(self, index: npt.NDArray[np.intp]) -> Samples:
        return Samples(
            self.tickers[index],
            self.dates[index],
            self.windows[index],
            self.labels[index],
            self.next_returns[index],
        )


@dataclass(frozen=True)
class SplitBounds:
    """Date range of each split for one ticker (window end dates), for the model card."""

    ticker: str
    ranges: dict[str, tuple[str, str]]
    counts: dict[str, int]


@dataclass(frozen=True)
class DataSplit:
    train: Samples
    val: Samples
    test: Samples
    bounds: tuple[SplitBounds, ...]
    window: int


def make_samples(bars: Bars, window: int = WINDOW) -> Samples:
    """All windows of ``bars`` that have a next-day label."""
    n = len(bars)
    count = n - window  # ends t = window-1 .. n-2
    if count <= 0:
        raise DataError(
            f"{bars.ticker}: {n} rows are too few for one window of {window} days plus a "
            f"next-day label (need at least {window + 1})",
            source=bars.source,
        )
    ends = np.arange(window - 1, n - 1)
    offsets = np.arange(-window + 1, 1)
    windows = bars.ohlcv[ends[:, None] + offsets[None, :]].astype(np.float32)
    close = bars.ohlcv[:, 3]
    next_ret = close[ends + 1] / close[ends] - 1.0
    return Samples(
        tickers=np.full(count, bars.ticker),
        dates=bars.dates[ends],
        windows=windows,
        labels=(close[ends + 1] > close[ends]).astype(np.int64),
        next_returns=next_ret,
    )


def split_samples(
    samples: Samples, fractions: tuple[float, float, float], embargo: int
) -> tuple[dict[str, npt.NDArray[np.intp]], dict[str, int]]:
    """Indices of train/val/test for one ticker's chronologically ordered samples."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    n = len(samples)
    usable = n - 2 * embargo
    sizes = [int(usable * fractions[0]), int(usable * fractions[1])]
    sizes.append(usable - sizes[0] - sizes[1])
    if min(sizes) < 1:
        raise DataError(
            f"{samples.tickers[0] if n else '?'}: {n} windows are too few to split "
            f"{fractions} with an embargo of {embargo} (need at least {2 * embargo + 3})"
        )
    a = sizes[0]
    b = a + embargo
    c = b + sizes[1]
    d = c + embargo
    idx = {
        "train": np.arange(0, a),
        "val": np.arange(b, c),
        "test": np.arange(d, n),
    }
    return idx, {k: len(v) for k, v in idx.items()}


def build_split(
    bars_list: Sequence[Bars],
    window: int = WINDOW,
    fractions: tuple[float, float, float] = (0.70, 0.15, 0.15),
) -> DataSplit:
    """Samples of every ticker, split chronologically per ticker with an embargo of ``window``."""
    parts: dict[str, list[Samples]] = {k: [] for k in SPLIT_NAMES}
    bounds = []
    for bars in bars_list:
        samples = make_samples(bars, window)
        idx, counts = split_samples(samples, fractions, embargo=window)
        ranges = {}
        for name in SPLIT_NAMES:
            part = samples.take(idx[name])
            parts[name].append(part)
            ranges[name] = (str(part.dates[0]), str(part.dates[-1]))
        bounds.append(SplitBounds(bars.ticker, ranges, counts))
    return DataSplit(
        train=Samples.concat(parts["train"]),
        val=Samples.concat(parts["val"]),
        test=Samples.concat(parts["test"]),
        bounds=tuple(bounds),
        window=window,
    )
