"""Daily bars of one ticker: the unit every data source produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: Column order of the ``ohlcv`` array and of the model input.
COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bars:
    """Validated daily bars for one ticker, oldest first.

    ``ohlcv`` is float64 ``[n, 5]`` in :data:`COLUMNS` order; prices are adjusted consistently
    (the source decides how, and says so in ``adjustment``).
    """

    ticker: str
    dates: npt.NDArray[np.datetime64]
    ohlcv: npt.NDArray[np.float64]
    source: str
    adjustment: str = "none"
    _digest: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ohlcv.ndim != 2 or self.ohlcv.shape[1] != len(COLUMNS):
            raise ValueError(f"ohlcv must be [n, 5], got {self.ohlcv.shape}")
        if len(self.dates) != len(self.ohlcv):
            raise ValueError("dates and ohlcv differ in length")

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def first_date(self) -> str:
        return str(self.dates[0]) if len(self) else ""

    @property
    def last_date(self) -> str:
        return str(self.dates[-1]) if len(self) else ""

    def between(self, start: str | None, end: str | None) -> Bars:
        """Bars with ``start <= date <= end`` (ISO dates, either bound optional)."""
        mask = np.ones(len(self), dtype=bool)
        if start is not None:
            mask &= self.dates >= np.datetime64(start, "D")
        if end is not None:
            mask &= self.dates <= np.datetime64(end, "D")
        return Bars(
            ticker=self.ticker,
            dates=self.dates[mask],
            ohlcv=self.ohlcv[mask],
            source=self.source,
            adjustment=self.adjustment,
        )

    def sha256(self) -> str:
        """Digest of the exact values used (ticker, dates, float64 bars), for model cards."""
        if not self._digest:
            h = hashlib.sha256()
            h.update(self.ticker.encode())
            h.update(self.dates.astype("datetime64[D]").astype(np.int64).tobytes())
            h.update(np.ascontiguousarray(self.ohlcv, dtype="<f8").tobytes())
            self._digest.append(h.hexdigest())
        return self._digest[0]
