"""Parse and validate Yahoo-style CSV bars with errors that name the file and line.

Accepted header (case-insensitive, any order, extra columns ignored)::

    Date,Open,High,Low,Close[,Adj Close],Volume

A ``Ticker`` column, when present, selects rows of one ticker (the bokeh sample file has one).
When ``Adj Close`` is present, Open/High/Low/Close are scaled by ``adj_close / close`` so that
returns across splits and dividends are continuous; volume is left as traded.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from datetime import date

import numpy as np

from abgate.errors import DataError
from abgate.market.bars import Bars

_REQUIRED = ("date", "open", "high", "low", "close", "volume")


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("adjclose", "adj_close")


def parse_bars(
    lines: Iterable[str], *, source: str, ticker: str, ticker_column_filter: bool = False
) -> Bars:
    """Read bars for ``ticker`` from CSV text lines; every problem is a :class:`DataError`."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("file is empty", source=source) from None
    except csv.Error as exc:
        raise DataError(f"not a CSV file ({exc})", source=source, line=1) from exc
    cols = {_normalise(h): i for i, h in enumerate(header)}
    missing = [c for c in _REQUIRED if c not in cols]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; expected Date,Open,High,Low,Close,Volume "
            f"(found {','.join(h.strip() for h in header)})",
            source=source,
            line=1,
        )
    adj_idx = cols.get("adj_close")
    tick_idx = cols.get("ticker") if ticker_column_filter else None

    dates: list[int] = []
    rows: list[tuple[float, float, float, float, float]] = []
    line_of: list[int] = []
    prev: int | None = None
    try:
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if tick_idx is not None and row[tick_idx].strip() != ticker:
                continue
            if len(row) < len(header):
                raise DataError(
                    f"expected {len(header)} fields, found {len(row)}", source=source, line=lineno
                )
            day = _parse_date(row[cols["date"]], source, lineno)
            values = [
                _parse_number(row[cols[c]], c, source, lineno)
                for c in ("open", "high", "low", "close", "volume")
            ]
            o, h, lo, c, v = values
            if min(o, h, lo, c) <= 0:
                raise DataError(
                    f"non-positive price (open={o}, high={h}, low={lo}, close={c})",
                    source=source,
                    line=lineno,
                )
            if h < lo:
                raise DataError(f"high {h} is below low {lo}", source=source, line=lineno)
            if v < 0:
                raise DataError(f"negative volume {v}", source=source, line=lineno)
            if adj_idx is not None:
                adj = _parse_number(row[adj_idx], "adj close", source, lineno)
                if adj <= 0:
                    raise DataError(f"non-positive adj close {adj}", source=source, line=lineno)
                k = adj / c
                o, h, lo, c = o * k, h * k, lo * k, c * k
            if prev is not None and day <= prev:
                word = "duplicate" if day == prev else "decreasing"
                raise DataError(
                    f"{word} date {date.fromordinal(day)} (previous row is "
                    f"{date.fromordinal(prev)}); dates must increase strictly",
                    source=source,
                    line=lineno,
                )
            prev = day
            dates.append(day)
            rows.append((o, h, lo, c, v))
            line_of.append(lineno)
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", source=source, line=reader.line_num) from exc

    if not rows:
        what = f"no rows for ticker {ticker}" if tick_idx is not None else "no data rows"
        raise DataError(what, source=source)
    epoch = date(1970, 1, 1).toordinal()
    day_arr = (np.asarray(dates, dtype=np.int64) - epoch).astype("datetime64[D]")
    return Bars(
        ticker=ticker,
        dates=day_arr,
        ohlcv=np.asarray(rows, dtype=np.float64),
        source=source,
        adjustment="scaled by adj_close/close" if adj_idx is not None else "none",
    )


def _parse_date(text: str, source: str, line: int) -> int:
    value = text.strip()
    try:
        return date.fromisoformat(value[:10]).toordinal()
    except ValueError:
        raise DataError(
            f"unparsable date {value!r} (expected YYYY-MM-DD)", source=source, line=line
        ) from None


def _parse_number(text: str, column: str, source: str, line: int) -> float:
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{column} is not a number: {value!r}", source=source, line=line) from None
    if not math.isfinite(number):
        raise DataError(f"{column} is {value} (NaN/inf not allowed)", source=source, line=line)
    return number
